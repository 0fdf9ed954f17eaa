//! The node arena: slots addressed by 4-byte [`NodeId`]s, a free list, a path index, and the
//! intrusive child lists. It knows nothing of ZooKeeper's rules; `mutate.rs` drives it.
//!
//! - The index is a hash table of node ids keyed by the path stored in the node itself, so a
//!   path is held once. Its hash seed is random per process: it only decides where ids sit in
//!   the table, never an order anything is reported in.
//! - Freed slots are reused last-freed-first, so ids are a function of the txn history. A
//!   copy-on-write snapshot will need to hold freed ids back while it runs (see `release`).
//! - `ids()` walks the slots in id order: a stable order for snapshots.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::node::{Node, NodeId, NIL};

/// The root is always slot 0.
pub(crate) const ROOT: NodeId = 0;

pub(crate) struct Store {
    slots: Vec<Option<Node>>,
    free: Vec<NodeId>,
    index: HashTable<NodeId>,
    hasher: std::collections::hash_map::RandomState,
    len: usize,
}

impl Store {
    /// A store holding only `root` (whose path must be "/").
    pub(crate) fn new(root: Node) -> Store {
        let mut store = Store {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: std::collections::hash_map::RandomState::new(),
            len: 0,
        };
        store.slots.push(Some(root));
        store.len = 1;
        store.index_insert(ROOT);
        store
    }

    /// Live nodes (the root included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The node at `path`; "" is an alias of the root, as in ZooKeeper's `nodes` map.
    pub(crate) fn lookup(&self, path: &str) -> Option<NodeId> {
        if path.is_empty() {
            return Some(ROOT);
        }
        let hash = self.hasher.hash_one(path);
        let slots = &self.slots;
        self.index
            .find(hash, |&id| {
                slots
                    .get(id as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|n| n.path_bytes() == path.as_bytes())
            })
            .copied()
    }

    pub(crate) fn get(&self, id: NodeId) -> Option<&Node> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    pub(crate) fn node(&self, path: &str) -> Option<&Node> {
        self.lookup(path).and_then(|id| self.get(id))
    }

    /// Stores `node` as the first child of `parent`; the caller has checked that the path is
    /// free and that `parent` is its parent. `None` when the arena is full (2^32 - 1 nodes).
    pub(crate) fn insert(&mut self, parent: NodeId, mut node: Node) -> Option<NodeId> {
        let old_first = self.get(parent)?.first_child;
        node.next_sibling = old_first;
        node.prev_sibling = NIL;
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(node);
                id
            }
            None => {
                let id = NodeId::try_from(self.slots.len())
                    .ok()
                    .filter(|&id| id != NIL)?;
                self.slots.push(Some(node));
                id
            }
        };
        if let Some(next) = self.get_mut(old_first) {
            next.prev_sibling = id;
        }
        if let Some(p) = self.get_mut(parent) {
            p.first_child = id;
            p.num_children += 1;
        }
        self.index_insert(id);
        self.len += 1;
        Some(id)
    }

    /// Unlinks `id` from its parent's child list and from the index, frees its slot and returns
    /// the node. The caller guarantees `parent` is its parent.
    pub(crate) fn remove(&mut self, parent: NodeId, id: NodeId) -> Option<Node> {
        if id == ROOT {
            return None;
        }
        self.index_remove(id);
        let node = self.slots.get_mut(id as usize)?.take()?;
        if let Some(prev) = self.get_mut(node.prev_sibling) {
            prev.next_sibling = node.next_sibling;
        }
        if let Some(next) = self.get_mut(node.next_sibling) {
            next.prev_sibling = node.prev_sibling;
        }
        if let Some(p) = self.get_mut(parent) {
            if p.first_child == id {
                p.first_child = node.next_sibling;
            }
            p.num_children = p.num_children.saturating_sub(1);
        }
        self.release(id);
        self.len -= 1;
        Some(node)
    }

    /// Makes a freed slot reusable. (A copy-on-write snapshot will park ids here instead while
    /// it runs, so that a slot it still has to read is never overwritten by a new node.)
    fn release(&mut self, id: NodeId) {
        self.free.push(id);
    }

    /// The children of `id`, most recently created first.
    pub(crate) fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            store: self,
            next: self.get(id).map_or(NIL, |n| n.first_child),
        }
    }

    /// Every live node id in slot order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_some())
            .map(|(i, _)| i as NodeId)
    }

    fn index_insert(&mut self, id: NodeId) {
        let Store {
            slots,
            index,
            hasher,
            ..
        } = self;
        let Some(path) = slot_path(slots, id) else {
            return;
        };
        let hash = hasher.hash_one(path);
        index.insert_unique(hash, id, |&other| {
            hasher.hash_one(slot_path(slots, other).unwrap_or_default())
        });
    }

    fn index_remove(&mut self, id: NodeId) {
        let Some(path) = slot_path(&self.slots, id) else {
            return;
        };
        let hash = self.hasher.hash_one(path);
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
    }
}

fn slot_path(slots: &[Option<Node>], id: NodeId) -> Option<&str> {
    slots
        .get(id as usize)
        .and_then(Option::as_ref)
        .map(Node::path)
}

pub(crate) struct Children<'a> {
    store: &'a Store,
    next: NodeId,
}

impl<'a> Iterator for Children<'a> {
    type Item = (NodeId, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        let id = self.next;
        let node = self.store.get(id)?;
        self.next = node.next_sibling;
        Some((id, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str) -> Node {
        Node::new(path, None, 0, 0, 0, 0)
    }

    fn child_paths(store: &Store, id: NodeId) -> Vec<String> {
        let mut v: Vec<String> = store
            .children(id)
            .map(|(_, n)| n.path().to_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn insert_lookup_remove() {
        let mut s = Store::new(node("/"));
        assert_eq!(s.lookup(""), Some(ROOT));
        assert_eq!(s.lookup("/"), Some(ROOT));
        let a = s.insert(ROOT, node("/a")).unwrap();
        let b = s.insert(ROOT, node("/b")).unwrap();
        let c = s.insert(ROOT, node("/c")).unwrap();
        let ab = s.insert(a, node("/a/b")).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s.lookup("/a/b"), Some(ab));
        assert_eq!(child_paths(&s, ROOT), ["/a", "/b", "/c"]);
        assert_eq!(s.get(ROOT).unwrap().num_children, 3);
        // unlink from the middle, the head and the tail
        s.remove(ROOT, b).unwrap();
        assert_eq!(child_paths(&s, ROOT), ["/a", "/c"]);
        s.remove(ROOT, c).unwrap();
        assert_eq!(child_paths(&s, ROOT), ["/a"]);
        assert_eq!(s.lookup("/b"), None);
        let d = s.insert(ROOT, node("/d")).unwrap();
        assert_eq!(d, c, "last freed slot is reused first");
        assert_eq!(child_paths(&s, ROOT), ["/a", "/d"]);
        assert_eq!(s.get(ROOT).unwrap().num_children, 2);
        assert_eq!(s.ids().count(), s.len());
        assert!(s.remove(ROOT, ROOT).is_none());
    }

    #[test]
    fn many_nodes_stay_indexed() {
        let mut s = Store::new(node("/"));
        for i in 0..2000 {
            s.insert(ROOT, node(&format!("/n{i}"))).unwrap();
        }
        for i in (0..2000).step_by(2) {
            let id = s.lookup(&format!("/n{i}")).unwrap();
            s.remove(ROOT, id).unwrap();
        }
        for i in 0..2000 {
            assert_eq!(s.lookup(&format!("/n{i}")).is_some(), i % 2 == 1);
        }
        assert_eq!(s.get(ROOT).unwrap().num_children, 1000);
        assert_eq!(s.children(ROOT).count(), 1000);
    }
}
