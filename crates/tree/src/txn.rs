//! The replicated log entry payload: a [`Txn`] carries a client write plus everything
//! non-deterministic the leader decided once (session id, time, password, the caller's
//! identities), so every replica applies it to the same result.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use corral_proto::multi::MultiOp;
use corral_proto::records::{CreateTtlRequest, DeleteRequest, SetAclRequest, SetDataRequest};
use corral_proto::{Id, OpCode};

/// One entry of the replicated log (besides Raft's own membership/blank entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// The session the txn belongs to (0 for server-internal txns such as reaping).
    pub session_id: i64,
    /// The client's xid, kept for logs and tracing.
    pub cxid: i32,
    /// Leader wall-clock time in ms since the epoch: becomes ctime/mtime, and the "now" of TTL
    /// checks during apply.
    pub time_ms: i64,
    pub kind: TxnKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnKind {
    /// A new session; id and password were chosen by the leader.
    CreateSession { timeout_ms: i32, password: [u8; 16] },
    /// closeSession from the client, or expiry decided by the leader. Deletes the session's
    /// ephemerals in path order.
    CloseSession { expired: bool },
    /// A client write. `identities` are the connection's authenticated ids at the time the
    /// request arrived (always including `ip:<addr>`; `super:` when the connection is super).
    /// Shared with the connection, which hands the same list to every write it submits
    /// (encoded like a `Vec`, so the log format does not depend on it).
    Write { identities: Arc<[Id]>, op: WriteOp },
    /// The container/TTL reaper's delete (opcode 20): fails harmlessly if the node gained a
    /// child or changed meanwhile.
    DeleteContainer { path: String },
}

/// The write operations that go through the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOp {
    /// create (1), create2 (15), createContainer (19) or createTTL (21): `op` picks the reply
    /// shape; non-TTL creates carry `ttl = -1`.
    Create {
        op: OpCode,
        request: CreateTtlRequest,
    },
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    SetAcl(SetAclRequest),
    Multi(Vec<MultiOp>),
}
