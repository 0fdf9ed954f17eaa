//! This server's role in the ensemble, published as a `tokio::sync::watch` for the parts that
//! start and stop with it (leader duties, the operator view), from openraft's server metrics —
//! the narrow channel that changes only with the vote, the state or the membership, not after
//! every applied batch.

use openraft::async_runtime::watch::WatchReceiver;
use openraft::ServerState;
use tokio::sync::watch;

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
pub(crate) async fn follow_role(
    raft: Raft,
    me: ServerId,
    publish: watch::Sender<RoleState>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut metrics = raft.server_metrics();
    loop {
        let state = {
            // Clone out at once: a held borrow blocks openraft's metrics flush.
            let m = metrics.borrow_watched();
            RoleState {
                role: role_of(m.state, m.current_leader, me),
                leader: m.current_leader,
                term: m.vote.leader_id().term,
            }
        };
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
            _ = stopped.changed() => break,
        }
    }
    publish.send_replace(RoleState::LOOKING);
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
