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
    #[error("storage: {0}")]
    Storage(String),
}

/// Subdirectory of `dataLogDir` holding the raft log (our write-ahead log).
pub const LOG_DIR_NAME: &str = "corral-log";
/// Default of `corral.logCacheBytes`: encoded bytes of recent log entries kept in memory.
/// Entries are applied (and, in an ensemble, replicated) right after they are appended, so a
/// small window serves almost every read: 2 MiB is about 14k entries of a 100-byte setData, a
/// fifth of a second of writes at full speed on this project's test machine. Decoded entries
/// take two to three times their encoded size (8 MiB cost about 20 MB), which a 1M-znode tree
/// of about 200 MB notices.
pub const LOG_CACHE_BYTES_DEFAULT: u64 = 2 * 1024 * 1024;

/// Subdirectory of `dataDir` holding tree snapshots.
pub const SNAPSHOT_DIR_NAME: &str = "corral-snapshots";

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
            txn: Arc::new(txn),
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
        let entry = LogEntry {
            origin: None,
            txn: Arc::new(txn),
        };
        self.raft.client_write_ff(entry, None).await.is_ok()
    }
}

/// How often [`RunningServer::fatal_error`] looks at the raft node's state.
const FATAL_ERROR_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

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

    /// Resolves when the raft node has stopped on a fatal error (for example a failed fsync:
    /// the log store is poisoned and will acknowledge nothing more). The server cannot accept
    /// writes after that; the binary exits so that a supervisor restarts it, and recovery
    /// truncates whatever was not durable.
    ///
    /// Polled rather than awaited on the metrics channel: openraft publishes metrics after
    /// every applied batch, and waking this task thousands of times a second under load cost
    /// a few percent of the server's CPU for a state that changes once in a process's life.
    pub async fn fatal_error(&self) -> String {
        use openraft::async_runtime::watch::WatchReceiver;
        let metrics = self.ctx.raft.metrics();
        let mut poll = tokio::time::interval(FATAL_ERROR_POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            poll.tick().await;
            if let Err(fatal) = &metrics.borrow_watched().running_state {
                return fatal.to_string();
            }
        }
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

/// Entries between snapshots: like ZooKeeper, a random count in [snapCount/2 + 1, snapCount]
/// (drawn once per start) so the servers of an ensemble do not all snapshot at once.
fn snapshot_interval(snap_count: u64) -> u64 {
    use rand::Rng;
    let half = (snap_count / 2).max(1);
    rand::thread_rng().gen_range(half + 1..=snap_count.max(half + 1))
}

fn raft_config(server: &ServerConfig) -> Result<openraft::Config, ServerError> {
    let config = openraft::Config {
        cluster_name: "corral".to_owned(),
        heartbeat_interval: 250,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_interval(server.snap_count)),
        // Keep the log back to the previous snapshot, so that if the newest snapshot file is
        // ever damaged the server can start from the previous one plus the log.
        max_in_snapshot_log_to_keep: server.snap_count,
        purge_batch_size: 256,
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
    let raft_config = raft_config(&config)?;
    let (mut log_store, snapshots) = open_storage(&config)?;
    let retain_count = config.autopurge_snap_retain_count as usize;
    let core = Arc::new(Core::new(config));
    let state_machine = StateMachine::open(core.clone(), snapshots, retain_count)
        .map_err(|e| ServerError::Storage(e.to_string()))?;
    check_log_covers_snapshot(&mut log_store, state_machine.restored_index()).await?;
    let raft = Raft::new(
        server_id,
        Arc::new(raft_config),
        NoPeers,
        log_store,
        state_machine,
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
    let metrics = raft
        .wait(Some(Duration::from_secs(30)))
        .state(ServerState::Leader, "standalone server becomes leader")
        .await
        .map_err(|e| ServerError::Raft(e.to_string()))?;
    // Replay the log after the snapshot before serving, so no client sees a state older than
    // one it was shown before the restart.
    raft.wait(Some(Duration::from_secs(300)))
        .applied_index_at_least(metrics.last_log_index, "log replayed")
        .await
        .map_err(|e| ServerError::Raft(e.to_string()))?;
    crate::memory::release_free_memory();
    // Sessions recovered from the log get a fresh timer, as after a ZooKeeper leader change.
    for (session_id, info) in core.tree.read().sessions() {
        core.sessions.add(session_id, info.timeout_ms);
    }
    let ctx = Context { core, raft };
    let (stop, stopped) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(accept_loop(listener, ctx.clone(), stopped.clone())),
        tokio::spawn(expiry_loop(ctx.clone(), stopped.clone())),
        tokio::spawn(crate::memory::trim_when_idle(
            ctx.core.clone(),
            stopped.clone(),
        )),
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

type LogStore = corral_storage::LogStore<crate::raft::types::TypeConfig>;

/// Opens the log (in `dataLogDir`) and the snapshot store (in `dataDir`), refusing a directory
/// that holds Apache ZooKeeper's own data, which Corral cannot read.
fn open_storage(
    config: &ServerConfig,
) -> Result<(LogStore, Arc<corral_storage::snapshot::SnapshotStore>), ServerError> {
    for dir in [&config.data_dir, &config.data_log_dir] {
        refuse_zookeeper_data(dir)?;
    }
    let mut log_config =
        corral_storage::LogStoreConfig::new(config.data_log_dir.join(LOG_DIR_NAME));
    log_config.force_sync = config.force_sync;
    log_config.prealloc_bytes = config.pre_alloc_bytes.max(4096);
    log_config.segment_bytes_max = config.log_segment_bytes;
    log_config.cache_bytes_max = config.log_cache_bytes;
    let log_store = LogStore::open(log_config).map_err(|e| ServerError::Storage(e.to_string()))?;
    let snapshots =
        corral_storage::snapshot::SnapshotStore::open(config.data_dir.join(SNAPSHOT_DIR_NAME))
            .map_err(|e| ServerError::Storage(e.to_string()))?;
    Ok((log_store, Arc::new(snapshots)))
}

fn refuse_zookeeper_data(dir: &std::path::Path) -> Result<(), ServerError> {
    let zk_dir = dir.join("version-2");
    let has_files = std::fs::read_dir(&zk_dir)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    if has_files {
        return Err(ServerError::Storage(format!(
            "{} holds Apache ZooKeeper data (snapshot.*/log.* files); Corral keeps its own \
             format and cannot read it: give Corral an empty dataDir",
            zk_dir.display()
        )));
    }
    Ok(())
}

/// The tree starts from a snapshot at `restored_index` and the log must continue right after it;
/// if the log was purged beyond that point (the newest snapshot was unusable and the previous
/// one is too old), acknowledged writes would be missing: refuse to start.
async fn check_log_covers_snapshot(
    log_store: &mut LogStore,
    restored_index: u64,
) -> Result<(), ServerError> {
    use openraft::storage::RaftLogStorage;
    let state = log_store
        .get_log_state()
        .await
        .map_err(|e| ServerError::Storage(e.to_string()))?;
    let purged = state.last_purged_log_id.map_or(0, |id| id.index);
    if purged > restored_index {
        return Err(ServerError::Storage(format!(
            "the log starts after index {purged} but the newest usable snapshot ends at index \
             {restored_index}: entries in between are missing; refusing to start"
        )));
    }
    Ok(())
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
