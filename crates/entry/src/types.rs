//! openraft's type configuration for Corral and the aliases every crate that reads the log
//! shares (the server, the data tools, the crash tests).

use serde::{Deserialize, Serialize};

use crate::log_entry::{LogEntry, LOG_ENTRY_FORMAT_VERSION};

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
        AsyncRuntime = crate::runtime::CorralRuntime,
);

/// A server id: ZooKeeper's `myid`.
pub type NodeId = u64;
/// One entry of the raft log, as the log store keeps it.
pub type Entry = <TypeConfig as openraft::RaftTypeConfig>::Entry;
pub type Vote = <TypeConfig as openraft::RaftTypeConfig>::Vote;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;

/// Index of `EntryPayload::Normal` among openraft's payload variants (Blank, Normal,
/// Membership), as postcard writes it (a varint).
const NORMAL_PAYLOAD_VARIANT: u32 = 1;

/// Why an encoded openraft entry (as the log store keeps it) could not be decoded, when the
/// reason is a format version this build does not know. postcard drops the text of serde's
/// custom errors, so the log store asks this to name the cause instead of "deserialization
/// error". `None` when the entry's version is one this build reads (the damage is elsewhere).
pub fn explain_undecodable(encoded_entry: &[u8]) -> Option<String> {
    let (prefix, _) = postcard::take_from_bytes::<(LogId, u32, u8)>(encoded_entry).ok()?;
    let (log_id, variant, first) = prefix;
    if variant != NORMAL_PAYLOAD_VARIANT || first <= LOG_ENTRY_FORMAT_VERSION {
        return None;
    }
    Some(format!(
        "log entry {} has format version {first}, unknown to this build (it reads versions 1 \
         to {LOG_ENTRY_FORMAT_VERSION}): it was written by a newer Corral",
        log_id.index
    ))
}
