//! What the AdminServer's ensemble commands (`leader`, `voting_view`, `zabstate`) read: this
//! server's place in the configured membership and who leads now, as plain data.

use super::StatusSource;
use crate::ids::Zxid;
use crate::raft::Role;

/// One configured member (`voting_view`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    pub id: u64,
    /// The quorum port's host as written (`leader_ip`).
    pub host: String,
    /// `host:quorumPort` (IPv6 in brackets).
    pub quorum_address: String,
    /// `host:electionPort`.
    pub election_address: String,
    /// `host:clientPort` when the server line names one, else empty (as ZooKeeper).
    pub client_address: String,
    pub observer: bool,
}

/// `leader`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderFacts {
    pub is_leader: bool,
    /// -1 while no leader is known (ZooKeeper's value).
    pub leader_id: i64,
    /// The leader's host; empty while none is known.
    pub leader_ip: String,
}

/// `zabstate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZabFacts {
    pub my_id: u64,
    pub is_leader: bool,
    pub quorum_address: String,
    pub election_address: String,
    pub client_address: String,
    /// A voter (not an observer) of the configuration.
    pub voting: bool,
    pub last_zxid: Zxid,
    /// ZooKeeper's phase word: `broadcast` once a leader is known, `election` before.
    /// Corral's Raft has no separate discovery and synchronization phases.
    pub zab_state: &'static str,
}

impl StatusSource {
    /// The configured members, by id; empty for a standalone server.
    pub fn members(&self) -> &[MemberFacts] {
        &self.conf.members
    }

    fn me(&self) -> Option<&MemberFacts> {
        self.conf
            .members
            .iter()
            .find(|m| m.id == self.conf.server_id)
    }

    /// `None` for a standalone server (ZooKeeper: "server is not initialized").
    pub fn leader_facts(&self) -> Option<LeaderFacts> {
        self.me()?;
        let role = self.role();
        let leader = role
            .leader
            .and_then(|id| self.conf.members.iter().find(|m| m.id == id));
        Some(LeaderFacts {
            is_leader: role.role == Role::Leader,
            leader_id: leader.map_or(-1, |m| m.id as i64),
            leader_ip: leader.map_or_else(String::new, |m| m.host.clone()),
        })
    }

    /// The observers synced with this leader (alive, at most
    /// [`SYNCED_LAG_ENTRIES_MAX`](super::SYNCED_LAG_ENTRIES_MAX) behind); empty unless leading.
    pub fn synced_observers(&self) -> Vec<&MemberFacts> {
        if self.conf.standalone || self.role().role != Role::Leader {
            return Vec::new();
        }
        let replication = self.consensus.replication(self.conf.peer_fresh_ms);
        self.conf
            .members
            .iter()
            .filter(|m| {
                replication.peers.iter().any(|p| {
                    p.id == m.id
                        && !p.voter
                        && p.alive
                        && p.lag_entries
                            .is_some_and(|lag| lag <= super::SYNCED_LAG_ENTRIES_MAX)
                })
            })
            .collect()
    }

    /// `None` for a standalone server.
    pub fn zab_facts(&self) -> Option<ZabFacts> {
        let me = self.me()?;
        let role = self.role().role;
        Some(ZabFacts {
            my_id: me.id,
            is_leader: role == Role::Leader,
            quorum_address: me.quorum_address.clone(),
            election_address: me.election_address.clone(),
            client_address: self.conf.client_addr.to_string(),
            voting: !me.observer,
            last_zxid: self.replica.applied(),
            zab_state: match role {
                Role::Looking => "election",
                _ => "broadcast",
            },
        })
    }
}
