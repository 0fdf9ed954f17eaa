//! Starting and stopping a server: the raft node (a one-voter cluster for a standalone server),
//! the client listener, and the background loops that expire sessions and reap containers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use corral_tree::{Txn, TxnKind};

use crate::config::ServerConfig;
use crate::connection::handle::ConnectionHandle;
use crate::connection::{self, Closed};
use crate::core::{wall_clock_ms, Core};
use crate::raft::mem_log::MemLogStore;
use crate::raft::network::NoPeers;
use crate::raft::state_machine::StateMachine;
use crate::raft::types::{LogEntry, Origin, Raft};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("raft: {0}")]
    Raft(String),
}

/// What every connection task needs.
#[derive(Clone)]
pub struct Context {
    pub core: Arc<Core>,
    pub raft: Raft,
}

impl Context {
    /// Submits a txn from a connection to the log; the state machine answers it.
    pub async fn submit(&self, handle: &ConnectionHandle, txn: Txn) -> Result<(), Closed> {
        let entry = LogEntry {
            origin: Some(Origin {
                server_id: self.core.server_id,
                connection_id: handle.id,
            }),
            txn,
        };
        handle.write_submitted();
        if let Err(err) = self.raft.client_write_ff(entry, None).await {
            handle.write_answered();
            tracing::error!(%err, "the log refused a write; closing the connection");
            return Err(Closed::Server("log unavailable"));
        }
        Ok(())
    }

    /// Submits a server-internal txn (expiry, reaping) that no client waits for.
    async fn submit_internal(&self, txn: Txn) -> bool {
        let entry = LogEntry { origin: None, txn };
        self.raft.client_write_ff(entry, None).await.is_ok()
    }
}

/// A running server; dropping it does not stop it, call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub local_addr: SocketAddr,
    ctx: Context,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
        for conn in self.ctx.core.connections.all() {
            conn.close();
        }
        let _ = self.ctx.raft.shutdown().await;
    }
}

fn raft_config() -> Result<openraft::Config, ServerError> {
    let config = openraft::Config {
        cluster_name: "corral".to_owned(),
        heartbeat_interval: 250,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        snapshot_policy: SnapshotPolicy::Never,
        max_payload_entries: 4096,
        ..Default::default()
    };
    config
        .validate()
        .map_err(|e| ServerError::Raft(e.to_string()))
}

pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    for dir in [&config.data_dir, &config.data_log_dir] {
        std::fs::create_dir_all(dir).map_err(|source| ServerError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let listener = TcpListener::bind(config.client_addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.client_addr,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.client_addr,
        source,
    })?;
    let server_id = config.server_id;
    let core = Arc::new(Core::new(config));
    let raft = Raft::new(
        server_id,
        Arc::new(raft_config()?),
        NoPeers,
        MemLogStore::default(),
        StateMachine::new(core.clone()),
    )
    .await
    .map_err(|e| ServerError::Raft(e.to_string()))?;
    if !raft
        .is_initialized()
        .await
        .map_err(|e| ServerError::Raft(e.to_string()))?
    {
        let members = BTreeMap::from([(server_id, BasicNode::new(local_addr.to_string()))]);
        raft.initialize(members)
            .await
            .map_err(|e| ServerError::Raft(e.to_string()))?;
    }
    raft.wait(Some(Duration::from_secs(30)))
        .state(ServerState::Leader, "standalone server becomes leader")
        .await
        .map_err(|e| ServerError::Raft(e.to_string()))?;
    // Sessions recovered from the log get a fresh timer, as after a ZooKeeper leader change.
    for (session_id, info) in core.tree.read().sessions() {
        core.sessions.add(session_id, info.timeout_ms);
    }
    let ctx = Context { core, raft };
    let (stop, stopped) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(accept_loop(listener, ctx.clone(), stopped.clone())),
        tokio::spawn(expiry_loop(ctx.clone(), stopped.clone())),
        tokio::spawn(reaper_loop(ctx.clone(), stopped)),
    ];
    tracing::info!(%local_addr, server_id, "serving clients");
    Ok(RunningServer {
        local_addr,
        ctx,
        stop,
        tasks,
    })
}

async fn accept_loop(listener: TcpListener, ctx: Context, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection::serve(stream, peer, ctx.clone()));
                }
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Every tick, closes the sessions whose deadline passed (a replicated CloseSession txn).
async fn expiry_loop(ctx: Context, mut stopped: watch::Receiver<bool>) {
    let tick = Duration::from_millis(u64::from(ctx.core.config.tick_time_ms));
    let mut interval = tokio::time::interval(tick);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = interval.tick() => {}
        }
        for session_id in ctx.core.sessions.take_expired() {
            tracing::info!(
                session = format_args!("0x{session_id:x}"),
                "session expired"
            );
            let txn = Txn {
                session_id,
                cxid: 0,
                time_ms: wall_clock_ms(),
                kind: TxnKind::CloseSession { expired: true },
            };
            if !ctx.submit_internal(txn).await {
                return;
            }
        }
    }
}

/// Deletes empty containers and expired TTL nodes on ZooKeeper's schedule
/// (`znode.container.checkIntervalMs`, at most `znode.container.maxPerMinute`).
async fn reaper_loop(ctx: Context, mut stopped: watch::Receiver<bool>) {
    let config = &ctx.core.config;
    let interval_ms = config.container_check_interval_ms;
    let per_minute = u64::from(config.container_max_per_minute.max(1));
    let spacing = Duration::from_millis(60_000 / per_minute);
    let max_never_used_ms = config.container_max_never_used_interval_ms;
    let mut interval = tokio::time::interval(Duration::from_millis(interval_ms));
    interval.tick().await;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = interval.tick() => {}
        }
        let limit = usize::try_from(per_minute).unwrap_or(usize::MAX);
        let candidates =
            ctx.core
                .tree
                .read()
                .reap_candidates(wall_clock_ms(), max_never_used_ms, limit);
        for path in candidates {
            let txn = Txn {
                session_id: 0,
                cxid: 0,
                time_ms: wall_clock_ms(),
                kind: TxnKind::DeleteContainer { path },
            };
            if !ctx.submit_internal(txn).await {
                return;
            }
            tokio::time::sleep(spacing).await;
        }
    }
}
