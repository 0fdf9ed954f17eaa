//! [`ZkTree`]: ZooKeeper's `DataTree` as its files define it — nodes by full path with data,
//! ACL, `StatPersisted` and child names; the ephemerals of each session; the sessions table
//! (id → timeout) that `FileTxnSnapLog` keeps beside it; the last processed zxid; and
//! ZooKeeper's running tree digest.
//!
//! Like ZooKeeper's, the node map is keyed by path and a deleted node's children stay in it
//! (unreachable, but found by path) until the tree is next walked from the root, which is all
//! a snapshot holds. Replay follows `DataTree.processTxn` exactly (`apply.rs`) because
//! ZooKeeper's snapshots are fuzzy: a snapshot may already hold effects of txns after its
//! zxid, and the log replayed over it relies on each rule (parent cversion only raised, pzxid
//! only raised, creates of existing nodes tolerated) to converge.
//!
//! Map: `apply` (processTxn), `digest` (ZooKeeper's digest and its checks), this file (the
//! node map and its bookkeeping).

mod apply;
pub mod digest;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use corral_proto::consts::{perms, CONTAINER_EPHEMERAL_OWNER};
use corral_proto::Acl;

use crate::records::StatPersisted;

pub use apply::ApplyError;

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkNode {
    pub data: Option<Bytes>,
    pub acl: Arc<[Acl]>,
    pub stat: StatPersisted,
    /// Child names.
    pub children: BTreeSet<String>,
}

/// What an `ephemeralOwner` value means (`EphemeralType.get`); the TTL encoding (0xFF in the
/// top byte, reserved bits clear) is one only when extended types are enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Persistent,
    Session,
    Container,
    Ttl,
}

const EXTENDED_MASK: u64 = 0xff00_0000_0000_0000;
const RESERVED_BITS_MASK: u64 = 0x00ff_ff00_0000_0000;

pub fn owner_kind(owner: i64, extended_types: bool) -> OwnerKind {
    let bits = owner as u64;
    if extended_types && bits & EXTENDED_MASK == EXTENDED_MASK && bits & RESERVED_BITS_MASK == 0 {
        return OwnerKind::Ttl;
    }
    match owner {
        0 => OwnerKind::Persistent,
        CONTAINER_EPHEMERAL_OWNER => OwnerKind::Container,
        _ => OwnerKind::Session,
    }
}

/// The owner value of a TTL node (`EphemeralType.TTL.toEphemeralOwner`): valid TTLs are
/// 1 ..= 2^40 - 1.
pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
    (ttl_ms > 0 && ttl_ms <= corral_proto::consts::TTL_MS_MAX)
        .then_some((EXTENDED_MASK | ttl_ms as u64) as i64)
}

pub(crate) fn open_acl() -> Arc<[Acl]> {
    Arc::from(vec![Acl::new(perms::ALL, "world", "anyone")])
}

/// ZooKeeper's data tree (see the module docs).
#[derive(Debug, Clone)]
pub struct ZkTree {
    /// Keyed by path, the root as "/".
    nodes: HashMap<String, ZkNode>,
    /// Paths by owner, for every owner that is not 0 or the container marker (whether a
    /// TTL-looking owner is a session is decided only when extended types are known).
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    /// Session id → timeout in ms.
    pub sessions: BTreeMap<i64, i32>,
    /// The highest zxid applied (or the snapshot's).
    pub last_zxid: i64,
    /// ZooKeeper's digest: the wrapping sum of every node's digest.
    digest: u64,
    /// A createTTL was replayed: the server had extended types enabled.
    pub saw_ttl_create: bool,
}

impl Default for ZkTree {
    fn default() -> Self {
        ZkTree::new()
    }
}

impl ZkTree {
    /// A tree with no node at all (for a snapshot to fill, root first).
    pub fn empty() -> ZkTree {
        ZkTree {
            nodes: HashMap::new(),
            ephemerals: BTreeMap::new(),
            sessions: BTreeMap::new(),
            last_zxid: 0,
            digest: 0,
            saw_ttl_create: false,
        }
    }

    /// A fresh server's tree: `/`, `/zookeeper`, `/zookeeper/quota` (open ACL) and
    /// `/zookeeper/config` (world:anyone:r, aversion -1), empty data, every stat field 0.
    pub fn new() -> ZkTree {
        let mut tree = ZkTree::empty();
        let node = |acl: Arc<[Acl]>, aversion| ZkNode {
            data: Some(Bytes::new()),
            acl,
            stat: StatPersisted {
                aversion,
                ..StatPersisted::default()
            },
            children: BTreeSet::new(),
        };
        let read = Arc::from(vec![Acl::new(perms::READ, "world", "anyone")]);
        // Infallible: each parent is inserted before its child.
        let _ = tree.insert("/", node(open_acl(), 0));
        let _ = tree.insert("/zookeeper", node(open_acl(), 0));
        let _ = tree.insert("/zookeeper/quota", node(open_acl(), 0));
        let _ = tree.insert("/zookeeper/config", node(read, -1));
        tree
    }

    /// Adds a node under its existing parent (snapshot loading; the root first). Errors name
    /// what is wrong: a missing parent or a path given twice.
    pub fn insert(&mut self, path: &str, node: ZkNode) -> Result<(), String> {
        if self.nodes.contains_key(path) {
            return Err(format!("{path} appears twice"));
        }
        if path != "/" {
            let (parent, name) = split(path).ok_or_else(|| format!("bad path {path:?}"))?;
            let parent_node = self
                .nodes
                .get_mut(parent)
                .ok_or_else(|| format!("{path}: its parent {parent} is not before it"))?;
            parent_node.children.insert(name.to_owned());
        }
        self.track_owner(path, node.stat.ephemeral_owner);
        self.digest = self.digest.wrapping_add(digest::node_digest(path, &node));
        self.nodes.insert(path.to_owned(), node);
        Ok(())
    }

    fn track_owner(&mut self, path: &str, owner: i64) {
        if owner != 0 && owner != CONTAINER_EPHEMERAL_OWNER {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(path.to_owned());
        }
    }

    fn untrack_owner(&mut self, path: &str, owner: i64) {
        if let Some(set) = self.ephemerals.get_mut(&owner) {
            set.remove(path);
            if set.is_empty() {
                self.ephemerals.remove(&owner);
            }
        }
    }

    pub fn node(&self, path: &str) -> Option<&ZkNode> {
        self.nodes.get(path)
    }

    /// Nodes in the map (unreachable ones included, as in ZooKeeper's count).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// ZooKeeper's tree digest (`DataTree.getTreeDigest`).
    pub fn digest(&self) -> i64 {
        self.digest as i64
    }

    /// Every node reachable from the root, parents before children, children in name order
    /// (a snapshot's content). Unreachable leftovers of deleted parents are not visited.
    pub fn walk(&self) -> Vec<(String, &ZkNode)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let Some(root) = self.nodes.get("/") else {
            return out;
        };
        let mut stack = vec![("/".to_owned(), root)];
        while let Some((path, node)) = stack.pop() {
            for name in node.children.iter().rev() {
                let child = join(&path, name);
                if let Some(child_node) = self.nodes.get(&child) {
                    stack.push((child, child_node));
                }
            }
            out.push((path, node));
        }
        out
    }

    /// Ephemeral paths by session, for owners that are sessions under `extended_types`.
    pub fn ephemerals(
        &self,
        extended_types: bool,
    ) -> impl Iterator<Item = (i64, &BTreeSet<String>)> {
        self.ephemerals
            .iter()
            .filter(move |(owner, _)| owner_kind(**owner, extended_types) == OwnerKind::Session)
            .map(|(owner, paths)| (*owner, paths))
    }

    /// Whether any node's owner is a TTL value under extended types that is not a session id
    /// in the table: the server that wrote it had extended types enabled.
    pub fn has_ttl_owners(&self) -> bool {
        self.ephemerals.keys().any(|&owner| {
            owner_kind(owner, true) == OwnerKind::Ttl && !self.sessions.contains_key(&owner)
        })
    }

    /// What ZooKeeper does after loading its database (`ZooKeeperServer.loadData`): the
    /// ephemerals of sessions missing from the sessions table are deleted, at the last zxid.
    /// Returns the paths deleted.
    pub fn kill_dead_sessions(&mut self, extended_types: bool) -> Vec<String> {
        let dead: Vec<i64> = self
            .ephemerals(extended_types)
            .map(|(owner, _)| owner)
            .filter(|owner| !self.sessions.contains_key(owner))
            .collect();
        let mut deleted = Vec::new();
        for owner in dead {
            let paths = self.ephemerals.remove(&owner).unwrap_or_default();
            for path in paths {
                if self.delete_node(&path, self.last_zxid).is_ok() {
                    deleted.push(path);
                }
            }
        }
        deleted
    }

    /// Replaces a node's content under the digest (`preChange` / `postChange`).
    fn change(&mut self, path: &str, f: impl FnOnce(&mut ZkNode)) -> bool {
        let Some(node) = self.nodes.get_mut(path) else {
            return false;
        };
        self.digest = self.digest.wrapping_sub(digest::node_digest(path, node));
        f(node);
        self.digest = self.digest.wrapping_add(digest::node_digest(path, node));
        true
    }
}

/// The parent's key and the last segment of a path ("/a" → ("/", "a")); `None` without '/'.
pub(crate) fn split(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    let parent = &path[..slash];
    Some((
        if parent.is_empty() { "/" } else { parent },
        &path[slash + 1..],
    ))
}

pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}
