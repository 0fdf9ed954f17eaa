//! The simulated ensemble: 3 or 5 servers (3 or 5 voters, or 3 voters and 1 or 2 observers)
//! started with `corral_server::start_in`, each on its own `MemVfs` and `TokioClock`, with the
//! inline log writer, attached to one `MemoryNet`.
//! Crashes take a server off the net and keep the file system a power loss would leave
//! (`MemVfs::crash_image`); restarts start it again on that file system.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use corral_entry::TypeConfig;
use corral_peer::memory::MemoryNet;
use corral_server::clock::TokioClock;
use corral_server::{Environment, Node, NodeError, PeerFabric, Role, ServerConfig, WriterMode};
use corral_storage::{CrashMode, MemVfs};
use parking_lot::Mutex;

use crate::invariants::committed_history::{AppliedLog, Observer};
use crate::rng::Rng;

/// The wall clock every server's virtual clock starts from (2023-11-14).
pub const WALL_ORIGIN_MS: i64 = 1_700_000_000_000;
/// ZooKeeper's tick: sessions may last 2 to 20 ticks.
pub const TICK_MS: u64 = 200;
/// Where each server keeps its data, on its own `MemVfs`.
const DATA_DIR: &str = "/data";

/// One server of the ensemble, running or not.
pub struct Server {
    pub id: u64,
    pub vfs: MemVfs,
    pub node: Option<Node>,
    /// How many times it was started.
    pub lives: u32,
}

pub struct Cluster {
    pub net: MemoryNet<TypeConfig>,
    pub servers: BTreeMap<u64, Server>,
    pub log: Arc<Mutex<AppliedLog>>,
    layout: Layout,
    storage: Storage,
    seed: u64,
    started: tokio::time::Instant,
}

/// Who is in the ensemble: voters `1..=voters`, then observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Layout {
    pub voters: u64,
    pub observers: u64,
}

impl Layout {
    pub fn size(&self) -> u64 {
        self.voters + self.observers
    }

    pub fn is_observer(&self, id: u64) -> bool {
        id > self.voters
    }
}

/// The storage settings of a seed (every server the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Storage {
    /// `snapCount`: entries between snapshots (the log is purged behind them).
    pub snap_count: u64,
    /// `corral.logSegmentBytes`.
    pub segment_bytes: u64,
}

/// How a server goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Power loss: off the net at once, its file system as `CrashMode` leaves it.
    PowerLoss(CrashMode),
}

impl Cluster {
    pub fn new(layout: Layout, storage: Storage, seed: u64, net: MemoryNet<TypeConfig>) -> Cluster {
        let servers = (1..=layout.size())
            .map(|id| {
                let server = Server {
                    id,
                    vfs: MemVfs::new(),
                    node: None,
                    lives: 0,
                };
                (id, server)
            })
            .collect();
        Cluster {
            net,
            servers,
            log: Arc::new(Mutex::new(AppliedLog::default())),
            layout,
            storage,
            seed,
            started: tokio::time::Instant::now(),
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn ids(&self) -> Vec<u64> {
        self.servers.keys().copied().collect()
    }

    /// Milliseconds of virtual time since the simulation began.
    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn node(&self, id: u64) -> Option<&Node> {
        self.servers.get(&id).and_then(|s| s.node.as_ref())
    }

    pub fn running(&self) -> Vec<u64> {
        self.servers
            .values()
            .filter(|s| s.node.is_some())
            .map(|s| s.id)
            .collect()
    }

    pub fn down(&self) -> Vec<u64> {
        self.servers
            .values()
            .filter(|s| s.node.is_none())
            .map(|s| s.id)
            .collect()
    }

    /// What starting server `id` needs (the caller awaits `start_in` without the lock).
    pub fn prepare_start(&mut self, id: u64) -> (ServerConfig, Environment) {
        let elapsed = self.elapsed_ms();
        let server = self.servers.get_mut(&id).expect("a member");
        server.lives += 1;
        let seed = Rng::fork(self.seed, 1000 + id * 100 + u64::from(server.lives)).next_u64();
        let env = Environment {
            clock: Arc::new(TokioClock::new(WALL_ORIGIN_MS + elapsed as i64)),
            vfs: Arc::new(server.vfs.clone()),
            seed: Some(seed),
            listen_for_clients: false,
            log_writer: WriterMode::Inline,
            peers: PeerFabric::Memory(self.net.clone()),
            apply_observer: Some(Arc::new(Observer {
                node: id,
                life: server.lives,
                log: self.log.clone(),
            })),
        };
        (server_config(self.layout, id, self.storage), env)
    }

    pub fn started(&mut self, id: u64, node: Node) {
        if let Some(server) = self.servers.get_mut(&id) {
            server.node = Some(node);
        }
    }

    /// Takes server `id` down as `crash` says; returns its node, still running off the net, for
    /// the caller to shut down in the background (nothing it does reaches anyone any more).
    pub fn crash(&mut self, id: u64, crash: Crash) -> Option<Node> {
        let server = self.servers.get_mut(&id)?;
        let node = server.node.take()?;
        self.net.detach(id);
        match crash {
            Crash::PowerLoss(mode) => server.vfs = server.vfs.crash_image(mode),
        }
        Some(node)
    }

    /// Takes server `id`'s node for a clean shutdown (it keeps its file system).
    pub fn take_for_shutdown(&mut self, id: u64) -> Option<Node> {
        self.servers.get_mut(&id)?.node.take()
    }

    /// `id:role/term/applied` of every server, for the trace.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for server in self.servers.values() {
            let Some(node) = &server.node else {
                parts.push(format!("{}:down", server.id));
                continue;
            };
            let role = node.role();
            let (zxid, _) = node.status().digest();
            let r = match role.role {
                Role::Leader => "L",
                Role::Follower => "F",
                Role::Observer => "O",
                Role::Looking => "-",
            };
            parts.push(format!("{}:{r}{}/{zxid}", server.id, role.term));
        }
        parts.join(" ")
    }
}

/// The configuration of server `id` of an ensemble laid out as `layout`, loaded as `corral server`
/// loads it: a generated zoo.cfg with `server.N` lines and a `myid` file, through
/// `ServerConfig::load` (once per process for each combination), then pointed at the
/// in-memory data directory. Log segments are preallocated by 16 KiB only (`MemVfs` holds
/// every byte); the heartbeat is 125 ms instead of the 83 ms tickTime 200 gives (half the
/// simulation's work is heartbeats), well inside the 250 ms minimal election timeout.
pub fn server_config(layout: Layout, id: u64, storage: Storage) -> ServerConfig {
    type Key = (Layout, u64, Storage);
    static CONFIGS: OnceLock<Mutex<BTreeMap<Key, ServerConfig>>> = OnceLock::new();
    let configs = CONFIGS.get_or_init(Default::default);
    if let Some(config) = configs.lock().get(&(layout, id, storage)) {
        return config.clone();
    }
    let config = load_config(layout, id, storage);
    configs.lock().insert((layout, id, storage), config.clone());
    config
}

fn load_config(layout: Layout, id: u64, storage: Storage) -> ServerConfig {
    let dir = tempfile::tempdir().expect("a temporary directory for zoo.cfg");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("create dataDir");
    std::fs::write(data.join("myid"), format!("{id}\n")).expect("write myid");
    let mut zoo_cfg = format!(
        "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=2181\n\
         snapCount={}\ncorral.logSegmentBytes={}\npreAllocSize=16\ncorral.raft.heartbeatMs=125\nmaxClientCnxns=0\n\
         4lw.commands.whitelist=*\n",
        data.display(),
        storage.snap_count,
        storage.segment_bytes,
    );
    for n in 1..=layout.size() {
        let role = match layout.is_observer(n) {
            true => ":observer",
            false => "",
        };
        zoo_cfg.push_str(&format!(
            "server.{n}=127.0.0.1:{}:{}{role}\n",
            2887 + n,
            3887 + n
        ));
    }
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, zoo_cfg).expect("write zoo.cfg");
    let mut config = ServerConfig::load(Some(&path), &[]).expect("the generated zoo.cfg loads");
    config.data_dir = PathBuf::from(DATA_DIR);
    config.data_log_dir = PathBuf::from(DATA_DIR);
    config.config_path = None;
    config
}

/// Starts server `id` (the lock is not held while it starts).
pub async fn start(cluster: &Mutex<Cluster>, id: u64) -> Result<(), NodeError> {
    let (config, env) = cluster.lock().prepare_start(id);
    let node = corral_server::start_in(config, env).await?;
    cluster.lock().started(id, node);
    Ok(())
}
