//! Copy-on-write state of a running snapshot: which nodes the writer will still visit, and the
//! pre-snapshot versions of those that apply changed or deleted meanwhile.
//!
//! Only what the stream holds matters: a node's name, parent, data, stat, ACL and owner. Name,
//! parent and owner never change while the node lives; data, stat and ACL change through
//! `mutate.rs`, which calls [`DataTree::preserve`] before each change and before a delete.
//! Child links and counts change too but are not written (the loader rebuilds them), so
//! linking a new child under a node needs no copy — only its cversion/pzxid update does.
//!
//! A node needs a copy only if it existed at `begin_snapshot` (id below `end`: ids are not
//! reused while a snapshot runs) and the writer has not passed it yet (id at or past `cursor`,
//! which the writer moves under the read lock, so apply always sees a settled value). Each
//! node is copied at most once: the first copy is the pre-snapshot version.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::hash::IdMap;
use crate::node::{Node, NodeId};
use crate::store::Store;
use crate::DataTree;

pub(crate) struct Cow {
    /// Ties the running snapshot to its token.
    pub(crate) generation: u64,
    /// The slot count at `begin_snapshot`.
    end: NodeId,
    /// Ids below this are already written.
    cursor: AtomicU32,
    /// Pre-snapshot versions (node, owner) of nodes changed or deleted before being written.
    preserved: IdMap<(Node, i64)>,
}

impl Cow {
    pub(crate) fn new(generation: u64, end: NodeId) -> Cow {
        Cow {
            generation,
            end,
            cursor: AtomicU32::new(0),
            preserved: IdMap::default(),
        }
    }

    pub(crate) fn preserved_len(&self) -> usize {
        self.preserved.len()
    }

    /// The pre-snapshot version of `id`, if it was copied.
    pub(crate) fn preserved(&self, id: NodeId) -> Option<(&Node, i64)> {
        if self.preserved.is_empty() {
            return None;
        }
        self.preserved.get(&id).map(|(node, owner)| (node, *owner))
    }

    /// Records the writer's progress: every id below `next` is written.
    pub(crate) fn advance(&self, next: NodeId) {
        // Writer and apply are serialised by the tree's lock; the atomic only lets the writer
        // record progress through `&self`.
        self.cursor.store(next, Ordering::Relaxed);
    }

    fn keep(&mut self, store: &Store, id: NodeId) {
        if id >= self.end || id < self.cursor.load(Ordering::Relaxed) {
            return;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.preserved.entry(id) {
            if let Some(node) = store.get(id) {
                slot.insert((node.clone(), store.owner(id)));
            }
        }
    }
}

impl DataTree {
    /// Called by `mutate.rs` before a node's data, stat or ACL changes, or before it is
    /// deleted: keeps its current version if a running snapshot still needs it.
    #[inline]
    pub(crate) fn preserve(&mut self, id: NodeId) {
        if let Some(cow) = self.cow.as_deref_mut() {
            cow.keep(&self.store, id);
        }
    }
}
