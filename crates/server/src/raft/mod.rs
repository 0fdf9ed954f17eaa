//! The openraft glue. openraft is pinned with `=` in the workspace; upgrading it is a deliberate
//! change behind the tests.
//!
//! - [`Consensus`]: the handle the rest of the server uses (propose, snapshot now, stop).
//! - [`state_machine`]: applies committed entries to the [`crate::replica::Replica`] and
//!   restores it from snapshots; [`snapshot`] builds snapshots without pausing writes.
//! - [`leader_watch`]: a follower notices a dead leader process at once (refused connection)
//!   instead of after an election timeout.
//! - [`raft_config`]: openraft's settings from named limits; [`role`]: this server's role as a
//!   watch; [`network`]: the peer transport (none for a one-voter cluster).
//!
//! The log store is `corral_storage::LogStore` (segment files, group commit); the entry format
//! and the type configuration are `corral_entry`'s.
//!
//! Architecture invariant: `openraft::` is named only here and in `node.rs`; this module
//! never names `clients/` or `connection/` (the state machine applies through
//! `replica::Effects`).

pub(crate) mod leader_watch;
pub(crate) mod membership;
pub(crate) mod network;
pub(crate) mod peer_link;
pub(crate) mod raft_config;
pub(crate) mod role;
pub(crate) mod snapshot;
pub(crate) mod state_machine;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::sync::Arc;

use corral_entry::{LogEntry, Origin, TypeConfig};
use openraft::async_runtime::watch::WatchReceiver;
use openraft::raft::responder::ProgressResponder;
use openraft::Instant as _;

pub use role::{Role, RoleState};
pub use state_machine::ApplyObserver;

/// The raft node of this server.
pub(crate) type Raft = openraft::Raft<TypeConfig, state_machine::StateMachine>;

/// How often [`Consensus::fatal_error`] looks at the raft node's state.
const FATAL_ERROR_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One follower or observer as the leader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerProgress {
    pub id: u64,
    pub voter: bool,
    /// Acknowledged a heartbeat or an append recently.
    pub alive: bool,
    /// Entries behind the leader's log (`None` before its first acknowledgement).
    pub lag_entries: Option<u64>,
}

/// The leader's view of replication; `peers` is empty on other servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Replication {
    /// Voters in the current membership (this server included).
    pub voters: usize,
    pub peers: Vec<PeerProgress>,
}

/// Why the log did not take an entry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProposeError {
    #[error("the raft node has stopped: {0}")]
    Stopped(String),
}

/// Told of an entry the log took and then dropped without applying it (this server lost the
/// leadership before the entry committed, or refused it as a leader without a quorum): its
/// client is waiting for an answer that will never come. Called with the entry's origin.
pub(crate) type LostWrite = Arc<dyn Fn(Option<Origin>, String) + Send + Sync>;

/// Counts one waiter in a gauge for as long as it lives (also when its future is dropped).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn enter(gauge: &'a AtomicUsize) -> Counted<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        Counted(gauge)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the rest of the server may do with the raft node.
#[derive(Clone)]
pub(crate) struct Consensus {
    raft: Raft,
    /// Read-index requests from other servers' syncs being served (`zk_pending_syncs`).
    learner_syncs: Arc<AtomicUsize>,
    /// In an ensemble, where leadership can be lost under a proposal; `None` for a one-voter
    /// cluster, which never loses it (and so pays nothing to watch its proposals).
    lost: Option<LostWrite>,
}

impl Consensus {
    pub(crate) fn new(raft: Raft) -> Consensus {
        Consensus {
            raft,
            lost: None,
            learner_syncs: Arc::default(),
        }
    }

    /// A consensus whose dropped proposals are reported to `lost`.
    pub(crate) fn watching_lost_writes(raft: Raft, lost: LostWrite) -> Consensus {
        Consensus {
            raft,
            lost: Some(lost),
            learner_syncs: Arc::default(),
        }
    }

    /// Appends an entry to the log; the state machine answers its client when it applies.
    pub(crate) async fn propose(&self, entry: LogEntry) -> Result<(), ProposeError> {
        let Some(lost) = &self.lost else {
            return self
                .raft
                .client_write_ff(entry, None)
                .await
                .map_err(|fatal| ProposeError::Stopped(fatal.to_string()));
        };
        let origin = entry.origin;
        let (responder, _committed, outcome) = ProgressResponder::new();
        self.raft
            .client_write_ff(entry, Some(responder))
            .await
            .map_err(|fatal| ProposeError::Stopped(fatal.to_string()))?;
        let lost = lost.clone();
        tokio::spawn(async move {
            let reason = match outcome.await {
                Ok(Ok(_)) => return,
                Ok(Err(err)) => err.to_string(),
                Err(_) => "the raft node dropped the entry".to_owned(),
            };
            lost(origin, reason);
        });
        Ok(())
    }

    /// The index a linearizable read must wait for (openraft's read index: a fresh quorum
    /// round confirms this server still leads). Only the leader can answer.
    pub(crate) async fn read_index(&self) -> Result<u64, ProposeError> {
        let linearizer = self
            .raft
            .get_read_linearizer(openraft::ReadPolicy::ReadIndex)
            .await
            .map_err(|e| ProposeError::Stopped(e.to_string()))?;
        Ok(linearizer.read_log_id().index())
    }

    /// [`Consensus::read_index`] for another server's `sync`, counted while it waits.
    pub(crate) async fn read_index_for_learner(&self) -> Result<u64, ProposeError> {
        let _counted = Counted::enter(&self.learner_syncs);
        self.read_index().await
    }

    /// Other servers' syncs waiting for this leader's read index.
    pub(crate) fn pending_learner_syncs(&self) -> usize {
        self.learner_syncs.load(Ordering::Relaxed)
    }

    /// Waits until this server has applied the entry at `index`, at most `timeout`.
    pub(crate) async fn wait_applied(
        &self,
        index: u64,
        timeout: Duration,
    ) -> Result<(), ProposeError> {
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read barrier")
            .await
            .map(|_| ())
            .map_err(|e| ProposeError::Stopped(e.to_string()))
    }

    /// What the leader knows of its followers and observers (empty elsewhere): for each peer,
    /// whether it acknowledged within `fresh_ms` and how far its log is behind the leader's.
    pub(crate) fn replication(&self, fresh_ms: u64) -> Replication {
        let metrics = self.raft.metrics();
        // Clone out at once: a held borrow blocks openraft's metrics flush.
        let m = metrics.borrow_watched().clone();
        let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
        let last_log_index = m.last_log_index.unwrap_or(0);
        let mut peers = Vec::new();
        if let (Some(heartbeat), Some(replication)) = (&m.heartbeat, &m.replication) {
            for (id, acked) in heartbeat {
                if *id == m.id {
                    continue;
                }
                let alive = acked
                    .as_ref()
                    .is_some_and(|at| at.elapsed() <= Duration::from_millis(fresh_ms));
                let matched = replication
                    .get(id)
                    .and_then(|l| l.as_ref())
                    .map(|l| l.index);
                peers.push(PeerProgress {
                    id: *id,
                    voter: voters.contains(id),
                    alive,
                    lag_entries: matched.map(|i| last_log_index.saturating_sub(i)),
                });
            }
        }
        Replication {
            voters: voters.len(),
            peers,
        }
    }

    /// Asks for a snapshot now (the `snap` four-letter word).
    pub(crate) async fn trigger_snapshot(&self) -> Result<(), ProposeError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|fatal| ProposeError::Stopped(fatal.to_string()))
    }

    /// Resolves when the raft node has stopped on a fatal error (for example a failed fsync:
    /// the log store is poisoned and will acknowledge nothing more).
    ///
    /// Polled rather than awaited on the metrics channel: openraft publishes metrics after
    /// every applied batch, and waking a task thousands of times a second under load cost a
    /// few percent of the server's CPU for a state that changes once in a process's life.
    pub(crate) async fn fatal_error(&self) -> String {
        let metrics = self.raft.metrics();
        let mut poll = tokio::time::interval(FATAL_ERROR_POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            poll.tick().await;
            if let Err(fatal) = &metrics.borrow_watched().running_state {
                return fatal.to_string();
            }
        }
    }

    pub(crate) async fn shutdown(&self) {
        if let Err(err) = self.raft.shutdown().await {
            tracing::warn!(%err, "raft shutdown");
        }
    }
}
