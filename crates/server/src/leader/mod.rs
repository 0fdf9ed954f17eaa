//! Duties that run only on the leader, started and stopped with the role: session expiry
//! ([`expiry`]) and container/TTL reaping ([`reaper`]). On each takeover the session table is
//! seeded from the replicated sessions with fresh deadlines, so time spent without a leader is
//! not charged to clients (as a new ZooKeeper leader does).
//!
//! Architecture invariant: leader-only work is proposed only from here (and, in an ensemble,
//! from the leader's side of the peer link), gated by the role.

pub(crate) mod expiry;
pub(crate) mod reaper;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use corral_storage::AppendSizes;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::slices::ReaperSchedule;
use crate::proposer::Proposer;
use crate::raft::{Role, RoleState};
use crate::replica::Replica;
use crate::sessions::Sessions;

/// What the duties need.
pub(crate) struct LeaderDuties {
    pub proposer: Arc<Proposer>,
    pub sessions: Arc<Sessions>,
    pub replica: Arc<Replica>,
    pub clock: Arc<dyn Clock>,
    pub tick: Duration,
    pub reaper: ReaperSchedule,
    /// The monotonic reading when this server last became leader, 0 while it does not lead
    /// (`zk_leader_uptime`).
    pub leading_since_ms: Arc<AtomicU64>,
    /// The log's append sizes: from the takeover on, this leader's proposal sizes.
    pub proposal_sizes: Arc<AppendSizes>,
}

impl LeaderDuties {
    /// Runs the duties during every term in which this server leads, until `stopped`.
    pub(crate) async fn run(
        self,
        mut role: watch::Receiver<RoleState>,
        mut stopped: watch::Receiver<bool>,
    ) {
        loop {
            let term = tokio::select! {
                leading = role.wait_for(|r| r.role == Role::Leader) => match leading {
                    Ok(state) => state.term,
                    Err(_) => return,
                },
                _ = stopped.changed() => return,
            };
            self.take_over();
            self.proposal_sizes.reset();
            self.leading_since_ms
                .store(self.clock.monotonic_ms().max(1), Ordering::Relaxed);
            tracing::info!(term, "leader duties started");
            tokio::select! {
                _ = role.wait_for(|r| r.role != Role::Leader || r.term != term) => {}
                () = expiry::run(&self.proposer, &self.sessions, self.tick) => {}
                () = reaper::run(&self.proposer, &self.replica, &*self.clock, &self.reaper) => {}
                _ = stopped.changed() => return,
            }
            self.leading_since_ms.store(0, Ordering::Relaxed);
            tracing::info!(term, "leader duties stopped");
        }
    }

    /// Every session the log knows gets a full timeout from now.
    fn take_over(&self) {
        let known: Vec<(i64, i32)> = self
            .replica
            .tree()
            .sessions()
            .into_iter()
            .map(|(id, info)| (id, info.timeout_ms))
            .collect();
        self.sessions.restart_all(known);
    }
}
