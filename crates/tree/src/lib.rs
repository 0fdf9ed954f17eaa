//! The replicated ZooKeeper state machine: the data tree, ACLs, the sessions table, and
//! `apply(zxid, txn)`.
//!
//! Pure and deterministic: no I/O, no clock, no randomness, no iteration over hash order
//! inside apply. The same log prefix gives the same tree on every replica. Watches are not
//! here (they belong to connections, which are per server): apply returns the
//! [`WatchTrigger`]s a change causes and the server fires them.
//!
//! API CONTRACT (implemented by the tree owner; the server codes against these signatures).

pub mod txn;

use std::sync::Arc;

use bytes::Bytes;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, Id, Stat};

pub use txn::{Txn, TxnKind, WriteOp};

/// Settings that change apply's results; identical on every replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types_enabled: bool,
    /// `skipACL=yes`: no ACL checks at all.
    pub skip_acl: bool,
}

impl Default for TreeConfig {
    fn default() -> Self {
        TreeConfig {
            extended_types_enabled: false,
            skip_acl: false,
        }
    }
}

/// The kind of change a watch can observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchEvent {
    NodeCreated,
    NodeDeleted,
    NodeDataChanged,
    NodeChildrenChanged,
}

/// One change made by an applied txn, in the order ZooKeeper fires them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTrigger {
    pub path: String,
    pub event: WatchEvent,
    /// ACL of the node the event is about (for NodeChildrenChanged: the parent), as it was
    /// when the change happened: events are dropped for watchers without READ on it.
    pub acl: Arc<[Acl]>,
}

/// What applying one txn produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The reply for the requesting session (for CreateSession/CloseSession: `Response::Empty`).
    pub result: Result<Response, ErrorCode>,
    pub triggers: Vec<WatchTrigger>,
}

/// A session as the replicated table knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub timeout_ms: i32,
    pub password: [u8; 16],
}

pub struct DataTree {
    _private: (),
}

impl DataTree {
    pub fn new(_config: TreeConfig) -> DataTree {
        todo!()
    }
    /// Applies the txn at log index `zxid` (strictly increasing across calls).
    pub fn apply(&mut self, _zxid: i64, _txn: &Txn) -> ApplyOutcome {
        todo!()
    }
    pub fn last_applied_zxid(&self) -> i64 {
        todo!()
    }

    // ---- reads; `identities` are the connection's auth ids (scheme "super" = superuser) ----
    pub fn exists(&self, _path: &str, _identities: &[Id]) -> Result<Stat, ErrorCode> {
        todo!()
    }
    pub fn get_data(&self, _path: &str, _identities: &[Id]) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        todo!()
    }
    pub fn get_children(&self, _path: &str, _identities: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        todo!()
    }
    pub fn get_acl(&self, _path: &str, _identities: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        todo!()
    }
    pub fn get_all_children_number(&self, _path: &str, _identities: &[Id]) -> Result<i32, ErrorCode> {
        todo!()
    }
    pub fn get_ephemerals(&self, _session_id: i64, _prefix: &str) -> Vec<String> {
        todo!()
    }
    pub fn multi_read(&self, _ops: &[MultiOp], _identities: &[Id]) -> Vec<MultiResult> {
        todo!()
    }
    /// Stat without any ACL check (setWatches catch-up, 4lw).
    pub fn stat(&self, _path: &str) -> Option<Stat> {
        todo!()
    }
    /// ACL of a node without any check (watch registration filtering).
    pub fn node_acl(&self, _path: &str) -> Option<Arc<[Acl]>> {
        todo!()
    }
    /// Whether `identities` hold `perm` on a node with `acl` (honours skipACL and super).
    pub fn permits(&self, _acl: &[Acl], _perm: i32, _identities: &[Id]) -> bool {
        todo!()
    }

    // ---- sessions ----
    pub fn session(&self, _session_id: i64) -> Option<SessionInfo> {
        todo!()
    }
    /// Every live session, ordered by id.
    pub fn sessions(&self) -> Vec<(i64, SessionInfo)> {
        todo!()
    }

    // ---- figures for 4lw / metrics ----
    pub fn node_count(&self) -> usize {
        todo!()
    }
    pub fn ephemeral_count(&self) -> usize {
        todo!()
    }
    pub fn approximate_data_bytes(&self) -> u64 {
        todo!()
    }
    /// Ephemeral paths by owning session (the `dump` 4lw).
    pub fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
        todo!()
    }

    /// Containers and TTL nodes that the reaper should delete now, in path order, at most
    /// `limit`: empty containers whose stored cversion > 0 (or never used and older than
    /// `max_never_used_ms` when that is non-zero), and childless TTL nodes with
    /// `now_ms - mtime > ttl`.
    pub fn reap_candidates(&self, _now_ms: i64, _max_never_used_ms: i64, _limit: usize) -> Vec<String> {
        todo!()
    }
}
