//! ZooKeeper's AdminServer over HTTP: `GET <admin.commandURL>/<command>` (POST for `restore`)
//! answers JSON with ZooKeeper 3.9's command names, aliases and snake_case fields, plus the
//! `command` and `error` fields of its `CommandResponse`; `<admin.commandURL>` lists the
//! commands as links.
//!
//! - `table.rs`: every command, its aliases and flags; `run.rs`: ZooKeeper's order of checks
//!   (unknown, not serving, authorization) before a command runs;
//! - `handlers.rs`, `ensemble.rs`, `snapshot.rs`: the commands; `access.rs`: the
//!   `Authorization` header; `response.rs`: the JSON; `idle.rs`: `admin.idleTimeout`;
//!   `http.rs`: the routes.
//!
//! Architecture invariant: the admin server reads the server only through [`StatusSource`]
//! (and the trace mask the 4lw share); it runs as a task of the node and stops with it.

mod access;
mod ensemble;
mod handlers;
mod http;
mod idle;
mod response;
mod run;
mod snapshot;
mod table;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::slices::AuthSettings;
use crate::config::AdminSettings;
use crate::status::StatusSource;

/// What the commands read.
pub(crate) struct AdminContext {
    pub(crate) status: Arc<StatusSource>,
    pub(crate) settings: AdminSettings,
    /// How the `Authorization` header's identities are derived (the server's auth providers).
    pub(crate) auth: AuthSettings,
    /// The configuration file as read at start (`initial_configuration`).
    pub(crate) initial_config: String,
    snapshot_limiter: snapshot::RateLimiter,
    restore_limiter: snapshot::RateLimiter,
}

impl AdminContext {
    pub(crate) fn new(
        status: Arc<StatusSource>,
        settings: AdminSettings,
        auth: AuthSettings,
        initial_config: String,
    ) -> AdminContext {
        AdminContext {
            status,
            settings,
            auth,
            initial_config,
            snapshot_limiter: snapshot::RateLimiter::default(),
            restore_limiter: snapshot::RateLimiter::default(),
        }
    }
}

/// Serves the commands on `listener` (bound to `admin.serverAddress:admin.serverPort` by the
/// node before anything else starts, so that a port in use stops the start) until `stopped`
/// turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    context: AdminContext,
    mut stopped: watch::Receiver<bool>,
) {
    let idle_timeout = Duration::from_millis(context.settings.idle_timeout_ms.max(1));
    let listener = idle::IdleListener {
        inner: listener,
        idle_timeout,
    };
    let app = http::router(Arc::new(context)).into_make_service_with_connect_info::<idle::Caller>();
    let stop = async move {
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::warn!(%err, "admin server stopped");
    }
}
