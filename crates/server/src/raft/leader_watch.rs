//! Noticing a dead leader as fast as ZooKeeper does. A ZooKeeper follower learns at once that
//! its leader's process died, from the closed TCP connection; a Raft follower only from the
//! leader's silence lasting an election timeout (seconds with ZooKeeper's usual tickTime).
//! So a follower whose leader has been silent for two heartbeats knocks on the leader's quorum
//! port: a refused connection means no process listens there any more, and the followers
//! hand the leadership on at once instead of waiting out the timeout. A leader that is only
//! slow or partitioned still answers or times out, and is left to the ordinary timeout.
//!
//! Handing on: every follower that finds the leader gone applies, locally, the leadership
//! transfer the dead leader can no longer send, to the same successor (the lowest-id voter
//! other than the dead leader): each drops the dead leader's lease, so that it grants the
//! successor's vote at once, and the successor campaigns. Without that, two followers campaign
//! together, each refuses the other (the dead leader's lease still runs on it), and the
//! election waits for another timeout. If the successor is gone too, the lease-free followers
//! elect whoever campaigns first after the ordinary timeout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral_entry::TypeConfig;
use corral_peer::memory::MemoryNet;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::raft::TransferLeaderRequest;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Raft, Role, RoleState};
use crate::ids::ServerId;

/// Heartbeats of silence before the leader's port is probed.
const SILENT_HEARTBEATS_BEFORE_PROBE: u32 = 2;

/// When this server last heard from a leader (any AppendEntries, heartbeats included).
pub(crate) struct LeaderContact {
    base: Instant,
    last_ms: AtomicU64,
    /// Raised when a Raft connection from a server closed, with that server's id.
    closed: tokio::sync::Notify,
    closed_from: AtomicU64,
}

impl LeaderContact {
    pub(crate) fn new() -> LeaderContact {
        LeaderContact {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
            closed: tokio::sync::Notify::new(),
            closed_from: AtomicU64::new(0),
        }
    }

    pub(crate) fn heard(&self) {
        let now_ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(now_ms, Ordering::Relaxed);
    }

    /// A Raft connection from server `from` ended: if `from` leads, it may have died.
    pub(crate) fn connection_closed(&self, from: ServerId) {
        self.closed_from.store(from, Ordering::Relaxed);
        self.closed.notify_one();
    }

    fn silent_for(&self) -> Duration {
        let now_ms = self.base.elapsed().as_millis() as u64;
        Duration::from_millis(now_ms.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// How to tell whether the leader's process is gone.
pub(crate) enum LeaderProbe {
    /// A TCP connect to its quorum endpoint (every member's, as this server's configuration
    /// gives them).
    Tcp(Arc<BTreeMap<ServerId, String>>),
    /// In a simulation, the memory net knows.
    Memory {
        net: MemoryNet<TypeConfig>,
        me: ServerId,
    },
}

/// What the watch needs.
pub(crate) struct LeaderWatch {
    pub(crate) raft: Raft,
    pub(crate) contact: Arc<LeaderContact>,
    /// How the leader's door is knocked on.
    pub(crate) probe: LeaderProbe,
    pub(crate) heartbeat: Duration,
    /// The voters of the configuration (successor candidates).
    pub(crate) voters: Vec<ServerId>,
    /// How long to leave an election it started to run before probing again.
    pub(crate) election_timeout: Duration,
}

impl LeaderWatch {
    /// Runs while this server lives; acts only while it follows (observers cannot elect).
    pub(crate) async fn run(
        self,
        role: watch::Receiver<RoleState>,
        mut stream_breaks: watch::Receiver<u64>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let silence_max = self.heartbeat * SILENT_HEARTBEATS_BEFORE_PROBE;
        loop {
            // A broken stream to the leader (its connection closed) is a reason to knock at
            // once: a dead process closes its connections, so this is how a follower with
            // writes in flight learns of it as soon as a ZooKeeper follower would.
            // So is the close of a Raft connection the leader opened to this server.
            let (stream_broke, closed) = tokio::select! {
                _ = tokio::time::sleep(self.heartbeat) => (false, false),
                changed = stream_breaks.changed() => (changed.is_ok(), false),
                () = self.contact.closed.notified() => (false, true),
                _ = stopped.changed() => return,
            };
            let state = *role.borrow();
            let (Role::Follower, Some(leader)) = (state.role, state.leader) else {
                continue;
            };
            let leader_closed =
                closed && self.contact.closed_from.load(Ordering::Relaxed) == leader;
            let silent = self.contact.silent_for() >= silence_max;
            if !(stream_broke || leader_closed || silent) || !self.leader_is_gone(leader).await {
                continue;
            }
            self.hand_on(leader, state.term).await;
            tokio::select! {
                _ = tokio::time::sleep(self.election_timeout) => {}
                _ = stopped.changed() => return,
            }
        }
    }

    /// Applies the dead leader's transfer to the successor on this server (see the module doc).
    async fn hand_on(&self, leader: ServerId, term: u64) {
        let Some(successor) = self.voters.iter().copied().filter(|&v| v != leader).min() else {
            return;
        };
        tracing::info!(
            leader,
            term,
            successor,
            "the leader refuses connections on its quorum port: it is gone; handing the leadership on"
        );
        let vote = {
            let metrics = self.raft.metrics();
            // Clone out at once: a held borrow blocks openraft's metrics flush.
            let vote = metrics.borrow_watched().vote;
            vote
        };
        let transfer = TransferLeaderRequest::new(vote, successor, None);
        if let Err(err) = self.raft.handle_transfer_leader(transfer).await {
            tracing::warn!(%err, "could not hand the leadership on");
        }
    }

    /// True only when the leader's quorum port refuses a connection (no process listens).
    async fn leader_is_gone(&self, leader: ServerId) -> bool {
        match &self.probe {
            LeaderProbe::Tcp(endpoints) => {
                let Some(endpoint) = endpoints.get(&leader) else {
                    return false;
                };
                let connect = TcpStream::connect(endpoint.as_str());
                match tokio::time::timeout(self.heartbeat, connect).await {
                    Ok(Err(err)) => err.kind() == std::io::ErrorKind::ConnectionRefused,
                    _ => false,
                }
            }
            // What a connect would find: a cut link times out, a link to a server that is not
            // attached is refused.
            LeaderProbe::Memory { net, me } => net.link_up(*me, leader) && !net.is_attached(leader),
        }
    }
}
