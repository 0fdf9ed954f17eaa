//! openraft's type configuration for Corral and the aliases every crate that reads the log
//! shares (the server, the data tools, the crash tests).

use serde::{Deserialize, Serialize};

use crate::log_entry::LogEntry;

/// What apply hands back to a `client_write` caller: the entry's zxid. Clients are answered by
/// the state machine itself, in apply order, not through this value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReply {
    pub zxid: i64,
}

openraft::declare_raft_types!(
    /// Corral's raft types: u64 node ids (ZooKeeper's `myid`), [`LogEntry`] payloads.
    pub TypeConfig:
        D = LogEntry,
        R = ApplyReply,
);

/// A server id: ZooKeeper's `myid`.
pub type NodeId = u64;
/// One entry of the raft log, as the log store keeps it.
pub type Entry = <TypeConfig as openraft::RaftTypeConfig>::Entry;
pub type Vote = <TypeConfig as openraft::RaftTypeConfig>::Vote;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
