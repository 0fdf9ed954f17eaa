//! Noticing a dead leader as fast as ZooKeeper does. A ZooKeeper follower learns at once that
//! its leader's process died, from the closed TCP connection; a Raft follower only from the
//! leader's silence lasting an election timeout (seconds with ZooKeeper's usual tickTime).
//! So a follower whose leader has been silent for two heartbeats knocks on the leader's quorum
//! port: a refused connection means no process listens there any more, and the follower
//! starts an election at once instead of waiting out the timeout. A leader that is only slow
//! or partitioned still answers or times out, and is left to the ordinary timeout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
}

impl LeaderContact {
    pub(crate) fn new() -> LeaderContact {
        LeaderContact {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn heard(&self) {
        let now_ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(now_ms, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let now_ms = self.base.elapsed().as_millis() as u64;
        Duration::from_millis(now_ms.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// What the watch needs.
pub(crate) struct LeaderWatch {
    pub(crate) raft: Raft,
    pub(crate) contact: Arc<LeaderContact>,
    /// Every member's quorum endpoint, as this server's configuration gives it.
    pub(crate) endpoints: Arc<BTreeMap<ServerId, String>>,
    pub(crate) heartbeat: Duration,
    /// How long to leave an election it started to run before probing again.
    pub(crate) election_timeout: Duration,
}

impl LeaderWatch {
    /// Runs while this server lives; acts only while it follows (observers cannot elect).
    pub(crate) async fn run(
        self,
        role: watch::Receiver<RoleState>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let silence_max = self.heartbeat * SILENT_HEARTBEATS_BEFORE_PROBE;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.heartbeat) => {}
                _ = stopped.changed() => return,
            }
            let state = *role.borrow();
            let (Role::Follower, Some(leader)) = (state.role, state.leader) else {
                continue;
            };
            if self.contact.silent_for() < silence_max || !self.leader_is_gone(leader).await {
                continue;
            }
            tracing::info!(
                leader,
                term = state.term,
                "the leader refuses connections on its quorum port: it is gone; starting an election"
            );
            if let Err(err) = self.raft.trigger().elect(false).await {
                tracing::warn!(%err, "could not start an election");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.election_timeout) => {}
                _ = stopped.changed() => return,
            }
        }
    }

    /// True only when the leader's quorum port refuses a connection (no process listens).
    async fn leader_is_gone(&self, leader: ServerId) -> bool {
        let Some(endpoint) = self.endpoints.get(&leader) else {
            return false;
        };
        match tokio::time::timeout(self.heartbeat, TcpStream::connect(endpoint.as_str())).await {
            Ok(Err(err)) => err.kind() == std::io::ErrorKind::ConnectionRefused,
            _ => false,
        }
    }
}
