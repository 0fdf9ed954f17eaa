//! The composition root: the one module that names every part of the server. It opens the
//! storage, restores the tree, builds the raft node, hands each part the narrow handles it
//! uses, and spawns every long-lived task on one [`TaskTracker`], so that
//! [`Node::shutdown`] can wait for all of them — connection tasks included.
//!
//! A [`Node`] runs against an [`Environment`]: the real clock and file system in production;
//! a virtual clock, an in-memory file system and no TCP client port in tests, which then
//! connect clients through [`Node::connect`].
//!
//! Architecture invariant: only `lib.rs` imports this module.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use corral_entry::TypeConfig;
use corral_peer::memory::{MemoryEndpoint, MemoryNet};
use corral_storage::layout::{LOG_DIR_NAME, SNAPSHOT_DIR_NAME, ZOOKEEPER_DATA_DIR_NAME};
use corral_storage::snapshot::SnapshotStore;
use corral_storage::vfs::{OsVfs, Vfs};
use corral_storage::{LogStore, LogStoreConfig, WriterMode};
use corral_tree::DataTree;
use openraft::{BasicNode, ServerState};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::admin::{self, AdminContext};
use crate::clients::ConnectionRegistry as Registry;
use crate::clients::{ConnectionIds, ConnectionRegistry, LocalEffects, WriteGate};
use crate::clock::{Clock, SystemClock};
use crate::cluster::forwarder::{Forwarder, LinkTo};
use crate::cluster::inbound::ClusterInbound;
use crate::cluster::owners::SessionOwners;
use crate::config::slices::StorageSettings;
use crate::config::EnsembleConfig;
use crate::config::ServerConfig;
use crate::connection::{self, ClientServices};
use crate::identity::{self, Deployment, IdentityError};
use crate::leader::LeaderDuties;
use crate::metrics::{Counters, DurationSummary};
use crate::prometheus;
use crate::proposer::{Proposer, Route};
use crate::raft::leader_watch::{LeaderContact, LeaderProbe, LeaderWatch};
use crate::raft::membership;
use crate::raft::network::{ConfiguredPeers, NoPeers};
use crate::raft::peer_link::{RaftInbound, SnapshotFiles};
use crate::raft::raft_config::{self, RaftConfigError, RaftTimeouts, STANDALONE_TIMEOUTS};
use crate::raft::role::{current_role, follow_role, Role, RoleState};
use crate::raft::state_machine::{ApplyObserver, StateMachine, StateMachineOptions};
use crate::raft::{Consensus, LostWrite, Raft};
use crate::replica::Replica;
use crate::sessions::Sessions as SessionsTable;
use crate::sessions::{SessionIdAllocator, Sessions};
use crate::status::quorum::MemberFacts;
use crate::status::{ConfFacts, StatusSource};

/// How long a standalone server waits to become the leader of its one-voter cluster.
const LEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long start-up may take to replay the log after the snapshot.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(300);
/// After a failed `accept` (out of file descriptors, say), wait this long before the next.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
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
    #[error(
        "{dir} holds Apache ZooKeeper data (snapshot.*/log.* files); Corral keeps its own \
         format and cannot read it: give Corral an empty dataDir"
    )]
    ZooKeeperData { dir: String },
    #[error("storage: {0}")]
    Storage(#[from] corral_storage::Error),
    #[error("cannot restore the tree: {0}")]
    Restore(std::io::Error),
    #[error("cannot read the log's state: {0}")]
    LogState(std::io::Error),
    #[error(
        "the log starts after index {purged} but the newest usable snapshot ends at index \
         {restored}: entries in between are missing; refusing to start"
    )]
    LogBehindSnapshot { purged: u64, restored: u64 },
    /// ZooKeeper's standalone server stops when its AdminServer cannot start (an ensemble
    /// member only warns).
    #[error(
        "Problem starting AdminServer on address {addr} and command URL {command_url}: {source} \
         (set admin.serverPort, or admin.enableServer=false)"
    )]
    AdminBind {
        addr: SocketAddr,
        command_url: String,
        source: std::io::Error,
    },
    /// ZooKeeper does not start when its metrics provider cannot.
    #[error(
        "Cannot start the /metrics endpoint of the Prometheus metrics provider on {addr}: {source}"
    )]
    MetricsBind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen for peers on {addr}: {source}")]
    QuorumBind {
        addr: String,
        source: std::io::Error,
    },
    /// The data directory belongs to another deployment (see `identity.rs`).
    #[error("{0}")]
    Deployment(String),
    #[error(transparent)]
    RaftConfig(#[from] RaftConfigError),
    #[error("raft ({stage}): {message}")]
    Raft {
        stage: &'static str,
        message: String,
    },
}

fn raft_error(stage: &'static str) -> impl FnOnce(String) -> NodeError {
    move |message| NodeError::Raft { stage, message }
}

/// Where a server gets its time, files and randomness, and whether it listens for clients.
pub struct Environment {
    pub clock: Arc<dyn Clock>,
    pub vfs: Arc<dyn Vfs>,
    /// Seeds session passwords and the snapshot interval; `None` = from the OS.
    pub seed: Option<u64>,
    /// Listen on the configured client address; without it clients connect through
    /// [`Node::connect`].
    pub listen_for_clients: bool,
    /// Who writes the log: a dedicated thread (group commit; production), or the calling task
    /// (on a virtual clock, where a thread would let time jump while it works). Inline also
    /// writes snapshot files on the task that builds them and never trims the heap from a
    /// blocking thread: nothing of the server then runs off the runtime's thread.
    pub log_writer: WriterMode,
    /// How an ensemble member reaches its peers (ignored by a standalone server).
    pub peers: PeerFabric,
    /// Told of every entry this server applies (a simulation's record); `None` in production.
    pub apply_observer: Option<Arc<dyn ApplyObserver>>,
}

/// How an ensemble member talks to the others.
#[derive(Clone, Default)]
pub enum PeerFabric {
    /// The quorum port and TCP connections to the configured addresses (production).
    #[default]
    Tcp,
    /// A simulated network in this process: the server attaches to it as its id instead of
    /// listening, and reaches the others through it.
    Memory(MemoryNet<TypeConfig>),
}

impl Environment {
    /// The real clock and file system, listening on the configured client port.
    pub fn production() -> Environment {
        Environment {
            clock: Arc::new(SystemClock::new()),
            vfs: OsVfs::shared(),
            seed: None,
            listen_for_clients: true,
            log_writer: WriterMode::Thread,
            peers: PeerFabric::Tcp,
            apply_observer: None,
        }
    }
}

/// A running server; dropping it does not stop it, call [`Node::shutdown`].
pub struct Node {
    local_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    services: Arc<ClientServices>,
    consensus: Consensus,
    role: watch::Receiver<RoleState>,
    tasks: TaskTracker,
    stop: watch::Sender<bool>,
}

/// Starts a server with the real clock and file system.
pub async fn start(config: ServerConfig) -> Result<Node, NodeError> {
    start_in(config, Environment::production()).await
}

/// Starts a server in `env`.
pub async fn start_in(config: ServerConfig, env: Environment) -> Result<Node, NodeError> {
    let storage = config.storage_settings();
    for dir in [&storage.data_dir, &storage.data_log_dir] {
        env.vfs
            .create_dir_all(dir)
            .map_err(|source| NodeError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
    }
    let listener = match env.listen_for_clients {
        true => Some(bind(config.client_addr).await?),
        false => None,
    };
    let local_addr = match &listener {
        Some(l) => Some(l.local_addr().map_err(|source| NodeError::Bind {
            addr: config.client_addr,
            source,
        })?),
        None => None,
    };
    // The operator's HTTP endpoints bind before anything starts, as ZooKeeper starts them
    // before its client port; only with a client listener (not in-process runs).
    let admin_listener = match env.listen_for_clients && config.admin.enabled {
        true => bind_admin(&config).await?,
        false => None,
    };
    let metrics_listener = match (&config.metrics_endpoint, env.listen_for_clients) {
        (Some(endpoint), true) => {
            Some(TcpListener::bind(endpoint.addr).await.map_err(|source| {
                NodeError::MetricsBind {
                    addr: endpoint.addr,
                    source,
                }
            })?)
        }
        _ => None,
    };
    let mut random = match env.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_entropy(),
    };
    let server_id = config.server_id;
    let timeouts = match &config.ensemble {
        Some(ensemble) => RaftTimeouts::ensemble(&ensemble.timeouts),
        None => STANDALONE_TIMEOUTS,
    };
    let raft_settings = raft_config::build(
        timeouts,
        raft_config::snapshot_interval(storage.snap_count, random.next_u64()),
        storage.snap_count,
    )?;
    let deployment = match &config.ensemble {
        Some(ensemble) => Deployment::Ensemble(ensemble.ensemble_id.clone()),
        None => Deployment::Standalone,
    };
    for dir in [&storage.data_dir, &storage.data_log_dir] {
        refuse_zookeeper_data(&*env.vfs, dir)?;
    }
    identity::check_or_record(
        &*env.vfs,
        &storage.data_dir,
        &storage.data_log_dir,
        &deployment,
    )
    .map_err(|e: IdentityError| NodeError::Deployment(e.to_string()))?;
    let (mut log_store, snapshots) = open_storage(&storage, &env.vfs, env.log_writer)?;
    let proposal_sizes = log_store.append_sizes();
    let fsync_times = log_store.fsync_times();
    let snapshot_times = Arc::new(DurationSummary::default());
    let snapshot_files = snapshots.clone();

    let clock = env.clock.clone();
    let counters = Arc::new(Counters::default());
    let registry = Arc::new(ConnectionRegistry::default());
    let tick_ms = u64::from(config.tick_time_ms);
    let sessions = Arc::new(Sessions::new(
        tick_ms,
        clock.clone(),
        config.ensemble.is_some(),
    ));
    let replica = Arc::new(Replica::new(
        server_id,
        DataTree::with_providers(config.tree_config(), config.auth_providers()),
    ));
    let effects = Arc::new(LocalEffects {
        registry: registry.clone(),
        sessions: sessions.clone(),
        counters: counters.clone(),
    });
    let inline = env.log_writer == WriterMode::Inline;
    let state_machine = StateMachine::open(
        replica.clone(),
        effects,
        snapshots.clone(),
        StateMachineOptions {
            providers: config.auth_providers(),
            retain_count: storage.snap_retain_count as usize,
            inline_snapshots: inline,
            observer: env.apply_observer.clone(),
            snapshot_times: snapshot_times.clone(),
        },
    )
    .map_err(NodeError::Restore)?;
    check_log_covers_snapshot(&mut log_store, state_machine.restored_index()).await?;
    let (stop, stopped) = watch::channel(false);
    let (role_tx, role) = watch::channel(RoleState::LOOKING);
    let tasks = TaskTracker::new();
    let raft_settings = Arc::new(raft_settings);
    let (raft, route, consensus) = match &config.ensemble {
        None => {
            let raft = Raft::new(server_id, raft_settings, NoPeers, log_store, state_machine)
                .await
                .map_err(|e| raft_error("start")(e.to_string()))?;
            lead_standalone(&raft, server_id, local_addr).await?;
            role_tx.send_replace(current_role(&raft, server_id));
            let consensus = Consensus::new(raft.clone());
            (raft, Route::Standalone, consensus)
        }
        Some(ensemble) => {
            let parts = EnsembleParts {
                ensemble,
                settings: raft_settings,
                snapshots,
                sessions: sessions.clone(),
                clock: clock.clone(),
                registry: registry.clone(),
                peers: env.peers.clone(),
                role: role.clone(),
                tasks: &tasks,
                stopped: &stopped,
            };
            start_ensemble(parts, log_store, state_machine).await?
        }
    };
    crate::memory::release_free_memory();
    // Sessions recovered from the snapshot and the log get a fresh timer, as after a
    // ZooKeeper leader change; before any client can re-attach.
    sessions.restart_all(
        replica
            .tree()
            .sessions()
            .into_iter()
            .map(|(id, info)| (id, info.timeout_ms)),
    );

    let forwarder = match &route {
        Route::Ensemble { forwarder, .. } => Some(forwarder.clone()),
        Route::Standalone => None,
    };
    let proposer = Arc::new(Proposer::new(
        server_id,
        consensus.clone(),
        clock.clone(),
        route,
    ));
    let gate = Arc::new(WriteGate::new(config.global_outstanding_limit));
    let leading_since_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let status = Arc::new(StatusSource {
        replica: replica.clone(),
        registry: registry.clone(),
        sessions: sessions.clone(),
        counters: counters.clone(),
        gate: gate.clone(),
        consensus: consensus.clone(),
        role: role.clone(),
        clock: clock.clone(),
        started_ms: clock.monotonic_ms(),
        conf: conf_facts(&config, local_addr),
        leading_since_ms: leading_since_ms.clone(),
        proposal_sizes: proposal_sizes.clone(),
        snapshots: snapshot_files,
        fsync_times,
        snapshot_times,
    });
    let services = Arc::new(ClientServices {
        replica: replica.clone(),
        proposer: proposer.clone(),
        registry,
        sessions: sessions.clone(),
        session_ids: SessionIdAllocator::new(server_id, clock.wall_ms().max(0) as u64),
        connection_ids: ConnectionIds::new(clock.wall_ms()),
        status,
        four_letter: config.four_letter_settings(),
        limits: config.connection_limits(),
        auth: config.auth_settings(),
        counters,
        gate,
        clock: clock.clone(),
        reconfig_enabled: config.reconfig_enabled,
        linearizable_reads: config.linearizable_reads,
        role: role.clone(),
        passwords: Mutex::new(StdRng::seed_from_u64(random.next_u64())),
    });
    let sessions_for_touch = sessions.clone();
    let duties = LeaderDuties {
        proposer,
        sessions,
        replica: replica.clone(),
        clock,
        tick: Duration::from_millis(tick_ms),
        reaper: config.reaper_schedule(),
        leading_since_ms,
        proposal_sizes,
    };

    if let Some(forwarder) = forwarder {
        tasks.spawn(drop_clients_on_leader_loss(
            role.clone(),
            forwarder.broken(),
            services.registry.clone(),
            stopped.clone(),
        ));
        tasks.spawn(touch_sessions_at_leader(
            forwarder,
            sessions_for_touch.clone(),
            role.clone(),
            Duration::from_millis(tick_ms / 2).max(Duration::from_millis(1)),
            stopped.clone(),
        ));
    }
    let lease = config.ensemble.as_ref().map(|e| {
        Duration::from_millis(e.timeouts.election_timeout_max_ms + e.timeouts.heartbeat_interval_ms)
    });
    tasks.spawn(follow_role(
        raft,
        server_id,
        lease,
        role_tx,
        stopped.clone(),
    ));
    tasks.spawn(duties.run(role.clone(), stopped.clone()));
    if !inline {
        tasks.spawn(crate::memory::trim_when_idle(
            move || replica.applied(),
            stopped.clone(),
        ));
    }
    let admin_addr = admin_listener.as_ref().and_then(|l| l.local_addr().ok());
    if let Some(listener) = admin_listener {
        let context = AdminContext::new(
            services.status.clone(),
            config.admin.clone(),
            config.auth_settings(),
            config.initial_config_text.clone(),
        );
        tasks.spawn(admin::serve(listener, context, stopped.clone()));
        tracing::info!(addr = ?admin_addr, url = %config.admin.command_url, "AdminServer started");
    }
    let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
    if let (Some(listener), Some(endpoint)) = (metrics_listener, &config.metrics_endpoint) {
        tasks.spawn(prometheus::serve(
            listener,
            endpoint.clone(),
            services.status.clone(),
            stopped.clone(),
        ));
        tracing::info!(addr = ?metrics_addr, "serving /metrics");
    }
    if let Some(listener) = listener {
        tasks.spawn(accept_loop(
            listener,
            services.clone(),
            tasks.clone(),
            stopped,
        ));
    }
    tracing::info!(addr = ?local_addr, server_id, "serving clients");
    Ok(Node {
        local_addr,
        admin_addr,
        metrics_addr,
        services,
        consensus,
        role,
        tasks,
        stop,
    })
}

impl Node {
    /// The client address this server listens on (`None` without a client listener).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The AdminServer's address, when it runs.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The `/metrics` endpoint's address, when it runs.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// What the operator view reads.
    pub fn status(&self) -> &StatusSource {
        &self.services.status
    }

    pub fn role(&self) -> RoleState {
        *self.role.borrow()
    }

    /// Serves a client connection that did not come through the listener (an in-memory
    /// stream in tests), as a task of this server.
    pub fn connect<R, W>(&self, read: R, write: W, peer: SocketAddr)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        self.tasks
            .spawn(connection::serve(read, write, peer, self.services.clone()));
    }

    /// Resolves when the raft node has stopped on a fatal error (for example a failed fsync:
    /// the log store is poisoned and will acknowledge nothing more). The server cannot accept
    /// writes after that; the binary exits so that a supervisor restarts it, and recovery
    /// truncates whatever was not durable.
    pub async fn fatal_error(&self) -> String {
        self.consensus.fatal_error().await
    }

    /// Stops accepting, closes every connection, waits for every task, then stops the raft
    /// node (which flushes and closes the log).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.tasks.close();
        for conn in self.services.registry.all() {
            conn.close();
        }
        // Tasks spawned before the stop may still register connections; close them too
        // until every task has ended.
        while tokio::time::timeout(Duration::from_millis(100), self.tasks.wait())
            .await
            .is_err()
        {
            for conn in self.services.registry.all() {
                conn.close();
            }
        }
        self.consensus.shutdown().await;
    }
}

/// The AdminServer's listener. A port in use stops a standalone server, as ZooKeeper's
/// `ZooKeeperServerMain` exits; an ensemble member goes on without it, as `QuorumPeer` only
/// logs the problem.
async fn bind_admin(config: &ServerConfig) -> Result<Option<TcpListener>, NodeError> {
    let addr = config.admin.addr;
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(source) => {
            let err = NodeError::AdminBind {
                addr,
                command_url: config.admin.command_url.clone(),
                source,
            };
            match config.ensemble {
                None => Err(err),
                Some(_) => {
                    tracing::warn!(%err, "going on without the AdminServer");
                    Ok(None)
                }
            }
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, NodeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Bind { addr, source })
}

/// Initialises the one-voter membership on first start, waits to lead, and replays the log
/// after the snapshot before serving, so no client sees a state older than one it was shown
/// before the restart.
async fn lead_standalone(
    raft: &Raft,
    server_id: u64,
    local_addr: Option<SocketAddr>,
) -> Result<(), NodeError> {
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|e| raft_error("initialize")(e.to_string()))?;
    if !initialized {
        let addr = local_addr.map(|a| a.to_string()).unwrap_or_default();
        let members = BTreeMap::from([(server_id, BasicNode::new(addr))]);
        raft.initialize(members)
            .await
            .map_err(|e| raft_error("initialize")(e.to_string()))?;
    }
    let metrics = raft
        .wait(Some(LEAD_TIMEOUT))
        .state(ServerState::Leader, "standalone server becomes leader")
        .await
        .map_err(|e| raft_error("lead")(e.to_string()))?;
    raft.wait(Some(REPLAY_TIMEOUT))
        .applied_index_at_least(metrics.last_log_index, "log replayed")
        .await
        .map_err(|e| raft_error("replay")(e.to_string()))?;
    Ok(())
}

fn conf_facts(config: &ServerConfig, local_addr: Option<SocketAddr>) -> ConfFacts {
    ConfFacts {
        client_addr: local_addr.unwrap_or(config.client_addr),
        data_dir: config.data_dir.clone(),
        data_log_dir: config.data_log_dir.clone(),
        tick_time_ms: config.tick_time_ms,
        max_client_cnxns: config.max_client_cnxns,
        min_session_timeout_ms: config.min_session_timeout_ms,
        max_session_timeout_ms: config.max_session_timeout_ms,
        server_id: config.server_id,
        standalone: config.ensemble.is_none(),
        quorum_conf: config.ensemble.as_ref().map(|e| e.dump_conf()),
        quorum_size: config.ensemble.as_ref().map_or(1, |e| e.voter_count()),
        peer_fresh_ms: config
            .ensemble
            .as_ref()
            .map_or(0, |e| e.timeouts.election_timeout_max_ms),
        members: config.ensemble.as_ref().map_or_else(Vec::new, |e| {
            e.members
                .values()
                .map(|m| MemberFacts {
                    id: m.id,
                    host: m.quorum_host.clone(),
                    quorum_address: m.quorum_endpoint(),
                    election_address: m.election_endpoint(),
                    client_address: m
                        .client
                        .as_ref()
                        .map_or_else(String::new, |c| client_endpoint(&c.host, c.port)),
                    observer: m.observer,
                })
                .collect()
        }),
    }
}

/// `host:port`, an IPv6 host in brackets (ZooKeeper's `delimitedHostString`).
fn client_endpoint(host: &str, port: u16) -> String {
    match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    }
}

type Log = LogStore<TypeConfig>;

/// Opens the log (in `dataLogDir`) and the snapshot store (in `dataDir`), refusing a directory
/// that holds Apache ZooKeeper's own data, which Corral cannot read.
fn open_storage(
    settings: &StorageSettings,
    vfs: &Arc<dyn Vfs>,
    writer: WriterMode,
) -> Result<(Log, Arc<SnapshotStore>), NodeError> {
    for dir in [&settings.data_dir, &settings.data_log_dir] {
        refuse_zookeeper_data(&**vfs, dir)?;
    }
    let mut log_config = LogStoreConfig::new(settings.data_log_dir.join(LOG_DIR_NAME));
    log_config.force_sync = settings.force_sync;
    log_config.prealloc_bytes = settings.pre_alloc_bytes;
    log_config.segment_bytes_max = settings.log_segment_bytes;
    log_config.cache_bytes_max = settings.log_cache_bytes;
    log_config.writer = writer;
    let log_store = Log::open_with_vfs(log_config, vfs.clone())?;
    let snapshots =
        SnapshotStore::open_with_vfs(settings.data_dir.join(SNAPSHOT_DIR_NAME), vfs.clone())?;
    Ok((log_store, Arc::new(snapshots)))
}

fn refuse_zookeeper_data(vfs: &dyn Vfs, dir: &Path) -> Result<(), NodeError> {
    let zk_dir = dir.join(ZOOKEEPER_DATA_DIR_NAME);
    let has_files = vfs.list(&zk_dir).is_ok_and(|names| !names.is_empty());
    if has_files {
        return Err(NodeError::ZooKeeperData {
            dir: zk_dir.display().to_string(),
        });
    }
    Ok(())
}

/// The tree starts from a snapshot at `restored_index` and the log must continue right after it;
/// if the log was purged beyond that point (the newest snapshot was unusable and the previous
/// one is too old), acknowledged writes would be missing: refuse to start.
async fn check_log_covers_snapshot(log_store: &mut Log, restored: u64) -> Result<(), NodeError> {
    use openraft::storage::RaftLogStorage;
    let state = log_store
        .get_log_state()
        .await
        .map_err(NodeError::LogState)?;
    let purged = state.last_purged_log_id.map_or(0, |id| id.index);
    if purged > restored {
        return Err(NodeError::LogBehindSnapshot { purged, restored });
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    services: Arc<ClientServices>,
    tasks: TaskTracker,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connection::socket::tune(&stream);
                    let (read, write) = stream.into_split();
                    tasks.spawn(connection::serve(read, write, peer, services.clone()));
                }
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                }
            }
        }
    }
}

/// An ensemble member's side of its peer transport, before the raft node exists.
enum Transport {
    Tcp {
        network: corral_peer::PeerNetwork<TypeConfig, SnapshotFiles>,
        peer_config: corral_peer::PeerConfig,
        listener: TcpListener,
    },
    Memory(MemoryEndpoint<TypeConfig>),
}

/// What starting an ensemble member needs besides the log and the state machine.
struct EnsembleParts<'a> {
    ensemble: &'a EnsembleConfig,
    settings: Arc<openraft::Config>,
    snapshots: Arc<SnapshotStore>,
    sessions: Arc<SessionsTable>,
    clock: Arc<dyn Clock>,
    registry: Arc<Registry>,
    peers: PeerFabric,
    role: watch::Receiver<RoleState>,
    tasks: &'a TaskTracker,
    stopped: &'a watch::Receiver<bool>,
}

/// Starts this server's raft node over the peer transport: listens on the quorum port (or
/// attaches to its memory net, and detaches when stopped), initialises the membership on a
/// pristine participant, and keeps observers as learners. It does not wait for a leader: until
/// one is known, clients are refused.
async fn start_ensemble(
    parts: EnsembleParts<'_>,
    log_store: Log,
    state_machine: StateMachine,
) -> Result<(Raft, Route, Consensus), NodeError> {
    let ensemble = parts.ensemble;
    let me = ensemble.my_id;
    let files = Arc::new(SnapshotFiles::new(parts.snapshots));
    let listen = match &parts.peers {
        PeerFabric::Tcp => ensemble.quorum_listen_addr(),
        PeerFabric::Memory(_) => "a memory net".to_owned(),
    };
    let transport = match &parts.peers {
        PeerFabric::Tcp => {
            let peer_config = corral_peer::PeerConfig::new(me, ensemble.ensemble_id.clone());
            let listener =
                TcpListener::bind(&listen)
                    .await
                    .map_err(|source| NodeError::QuorumBind {
                        addr: listen.clone(),
                        source,
                    })?;
            Transport::Tcp {
                network: corral_peer::PeerNetwork::new(peer_config.clone(), files.clone()),
                peer_config,
                listener,
            }
        }
        PeerFabric::Memory(net) => Transport::Memory(net.endpoint(me)),
    };
    let endpoints: Arc<BTreeMap<u64, String>> = Arc::new(
        ensemble
            .members
            .values()
            .map(|m| (m.id, m.quorum_endpoint()))
            .collect(),
    );
    let raft = match &transport {
        Transport::Tcp { network, .. } => {
            let peers = ConfiguredPeers::new(network.clone(), endpoints.clone());
            Raft::new(me, parts.settings, peers, log_store, state_machine).await
        }
        Transport::Memory(endpoint) => {
            let peers = endpoint.network();
            Raft::new(me, parts.settings, peers, log_store, state_machine).await
        }
    }
    .map_err(|e| raft_error("start")(e.to_string()))?;
    let link_to: LinkTo = {
        let endpoints = endpoints.clone();
        match &transport {
            Transport::Tcp { network, .. } => {
                let network = network.clone();
                Arc::new(move |id| {
                    endpoints
                        .get(&id)
                        .map(|endpoint| network.app_link(id, endpoint))
                })
            }
            Transport::Memory(endpoint) => {
                let endpoint = endpoint.clone();
                Arc::new(move |id| endpoints.contains_key(&id).then(|| endpoint.app_link(id)))
            }
        }
    };
    let forwarder = Arc::new(Forwarder::new(
        link_to,
        me,
        ensemble.members.keys().copied().collect(),
    ));
    let consensus = Consensus::watching_lost_writes(
        raft.clone(),
        lost_writes(me, parts.registry.clone(), forwarder.clone()),
    );
    let owners = Arc::new(SessionOwners::default());
    let cluster = ClusterInbound::new(
        consensus.clone(),
        parts.role.clone(),
        parts.sessions,
        parts.clock,
        parts.registry,
        owners.clone(),
        forwarder.clone(),
    );
    let contact = Arc::new(LeaderContact::new());
    let inbound = Arc::new(RaftInbound::new(
        raft.clone(),
        Arc::new(cluster),
        contact.clone(),
    ));
    let timeouts = &ensemble.timeouts;
    let watch = LeaderWatch {
        raft: raft.clone(),
        contact,
        probe: match &parts.peers {
            PeerFabric::Tcp => LeaderProbe::Tcp(endpoints.clone()),
            PeerFabric::Memory(net) => LeaderProbe::Memory {
                net: net.clone(),
                me,
            },
        },
        heartbeat: Duration::from_millis(timeouts.heartbeat_interval_ms),
        voters: ensemble.voters().map(|m| m.id).collect(),
        election_timeout: Duration::from_millis(timeouts.election_timeout_max_ms),
    };
    parts.tasks.spawn(watch.run(
        parts.role.clone(),
        forwarder.broken(),
        parts.stopped.clone(),
    ));

    match transport {
        Transport::Tcp {
            peer_config,
            listener,
            ..
        } => {
            parts.tasks.spawn(corral_peer::serve(
                listener,
                peer_config,
                inbound,
                files,
                parts.stopped.clone(),
            ));
        }
        Transport::Memory(endpoint) => {
            endpoint.attach(inbound, files);
            let mut stopped = parts.stopped.clone();
            parts.tasks.spawn(async move {
                let _ = stopped.wait_for(|stopped| *stopped).await;
                endpoint.detach();
            });
        }
    }
    membership::initialize_once(&raft, ensemble)
        .await
        .map_err(raft_error("initialize"))?;
    let observers: Vec<(u64, String)> = ensemble
        .observers()
        .map(|m| (m.id, m.quorum_endpoint()))
        .collect();
    parts.tasks.spawn(membership::keep_observers_as_learners(
        raft.clone(),
        observers,
        parts.role.clone(),
        parts.stopped.clone(),
    ));
    tracing::info!(
        server_id = me,
        quorum = %listen,
        voters = ensemble.voter_count(),
        "ensemble member started; looking for a leader"
    );
    Ok((
        raft,
        Route::Ensemble {
            role: parts.role,
            forwarder,
            owners,
        },
        consensus,
    ))
}

/// What happens to a write the log took and then dropped: the connection waiting for it is
/// closed, here or (for a forwarded write) on the server it came from, so that its client
/// learns of the loss at once (as ConnectionLoss) instead of waiting for its session's read
/// timeout. Internal txns (expiry, reaping) are proposed again by the next leader's duties.
fn lost_writes(me: u64, registry: Arc<Registry>, forwarder: Arc<Forwarder>) -> LostWrite {
    Arc::new(move |origin, reason| {
        let Some(origin) = origin else { return };
        tracing::info!(
            server = origin.server_id,
            connection = origin.connection_id,
            %reason,
            "the log dropped a write; closing the connection that waits for it"
        );
        if origin.server_id != me {
            forwarder.announce_write_lost(origin.server_id, origin.connection_id);
        } else if let Some(waiting) = registry.get(origin.connection_id) {
            waiting.close();
        }
    })
}

/// When this server loses its leader (the leader or the term changes, or an election starts)
/// it closes every client connection, as a ZooKeeper follower does: their clients reconnect,
/// to this server once it follows again or to another, and keep their sessions. When the stream
/// to the leader breaks, only the connections with writes outstanding are closed: their
/// writes may be lost, and a later write of theirs must not commit after a lost one.
async fn drop_clients_on_leader_loss(
    mut role: watch::Receiver<RoleState>,
    mut broken: watch::Receiver<u64>,
    registry: Arc<Registry>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut served = *role.borrow();
    loop {
        tokio::select! {
            changed = role.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *role.borrow();
                let lost = served.role != Role::Looking
                    && (now.leader != served.leader || now.term != served.term);
                if lost {
                    let connections = registry.all();
                    tracing::info!(
                        leader = ?now.leader,
                        term = now.term,
                        clients = connections.len(),
                        "leader changed; closing client connections"
                    );
                    for connection in connections {
                        connection.close();
                    }
                }
                served = now;
            }
            changed = broken.changed() => {
                if changed.is_err() {
                    return;
                }
                for connection in registry.all() {
                    if connection.outstanding_writes() > 0 {
                        connection.close();
                    }
                }
            }
            _ = stopped.changed() => return,
        }
    }
}

/// A follower's or observer's clients keep their sessions alive here; the leader, which alone
/// expires sessions, hears of them every half tick.
async fn touch_sessions_at_leader(
    forwarder: Arc<Forwarder>,
    sessions: Arc<SessionsTable>,
    role: watch::Receiver<RoleState>,
    interval: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => return,
        }
        let touched = sessions.take_touched();
        let state = *role.borrow();
        let Some(leader) = state.leader else { continue };
        if state.role == Role::Leader || touched.is_empty() {
            continue;
        }
        let message = crate::cluster::message::StreamMessage::Touch(touched);
        if let Err(err) = forwarder.send(leader, state.term, message).await {
            tracing::debug!(%err, "could not tell the leader which sessions are alive");
        }
    }
}
