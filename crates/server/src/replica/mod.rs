//! This server's copy of the replicated state and what applying an entry does locally.
//!
//! [`Replica`] owns the tree, this server's watch registry and the applied zxid, all private:
//! - reads go through [`Replica::read`], which hands out the tree under its read lock together
//!   with the only way to register a watch, so "watches are added only under the tree's read
//!   lock" (ARCHITECTURE.md invariant 10) holds by construction;
//! - committed entries go through [`Replica::apply_batch`] (see [`apply`]) under the write
//!   lock, with their local effects delivered through [`Effects`].
//!
//! Lock order: the tree's lock first, then the watch registry's mutex; never the other way.
//!
//! Architecture invariant: `replica/` never names `clients/`, `connection/` or `raft/`.

pub(crate) mod apply;
pub(crate) mod effects;

use std::sync::atomic::{AtomicI64, Ordering};

use corral_tree::{DataTree, SnapshotToken, WatchEvent as TreeWatchEvent};
use parking_lot::{Mutex, RwLock, RwLockReadGuard};

pub(crate) use effects::{Answer, Effects, WatchEvent};

use crate::ids::{ConnectionId, ServerId, Zxid};
use crate::watches::{Delivery, StandardWatch, WatchRegistry};

pub(crate) struct Replica {
    server_id: ServerId,
    tree: RwLock<DataTree>,
    watches: Mutex<WatchRegistry>,
    /// Index of the last applied log entry of any kind: the zxid replies carry.
    applied: AtomicI64,
}

/// A read's view of the replica: the tree under its read lock, and watch registration.
pub(crate) struct ReadView<'a> {
    tree: &'a DataTree,
    watches: &'a Mutex<WatchRegistry>,
}

impl<'a> ReadView<'a> {
    pub(crate) fn tree(&self) -> &'a DataTree {
        self.tree
    }

    pub(crate) fn add_standard(&self, conn: ConnectionId, path: &str, kind: StandardWatch) {
        self.watches.lock().add_standard(conn, path, kind);
    }

    pub(crate) fn add_persistent(&self, conn: ConnectionId, path: &str, recursive: bool) {
        self.watches.lock().add_persistent(conn, path, recursive);
    }

    pub(crate) fn has_watch(&self, conn: ConnectionId, path: &str, watcher_type: i32) -> bool {
        self.watches.lock().contains(conn, path, watcher_type)
    }

    pub(crate) fn remove_watch(&self, conn: ConnectionId, path: &str, watcher_type: i32) -> bool {
        self.watches.lock().remove(conn, path, watcher_type)
    }
}

impl Replica {
    pub(crate) fn new(server_id: ServerId, tree: DataTree) -> Replica {
        Replica {
            server_id,
            tree: RwLock::new(tree),
            watches: Mutex::new(WatchRegistry::default()),
            applied: AtomicI64::new(0),
        }
    }

    pub(crate) fn applied(&self) -> Zxid {
        self.applied.load(Ordering::Acquire)
    }

    fn advance_applied(&self, zxid: Zxid) {
        let before = self.applied.fetch_max(zxid, Ordering::AcqRel);
        debug_assert!(before <= zxid, "applied zxid went back: {before} -> {zxid}");
    }

    /// Runs a read: `f` sees the tree under its read lock and may register watches. A reply
    /// queued inside `f` is queued before any event a later apply fires (invariant 4).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&ReadView<'_>) -> R) -> R {
        let tree = self.tree.read();
        let view = ReadView {
            tree: &tree,
            watches: &self.watches,
        };
        f(&view)
    }

    /// The tree for status reports and the reaper's scan (no watch can be set through it).
    pub(crate) fn tree(&self) -> RwLockReadGuard<'_, DataTree> {
        self.tree.read()
    }

    /// Runs `f` on the watch registry (status reports, a closed connection's cleanup).
    pub(crate) fn with_watches<R>(&self, f: impl FnOnce(&mut WatchRegistry) -> R) -> R {
        f(&mut self.watches.lock())
    }

    /// Replaces the tree with one restored from a snapshot at `index`.
    pub(crate) fn restore(&self, tree: DataTree, index: u64) {
        *self.tree.write() = tree;
        self.applied.store(index_zxid(index), Ordering::Release);
    }

    /// Starts a copy-on-write snapshot of the tree as it is now.
    pub(crate) fn begin_snapshot(&self) -> SnapshotToken {
        self.tree.write().begin_snapshot()
    }

    /// Appends up to `nodes` nodes of the snapshot to `out` under the read lock; true when done.
    pub(crate) fn write_snapshot_chunk(
        &self,
        token: &mut SnapshotToken,
        out: &mut Vec<u8>,
        nodes: usize,
    ) -> bool {
        self.tree.read().write_snapshot_chunk(token, out, nodes)
    }

    pub(crate) fn end_snapshot(&self, token: SnapshotToken) {
        self.tree.write().end_snapshot(token);
    }

    fn deliveries(&self, path: &str, event: TreeWatchEvent) -> Vec<Delivery> {
        self.watches.lock().trigger(path, event)
    }
}

fn index_zxid(index: u64) -> Zxid {
    i64::try_from(index).expect("a log index beyond i64::MAX")
}
