//! The replicated ZooKeeper state machine: the data tree, ACLs, the sessions table, and
//! `apply(zxid, txn)`.
//!
//! Pure and deterministic: no I/O, no clock, no randomness, no iteration over hash order
//! inside apply. The same log prefix gives the same tree on every replica. Watches are not
//! here (they belong to connections, which are per server): apply returns the
//! [`WatchTrigger`]s a change causes and the server fires them.
//!
//! Semantics are ZooKeeper 3.9's, checked against its source (`PrepRequestProcessor`,
//! `DataTree`, `DataNode`, `FinalRequestProcessor`, `MultiOperationRecord`, `Op`,
//! `EphemeralType`, `PathUtils`, `auth/*`): the order of validation steps, Stat maintenance,
//! watch triggers and their order. Where this crate deliberately differs, the item says so.
//!
//! Map:
//! - [`txn`]: the log entry payload.
//! - `node` / `store`: the compact node layout (80 bytes: 48-bit stat fields, 4-byte ids, the
//!   name — not the path — and data behind a thin pointer) and the arena + path index + child
//!   lists + owner side table. `payload` / `pool`: the name+data block and the headerless
//!   size-class pool it comes from; `hash`: the keyed streaming path hash of the index.
//! - `acl` / `auth`: ACL fix-up, permission checks, providers, the interned ACL store.
//! - `session`: the sessions table and each session's ephemerals.
//! - `prep` + `create` + `multi`: validation of writes against a scratch view (ZooKeeper's
//!   "change records"), producing effects that cannot fail; `multi` is all-or-nothing because
//!   nothing is applied before every op has been validated.
//! - `mutate`: applying effects the way `DataTree` does, collecting watch triggers.
//! - `apply`: the txn dispatcher; `read`: the read operations; `digest`: the replica digest.
//! - `snapshot`: the versioned snapshot stream, copy-on-write snapshots that do not pause
//!   writes, and loading (see `FORMAT.md`); [`PlainState`], every node by path, for format
//!   converters.
//!
//! API CONTRACT (the server codes against these signatures).

mod acl;
mod apply;
mod auth;
mod create;
mod digest;
mod hash;
mod multi;
mod mutate;
mod node;
mod path;
mod payload;
mod pool;
mod prep;
mod read;
mod session;
mod snapshot;
mod store;
pub mod txn;

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, Id, Stat};

pub use auth::{AuthProviders, SaslProvider, X509Provider};
pub use snapshot::{
    PlainNode, PlainState, SnapshotError, SnapshotToken, FORMAT_VERSION as SNAPSHOT_FORMAT_VERSION,
};
pub use txn::{Txn, TxnKind, WriteOp};

use acl::AclStore;
use node::{Node, NodeId};
use session::Sessions;
use store::Store;

/// Settings that change apply's results; identical on every replica.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types_enabled: bool,
    /// `skipACL=yes`: no ACL checks at all.
    pub skip_acl: bool,
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

/// The replicated state: nodes, ACLs, sessions. See the crate docs.
pub struct DataTree {
    config: TreeConfig,
    providers: AuthProviders,
    store: Store,
    acls: AclStore,
    sessions: Sessions,
    /// Ids of container nodes (classified once, at creation, as ZooKeeper does).
    containers: BTreeSet<NodeId>,
    /// Ids of TTL nodes.
    ttls: BTreeSet<NodeId>,
    last_applied_zxid: i64,
    /// Sum of path and data lengths (`DataTree.approximateDataSize`).
    data_bytes: u64,
    /// The running copy-on-write snapshot, if any (see `snapshot/`).
    cow: Option<Box<snapshot::Cow>>,
    /// Counts `begin_snapshot` calls, tying tokens to the snapshot they started.
    snapshot_generation: u64,
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` (world:anyone:cdrwa) and
    /// `/zookeeper/config` (world:anyone:r, aversion -1), every other stat field 0 and empty
    /// (not null) data, exactly as a fresh standalone ZooKeeper reports them.
    pub fn new(config: TreeConfig) -> DataTree {
        DataTree::with_providers(config, AuthProviders::default())
    }

    /// Like [`DataTree::new`] with a non-default set of authentication providers (which
    /// schemes ACLs may name, and how ids match).
    pub fn with_providers(config: TreeConfig, providers: AuthProviders) -> DataTree {
        let mut acls = AclStore::default();
        let open = acls.intern(&acl::open_acl_unsafe());
        let root = Node::new("", Some(&[]), open, 0, 0).unwrap_or_else(|| unreachable!());
        let mut tree = DataTree {
            config,
            providers,
            store: Store::new(root),
            acls,
            sessions: Sessions::default(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_applied_zxid: 0,
            data_bytes: 1,
            cow: None,
            snapshot_generation: 0,
        };
        tree.add_builtin("/zookeeper", acl::open_acl_unsafe(), 0);
        tree.add_builtin("/zookeeper/quota", acl::open_acl_unsafe(), 0);
        tree.add_builtin("/zookeeper/config", acl::read_acl_unsafe(), -1);
        tree
    }

    fn add_builtin(&mut self, path: &str, acl: Vec<Acl>, aversion: i32) {
        let acl = self.acls.intern(&acl);
        let Some(mut node) = Node::new(path::name_of(path), Some(&[]), acl, 0, 0) else {
            return;
        };
        if !node.set_aversion(aversion) {
            return;
        }
        let parent = self.store.lookup(path::parent_of(path));
        if let Some(parent) = parent {
            self.store.insert(parent, path, node, 0);
            self.data_bytes += path.len() as u64;
        }
    }

    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// Applies the txn at log index `zxid` (strictly increasing across calls). A txn that
    /// fails changes nothing but `last_applied_zxid`.
    pub fn apply(&mut self, zxid: i64, txn: &Txn) -> ApplyOutcome {
        self.apply_txn(zxid, txn, true)
    }

    /// [`DataTree::apply`] for a caller with no watch registered anywhere: the same change,
    /// but the outcome lists no watch triggers (each costs a path copy), so the tree is the
    /// same whichever of the two applied a txn.
    pub fn apply_unwatched(&mut self, zxid: i64, txn: &Txn) -> ApplyOutcome {
        self.apply_txn(zxid, txn, false)
    }

    pub fn last_applied_zxid(&self) -> i64 {
        self.last_applied_zxid
    }

    // ---- reads; `identities` are the connection's auth ids (scheme "super" = superuser) ----

    /// Stat of a node. A NUL in the path → BADARGUMENTS (the only path check); NOAUTH if the
    /// node exists and READ is missing (3.9.2); NONODE.
    pub fn exists(&self, path: &str, identities: &[Id]) -> Result<Stat, ErrorCode> {
        self.read_exists(path, identities)
    }

    /// NONODE, then NOAUTH (READ). Null data stays `None`.
    pub fn get_data(
        &self,
        path: &str,
        identities: &[Id],
    ) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        self.read_data(path, identities)
    }

    /// NONODE, then NOAUTH (READ). Names sorted.
    pub fn get_children(
        &self,
        path: &str,
        identities: &[Id],
    ) -> Result<(Vec<String>, Stat), ErrorCode> {
        self.read_children(path, identities)
    }

    /// NONODE, then NOAUTH unless READ or ADMIN; without ADMIN digest ids are masked.
    pub fn get_acl(&self, path: &str, identities: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        self.read_acl(path, identities)
    }

    /// NONODE, then NOAUTH (READ); the number of descendants.
    pub fn get_all_children_number(&self, path: &str, identities: &[Id]) -> Result<i32, ErrorCode> {
        self.read_all_children_number(path, identities)
    }

    /// The session's ephemerals whose path starts with `prefix` (blank or "/" → all), sorted.
    pub fn get_ephemerals(&self, session_id: i64, prefix: &str) -> Vec<String> {
        self.read_ephemerals(session_id, prefix)
    }

    /// multiRead: each op on its own. The server must answer a multiRead holding write ops with
    /// MARSHALLINGERROR as a whole (ZooKeeper does); here such ops yield that error each.
    pub fn multi_read(&self, ops: &[MultiOp], identities: &[Id]) -> Vec<MultiResult> {
        self.read_multi(ops, identities)
    }

    /// Stat without any ACL check (setWatches catch-up, 4lw).
    pub fn stat(&self, path: &str) -> Option<Stat> {
        let id = self.store.lookup(path)?;
        self.store
            .get(id)
            .map(|n| n.stat(self.store.owner(id), self.config.extended_types_enabled))
    }

    /// ACL of a node without any check (watch registration filtering).
    pub fn node_acl(&self, path: &str) -> Option<Arc<[Acl]>> {
        self.store.node(path).map(|n| self.acls.get(n.acl))
    }

    /// Whether `identities` hold `perm` on a node with `acl` (honours skipACL and super).
    pub fn permits(&self, acl: &[Acl], perm: i32, identities: &[Id]) -> bool {
        self.config.skip_acl || acl::permits(&self.providers, acl, perm, identities)
    }

    // ---- sessions ----
    pub fn session(&self, session_id: i64) -> Option<SessionInfo> {
        self.sessions.get(session_id).cloned()
    }

    /// Every live session, ordered by id.
    pub fn sessions(&self) -> Vec<(i64, SessionInfo)> {
        self.sessions
            .iter()
            .map(|(id, info)| (id, info.clone()))
            .collect()
    }

    // ---- figures for 4lw / metrics ----

    /// ZooKeeper's "Node count": its node map holds the root twice (as "/" and as the "" alias),
    /// so a fresh server reports 5 for its 4 nodes. This reports the same figure.
    pub fn node_count(&self) -> usize {
        self.store.len() + 1
    }

    pub fn ephemeral_count(&self) -> usize {
        self.sessions.ephemeral_count()
    }

    /// Sum over nodes of path length + data length (`approximateDataSize`; paths in bytes).
    pub fn approximate_data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Ephemeral paths by owning session (the `dump` 4lw), sessions and paths sorted.
    pub fn ephemerals_by_session(&self) -> Vec<(i64, Vec<String>)> {
        self.sessions
            .owners()
            .map(|owner| (owner, self.ephemeral_paths(owner)))
            .collect()
    }

    /// Containers and TTL nodes that the reaper should delete now, in path order, at most
    /// `limit`: empty containers whose stored cversion > 0 (or never used and older than
    /// `max_never_used_ms` when that is non-zero), and childless TTL nodes with
    /// `now_ms - mtime > ttl`.
    pub fn reap_candidates(
        &self,
        now_ms: i64,
        max_never_used_ms: i64,
        limit: usize,
    ) -> Vec<String> {
        self.read_reap_candidates(now_ms, max_never_used_ms, limit)
    }

    /// A digest of the whole replicated state (nodes in path order with data, stat and ACL,
    /// sessions, last applied zxid): equal on replicas that applied the same txns.
    pub fn digest(&self) -> u64 {
        digest::digest(self)
    }

    /// Number of distinct ACL lists in use.
    pub fn acl_list_count(&self) -> usize {
        self.acls.len()
    }

    /// Every node path in a stable order (slot order), for snapshots and checks.
    pub fn paths(&self) -> Vec<String> {
        self.store.ids().map(|id| self.store.path_of(id)).collect()
    }
}
