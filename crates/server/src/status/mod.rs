//! What the operator view (four-letter words, the AdminServer, `/metrics`) may read of a running
//! server: [`StatusSource`] returns plain data, and no lock is held once a method returns.
//! The formats ZooKeeper prints live with their renderers (`four_letter.rs`), not here.
//!
//! Architecture invariant: status never hands out a lock guard, a connection handle or the
//! raft node; its only actions are the ones the 4lw expose (reset counters, snapshot now).

pub mod access;
pub mod monitor;
pub mod quorum;
pub mod snapshots;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use corral_storage::snapshot::SnapshotStore;
use corral_storage::{AppendSizes, AppendSizesReading, FsyncTimes, FsyncTimesReading};

use tokio::sync::watch;

use crate::clients::{ConnectionRegistry, WriteGate};
use crate::clock::Clock;
use crate::ids::{ServerId, SessionId, Zxid};
use crate::metrics::{Counters, DurationReading, DurationSummary, Latency};
use crate::raft::{Consensus, Role, RoleState};
use crate::replica::Replica;
use crate::sessions::Sessions;

/// The static facts `conf` and `dirs` report.
#[derive(Debug, Clone)]
pub struct ConfFacts {
    pub client_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub tick_time_ms: u32,
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub server_id: ServerId,
    /// One voter and no peers: ZooKeeper's standalone mode.
    pub standalone: bool,
    /// `conf`'s quorum part (`initLimit=` … `membership: ` and the server lines), for an
    /// ensemble member.
    pub quorum_conf: Option<String>,
    /// Voters in the configuration (`zk_quorum_size`).
    pub quorum_size: usize,
    /// A peer that acknowledged the leader within this long counts as connected.
    pub peer_fresh_ms: u64,
    /// The configured members, by id (empty for a standalone server).
    pub members: Vec<quorum::MemberFacts>,
}

/// A follower or observer at most this many entries behind the leader counts as synced.
pub const SYNCED_LAG_ENTRIES_MAX: u64 = 1_000;

/// `mntr`'s ensemble keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSummary {
    /// `zk_peer_state`: `leading - broadcast`, `following - broadcast`, ...
    pub peer_state: &'static str,
    pub quorum_size: usize,
    /// Present on the leader only.
    pub leader: Option<LeaderSummary>,
}

/// The leader-only keys of `mntr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderSummary {
    /// Followers and observers that acknowledged recently (`zk_learners`).
    pub learners: usize,
    /// Voters that acknowledged recently and are at most [`SYNCED_LAG_ENTRIES_MAX`] behind.
    pub synced_followers: usize,
    /// Observers, likewise.
    pub synced_observers: usize,
    pub leader_uptime_ms: u64,
    /// Learner syncs waiting for this leader's read index (`zk_pending_syncs`).
    pub pending_syncs: usize,
    /// Encoded sizes of this leader's proposals since it took over (`Proposal sizes`).
    pub proposal_sizes: AppendSizesReading,
}

/// `srvr`/`stat`/`mntr`'s server-wide figures.
#[derive(Debug, Clone)]
pub struct ServerSummary {
    pub zxid: Zxid,
    /// ZooKeeper's `Mode:` word: standalone, leader, follower or observer.
    pub mode: &'static str,
    pub serving: bool,
    pub node_count: usize,
    pub latency: Latency,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub connections: usize,
    pub outstanding_requests: usize,
    pub uptime_ms: u64,
}

/// The tree and watch figures of `mntr`.
#[derive(Debug, Clone)]
pub struct DataSummary {
    pub node_count: usize,
    pub ephemerals: usize,
    pub approximate_data_bytes: u64,
    pub watches: usize,
    pub global_sessions: usize,
    pub auth_failed: u64,
    pub connections_rejected: u64,
    pub watch_events_sent: u64,
    pub throttled_requests: u64,
    pub stale_requests_dropped: u64,
    pub connections_dropped: u64,
    pub sessionless_expired: u64,
}

/// One connection as `cons` and `stat` show it.
#[derive(Debug, Clone)]
pub struct ConnectionStatus {
    pub peer: SocketAddr,
    pub outstanding: usize,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub session_id: SessionId,
    pub last_op: &'static str,
    pub established_ms: i64,
    pub session_timeout_ms: i64,
    pub last_cxid: i64,
    pub last_zxid: i64,
    pub latency: Latency,
}

/// `dump`: sessions by deadline, ephemerals by session.
#[derive(Debug, Clone)]
pub struct SessionDump {
    pub by_deadline: Vec<(u64, Vec<SessionId>)>,
    pub ephemerals: Vec<(SessionId, Vec<String>)>,
}

/// `wchs`.
#[derive(Debug, Clone, Copy)]
pub struct WatchSummary {
    pub connections: usize,
    pub paths: usize,
    pub total: usize,
}

pub struct StatusSource {
    pub(crate) replica: Arc<Replica>,
    pub(crate) registry: Arc<ConnectionRegistry>,
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) gate: Arc<WriteGate>,
    pub(crate) consensus: Consensus,
    pub(crate) role: watch::Receiver<RoleState>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The monotonic reading at start.
    pub(crate) started_ms: u64,
    pub(crate) conf: ConfFacts,
    /// The monotonic reading when this server last became leader; 0 while it does not lead.
    pub(crate) leading_since_ms: Arc<std::sync::atomic::AtomicU64>,
    /// The log's append sizes, which on the leader are its proposals' (reset by
    /// `LeaderDuties` when it takes over).
    pub(crate) proposal_sizes: Arc<AppendSizes>,
    /// The snapshot files (`last_snapshot`, `snapshot`).
    pub(crate) snapshots: Arc<SnapshotStore>,
    /// The log's fsync durations.
    pub(crate) fsync_times: Arc<FsyncTimes>,
    /// How long snapshot files took to write.
    pub(crate) snapshot_times: Arc<DurationSummary>,
}

impl StatusSource {
    pub fn conf(&self) -> &ConfFacts {
        &self.conf
    }

    pub fn role(&self) -> RoleState {
        *self.role.borrow()
    }

    fn mode(&self, role: Role) -> &'static str {
        match role {
            _ if self.conf.standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::Looking => "looking",
        }
    }

    pub fn server_summary(&self) -> ServerSummary {
        let role = self.role().role;
        let counters = &self.counters;
        ServerSummary {
            zxid: self.replica.applied(),
            mode: self.mode(role),
            serving: self.conf.standalone || role != Role::Looking,
            node_count: self.replica.tree().node_count(),
            latency: counters.latency.read(),
            packets_received: counters.packets_received.load(Ordering::Relaxed),
            packets_sent: counters.packets_sent.load(Ordering::Relaxed),
            connections: self.registry.len(),
            outstanding_requests: self.gate.outstanding(),
            uptime_ms: self.clock.monotonic_ms().saturating_sub(self.started_ms),
        }
    }

    /// `mntr`'s ensemble keys; `None` for a standalone server or one that does not serve.
    pub fn quorum_summary(&self) -> Option<QuorumSummary> {
        if self.conf.standalone {
            return None;
        }
        let role = self.role().role;
        let peer_state = match role {
            Role::Leader => "leading - broadcast",
            Role::Follower => "following - broadcast",
            Role::Observer => "observing - broadcast",
            Role::Looking => return None,
        };
        let leader = (role == Role::Leader).then(|| self.leader_summary());
        Some(QuorumSummary {
            peer_state,
            quorum_size: self.conf.quorum_size,
            leader,
        })
    }

    fn leader_summary(&self) -> LeaderSummary {
        let replication = self.consensus.replication(self.conf.peer_fresh_ms);
        let synced = |voter: bool| {
            replication
                .peers
                .iter()
                .filter(|p| p.voter == voter && p.alive)
                .filter(|p| {
                    p.lag_entries
                        .is_some_and(|lag| lag <= SYNCED_LAG_ENTRIES_MAX)
                })
                .count()
        };
        let since = self.leading_since_ms.load(Ordering::Relaxed);
        LeaderSummary {
            learners: replication.peers.iter().filter(|p| p.alive).count(),
            synced_followers: synced(true),
            synced_observers: synced(false),
            leader_uptime_ms: match since {
                0 => 0,
                since => self.clock.monotonic_ms().saturating_sub(since),
            },
            pending_syncs: self.consensus.pending_learner_syncs(),
            proposal_sizes: self.proposal_sizes.read(),
        }
    }

    pub fn data_summary(&self) -> DataSummary {
        let (node_count, ephemerals, approximate_data_bytes) = {
            let tree = self.replica.tree();
            (
                tree.node_count(),
                tree.ephemeral_count(),
                tree.approximate_data_bytes(),
            )
        };
        let counters = &self.counters;
        DataSummary {
            node_count,
            ephemerals,
            approximate_data_bytes,
            watches: self.replica.with_watches(|w| w.total_watches()),
            global_sessions: self.sessions.len(),
            auth_failed: counters.auth_failed.load(Ordering::Relaxed),
            connections_rejected: counters.connections_rejected.load(Ordering::Relaxed),
            watch_events_sent: counters.watch_events_sent.load(Ordering::Relaxed),
            throttled_requests: counters.throttled_requests.load(Ordering::Relaxed),
            stale_requests_dropped: counters.stale_requests_dropped.load(Ordering::Relaxed),
            connections_dropped: counters.connections_stalled.load(Ordering::Relaxed),
            sessionless_expired: counters.sessionless_expired.load(Ordering::Relaxed),
        }
    }

    pub fn connections(&self) -> Vec<ConnectionStatus> {
        self.registry
            .all()
            .iter()
            .map(|conn| {
                let s = &conn.stats;
                ConnectionStatus {
                    peer: conn.peer,
                    outstanding: conn.outstanding_writes(),
                    packets_received: s.packets_received.load(Ordering::Relaxed),
                    packets_sent: s.packets_sent.load(Ordering::Relaxed),
                    session_id: conn.session_id(),
                    last_op: *s.last_op.lock(),
                    established_ms: conn.established_ms,
                    session_timeout_ms: conn.session_timeout_ms.load(Ordering::Relaxed),
                    last_cxid: s.last_cxid.load(Ordering::Relaxed),
                    last_zxid: s.last_zxid.load(Ordering::Relaxed),
                    latency: s.latency.read(),
                }
            })
            .collect()
    }

    pub fn watch_summary(&self) -> WatchSummary {
        let (connections, paths, total) = self.replica.with_watches(|w| w.summary());
        WatchSummary {
            connections,
            paths,
            total,
        }
    }

    fn session_of(&self, connection: u64) -> SessionId {
        self.registry.get(connection).map_or(0, |h| h.session_id())
    }

    /// `wchc`: the watched paths of each connection, by its session.
    pub fn watches_by_session(&self) -> Vec<(SessionId, Vec<String>)> {
        let by_connection = self.replica.with_watches(|w| w.by_connection());
        by_connection
            .into_iter()
            .map(|(conn, paths)| (self.session_of(conn), paths))
            .collect()
    }

    /// `wchp`: the sessions watching each path.
    pub fn watches_by_path(&self) -> Vec<(String, Vec<SessionId>)> {
        let by_path = self.replica.with_watches(|w| w.by_path());
        by_path
            .into_iter()
            .map(|(path, conns)| {
                let sessions = conns.into_iter().map(|c| self.session_of(c)).collect();
                (path, sessions)
            })
            .collect()
    }

    pub fn session_dump(&self) -> SessionDump {
        SessionDump {
            by_deadline: self.sessions.by_deadline(),
            ephemerals: self.replica.tree().ephemerals_by_session(),
        }
    }

    /// `hash`: the applied zxid and the tree's digest at it.
    pub fn digest(&self) -> (Zxid, u64) {
        let tree = self.replica.tree();
        (self.replica.applied(), tree.digest())
    }

    /// The log's group-commit fsync durations since start.
    pub fn fsync_times(&self) -> FsyncTimesReading {
        self.fsync_times.read()
    }

    /// Fsyncs slower than ZooKeeper's warning threshold (`fsync_threshold_exceed_count`).
    pub fn fsync_threshold_exceeded(&self) -> u64 {
        self.fsync_times.read().over_threshold
    }

    /// How long snapshot files took to write, since start.
    pub fn snapshot_times(&self) -> DurationReading {
        self.snapshot_times.read()
    }

    pub fn reset_connection_stats(&self) {
        for conn in self.registry.all() {
            conn.stats.reset();
        }
    }

    pub fn reset_server_stats(&self) {
        self.counters.reset();
    }

    /// `snap`: asks for a snapshot now; the zxid it will cover at least, or why not.
    pub async fn trigger_snapshot(&self) -> Result<Zxid, String> {
        self.consensus
            .trigger_snapshot()
            .await
            .map(|()| self.replica.applied())
            .map_err(|e| e.to_string())
    }
}
