//! `metricsProvider.className=...PrometheusMetricsProvider`: `GET /metrics` on
//! `metricsProvider.httpHost:httpPort` in Prometheus' text format, with ZooKeeper's metric
//! names and types (`families.rs`) written by `exposition.rs`.
//!
//! Architecture invariant: every figure is read from [`StatusSource`] when scraped; nothing
//! here runs on the request path.

mod exposition;
mod families;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::MetricsEndpoint;
use crate::status::StatusSource;

/// Prometheus' content type for the text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Scrape {
    status: Arc<StatusSource>,
    export_process: bool,
}

/// Serves `/metrics` on `listener` (bound by the node at start, so that a port in use stops
/// the start, as ZooKeeper's provider fails to boot) until `stopped` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    endpoint: MetricsEndpoint,
    status: Arc<StatusSource>,
    mut stopped: watch::Receiver<bool>,
) {
    let scrape = Arc::new(Scrape {
        status,
        export_process: endpoint.export_jvm_info,
    });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(scrape);
    let stop = async move {
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::warn!(%err, "metrics endpoint stopped");
    }
}

async fn metrics(State(scrape): State<Arc<Scrape>>) -> impl IntoResponse {
    let page = families::render(&scrape.status, scrape.export_process);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], page)
}
