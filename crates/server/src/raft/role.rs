//! This server's role in the ensemble, published as a `tokio::sync::watch` for the parts that
//! start and stop with it (leader duties, the operator view), from openraft's server metrics —
//! the narrow channel that changes only with the vote, the state or the membership, not after
//! every applied batch.

use openraft::async_runtime::watch::WatchReceiver;
use std::time::Duration;

use openraft::Instant as _;
use openraft::ServerState;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Raft;
use crate::ids::ServerId;

/// What this server is doing, in ZooKeeper's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Leads: proposes writes, expires sessions, reaps containers.
    Leader,
    /// A voter following a known leader.
    Follower,
    /// A non-voting learner (ZooKeeper's observer).
    Observer,
    /// No leader is known: an election is on, or the node is stopping.
    Looking,
}

/// The role with the leader and the term it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleState {
    pub role: Role,
    pub leader: Option<ServerId>,
    /// The Raft term (ZooKeeper's epoch).
    pub term: u64,
}

impl RoleState {
    pub const LOOKING: RoleState = RoleState {
        role: Role::Looking,
        leader: None,
        term: 0,
    };
}

fn role_of(state: ServerState, leader: Option<ServerId>, me: ServerId) -> Role {
    match state {
        ServerState::Leader if leader == Some(me) => Role::Leader,
        ServerState::Follower if leader.is_some() => Role::Follower,
        ServerState::Learner if leader.is_some() => Role::Observer,
        _ => Role::Looking,
    }
}

/// The role openraft reports now.
pub(crate) fn current_role(raft: &Raft, me: ServerId) -> RoleState {
    // Clone out at once: a held borrow blocks openraft's metrics flush.
    let metrics = raft.server_metrics();
    let m = metrics.borrow_watched();
    RoleState {
        role: role_of(m.state, m.current_leader, me),
        leader: m.current_leader,
        term: m.vote.leader_id().term,
    }
}

/// Publishes the role into `publish` until openraft stops or `stopped` changes.
///
/// With a `lease` (an ensemble), a leader that has not heard from a quorum within it is
/// published as [`Role::Looking`]: openraft keeps such a leader in its `Leader` state but
/// refuses its writes, and a ZooKeeper leader in that position steps down and drops its
/// clients (after `syncLimit` ticks), which is what the rest of the server then does.
pub(crate) async fn follow_role(
    raft: Raft,
    me: ServerId,
    lease: Option<Duration>,
    publish: watch::Sender<RoleState>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut metrics = raft.server_metrics();
    let mut checks = tokio::time::interval(lease.map_or(Duration::from_secs(3600), |l| l / 4));
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading_since: Option<(u64, Instant)> = None;
    loop {
        let mut state = current_role(&raft, me);
        if let (Role::Leader, Some(lease)) = (state.role, lease) {
            let since = match leading_since {
                Some((term, at)) if term == state.term => at,
                _ => {
                    let now = Instant::now();
                    leading_since = Some((state.term, now));
                    now
                }
            };
            if !quorum_heard_within(&raft, since, lease) {
                state = RoleState {
                    role: Role::Looking,
                    leader: None,
                    term: state.term,
                };
            }
        }
        publish.send_if_modified(|current| {
            let changed = *current != state;
            if changed {
                tracing::info!(role = ?state.role, leader = ?state.leader, term = state.term, "role changed");
                *current = state;
            }
            changed
        });
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { break },
            _ = checks.tick() => {}
            _ = stopped.changed() => break,
        }
    }
    publish.send_replace(RoleState::LOOKING);
}

/// Whether a quorum acknowledged this leader within `lease` (counting from `since`, when it
/// started leading, until the first acknowledgement).
fn quorum_heard_within(raft: &Raft, since: Instant, lease: Duration) -> bool {
    let metrics = raft.metrics();
    let acked_age = metrics
        .borrow_watched()
        .last_quorum_acked
        .as_ref()
        .map(|at| at.elapsed());
    let since_age = since.elapsed();
    acked_age.map_or(since_age, |age| age.min(since_age)) <= lease
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_in_zookeeper_terms() {
        assert_eq!(role_of(ServerState::Leader, Some(1), 1), Role::Leader);
        assert_eq!(role_of(ServerState::Follower, Some(2), 1), Role::Follower);
        assert_eq!(role_of(ServerState::Follower, None, 1), Role::Looking);
        assert_eq!(role_of(ServerState::Learner, Some(2), 4), Role::Observer);
        assert_eq!(role_of(ServerState::Candidate, None, 1), Role::Looking);
        assert_eq!(role_of(ServerState::Shutdown, Some(1), 1), Role::Looking);
    }
}
