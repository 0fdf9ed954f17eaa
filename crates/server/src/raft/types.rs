//! openraft's type configuration for Corral.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use corral_tree::Txn;

/// Which server and connection submitted a txn, so that the server it came from can answer
/// the client when it applies the entry (every replica applies it; only the origin replies).
/// Not part of the replicated state: apply ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub server_id: u64,
    pub connection_id: u64,
}

/// The payload of a normal log entry. The txn is shared: the log store's cache, openraft and
/// the state machine each hold the entry, and cloning it must not copy paths and data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub origin: Option<Origin>,
    pub txn: Arc<Txn>,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "txn(session=0x{:x}, cxid={}, {:?})",
            self.txn.session_id,
            self.txn.cxid,
            std::mem::discriminant(&self.txn.kind)
        )
    }
}

/// What apply hands back to a `client_write` caller: the entry's zxid. Clients are answered
/// by the state machine itself, in apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReply {
    pub zxid: i64,
}

openraft::declare_raft_types!(
    /// Corral's raft types: u64 node ids (ZooKeeper's `myid`), `LogEntry` payloads.
    pub TypeConfig:
        D = LogEntry,
        R = ApplyReply,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig, state_machine_type::Sm>;
pub type Entry = <TypeConfig as openraft::RaftTypeConfig>::Entry;
pub type Vote = <TypeConfig as openraft::RaftTypeConfig>::Vote;

mod state_machine_type {
    pub type Sm = super::super::state_machine::StateMachine;
}
