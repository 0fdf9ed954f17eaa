//! The node arena: slots addressed by 4-byte [`NodeId`]s, a free list, a name index, the
//! intrusive child lists, and the owner side table. It knows nothing of ZooKeeper's rules;
//! `mutate.rs` drives it.
//!
//! - Nodes store their name, not their path (ZooKeeper keeps every full path as a map key *and*
//!   every name in its parent's child set). The index is a hash table of node ids keyed by a
//!   keyed hash of the full path (`hash.rs`), so a lookup is one probe, like a map of paths;
//!   the 31-bit hash is kept in the node (`Node::tag`) for rehashing, and a candidate is
//!   confirmed by comparing the path's segments with the names up its parent chain, whose
//!   upper levels are few and hot in cache. (Probing segment by segment costs a cache miss per
//!   level: measured 1.5–2.7× slower on a deep million-node tree.) The price of not storing
//!   paths, measured against the earlier full-path layout: none on a 2-level million-node
//!   tree; on random cold lookups in a 6-level one, ~0.4 µs more (1.3 vs 0.9 µs), the
//!   parents' cache misses. The keys are random per store: they only decide where ids sit in
//!   the table, never an order anything is reported in.
//! - `ephemeralOwner` is zero for almost every node, so it lives in a side table keyed by id,
//!   flagged in the node ([`HAS_OWNER`]), instead of costing 8 bytes in every node.
//! - Freed slots are reused last-freed-first. While a copy-on-write snapshot runs the free list
//!   is frozen ([`Store::freeze_ids`]): a slot the snapshot still has to read is never filled
//!   by a new node, and every node created meanwhile gets an id past the snapshot's end.
//! - `ids()` walks the slots in id order: the order snapshots are written in.

use hashbrown::HashTable;

use crate::hash::{IdMap, PathKeys};
use crate::node::{Node, NodeId, HAS_OWNER, NIL, PATH_HASH};

/// The root is always slot 0.
pub(crate) const ROOT: NodeId = 0;

/// Why assembling a loaded arena failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssembleError {
    /// Two nodes with the same parent and name.
    DuplicatePath,
    /// A node whose parent chain does not reach the root (a cycle).
    Unreachable,
    /// A parent reference out of range, or the root given a parent.
    BadParent,
}

pub(crate) struct Store {
    slots: Vec<Option<Node>>,
    free: Vec<NodeId>,
    /// Ids freed while the free list is frozen; released when it thaws.
    parked: Vec<NodeId>,
    frozen: bool,
    index: HashTable<NodeId>,
    keys: PathKeys,
    owners: IdMap<i64>,
    len: usize,
}

/// The 31 bits of a full path's hash that nodes keep (`path` starts with '/' and is not "/").
fn path_hash(keys: PathKeys, path: &[u8]) -> u32 {
    (keys.hash(path) as u32) & PATH_HASH
}

/// Spreads a kept 31-bit hash over the 64 bits the table uses (bucket bits low, tag bits high).
fn table_hash(path_hash: u32) -> u64 {
    u64::from(path_hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Store {
    /// A store holding only `root` (whose name must be "").
    pub(crate) fn new(root: Node) -> Store {
        let mut store = Store::empty(1);
        store.slots.push(Some(root));
        store.len = 1;
        store
    }

    fn empty(capacity: usize) -> Store {
        Store {
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            parked: Vec::new(),
            frozen: false,
            index: HashTable::with_capacity(capacity),
            keys: PathKeys::random(),
            owners: IdMap::default(),
            len: 0,
        }
    }

    /// Live nodes (the root included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// One past the highest id ever handed out.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The node at `path` known to be a child of `parent` (so `path` ends in `/name`):
    /// confirming a candidate needs no walk up the parent chain. Exact only for a canonical
    /// `path` (no empty segment) whose parent part resolves to `parent`, as a validated create
    /// path does; anything else must use [`Store::lookup`].
    pub(crate) fn child(&self, parent: NodeId, path: &str) -> Option<NodeId> {
        let name = &path.as_bytes()[path.rfind('/').map_or(0, |slash| slash + 1)..];
        let hash = path_hash(self.keys, path.as_bytes());
        let slots = &self.slots;
        self.index
            .find(table_hash(hash), |&id| {
                slots
                    .get(id as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|n| n.parent == parent && n.name_bytes() == name)
            })
            .copied()
    }

    /// The node at `path`; "" is an alias of the root, as in ZooKeeper's `nodes` map. A path
    /// that is not absolute, or has an empty segment, is not found.
    pub(crate) fn lookup(&self, path: &str) -> Option<NodeId> {
        if path.is_empty() || path == "/" {
            return Some(ROOT);
        }
        if !path.starts_with('/') {
            return None;
        }
        let hash = path_hash(self.keys, path.as_bytes());
        self.index
            .find(table_hash(hash), |&id| {
                self.get(id)
                    .is_some_and(|n| n.path_hash() == hash && self.is_path_of(id, path))
            })
            .copied()
    }

    /// Whether the names from `id` up to the root spell `path` exactly.
    fn is_path_of(&self, id: NodeId, path: &str) -> bool {
        let mut rest = path.as_bytes();
        let mut next = id;
        while next != ROOT {
            let Some(node) = self.get(next) else {
                return false;
            };
            let name = node.name_bytes();
            let Some(prefix) = rest.strip_suffix(name) else {
                return false;
            };
            let Some(prefix) = prefix.strip_suffix(b"/") else {
                return false;
            };
            rest = prefix;
            next = node.parent;
        }
        rest.is_empty()
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

    /// The stored `ephemeralOwner` of a node (0 for persistent nodes and unknown ids).
    pub(crate) fn owner(&self, id: NodeId) -> i64 {
        match self.get(id) {
            Some(n) if n.has_owner() => self.owners.get(&id).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// The full path of a node, rebuilt from the names up the parent chain.
    pub(crate) fn path_of(&self, id: NodeId) -> String {
        let mut names = Vec::new();
        let mut len = 0;
        let mut next = id;
        while next != ROOT {
            let Some(node) = self.get(next) else {
                break;
            };
            names.push(node.name());
            len += node.name_bytes().len() + 1;
            next = node.parent;
        }
        if names.is_empty() {
            return "/".to_owned();
        }
        let mut path = String::with_capacity(len);
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(name);
        }
        path
    }

    /// Stores `node` at `path` as the first child of `parent`, with `owner` (0: none); the
    /// caller has checked that `path` is free, that `parent` is its parent and that the node's
    /// name is its last segment. `None` when the arena is full (2^32 - 1 nodes).
    pub(crate) fn insert(
        &mut self,
        parent: NodeId,
        path: &str,
        mut node: Node,
        owner: i64,
    ) -> Option<NodeId> {
        let old_first = self.get(parent)?.first_child;
        node.parent = parent;
        node.next_sibling = old_first;
        node.prev_sibling = NIL;
        node.first_child = NIL;
        node.num_children = 0;
        node.tag = path_hash(self.keys, path.as_bytes());
        if owner != 0 {
            node.tag |= HAS_OWNER;
        }
        let reuse = if self.frozen { None } else { self.free.pop() };
        let id = match reuse {
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
        if owner != 0 {
            self.owners.insert(id, owner);
        }
        self.index_insert(id);
        self.len += 1;
        Some(id)
    }

    /// Unlinks `id` from its parent's child list and from the index, frees its slot and returns
    /// the node with its owner (0: none).
    pub(crate) fn remove(&mut self, id: NodeId) -> Option<(Node, i64)> {
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
        if let Some(p) = self.get_mut(node.parent) {
            if p.first_child == id {
                p.first_child = node.next_sibling;
            }
            p.num_children = p.num_children.saturating_sub(1);
        }
        let owner = if node.has_owner() {
            self.owners.remove(&id).unwrap_or(0)
        } else {
            0
        };
        if self.frozen {
            self.parked.push(id);
        } else {
            self.free.push(id);
        }
        self.len -= 1;
        Some((node, owner))
    }

    /// The empty slots below [`Store::slot_count`], ascending: every freed id not handed out
    /// again (O(holes log holes); a snapshot's record ordinals are derived from it).
    pub(crate) fn holes_sorted(&self) -> Vec<NodeId> {
        let mut holes = Vec::with_capacity(self.free.len() + self.parked.len());
        holes.extend_from_slice(&self.free);
        holes.extend_from_slice(&self.parked);
        holes.sort_unstable();
        debug_assert_eq!(
            holes.len() + self.len,
            self.slots.len(),
            "holes + nodes = slots"
        );
        holes
    }

    /// Stops reusing freed ids (a snapshot is reading the slots below the current end).
    pub(crate) fn freeze_ids(&mut self) {
        self.frozen = true;
    }

    /// Reuses freed ids again, those freed while frozen last-freed-first.
    pub(crate) fn thaw_ids(&mut self) {
        self.frozen = false;
        self.free.append(&mut self.parked);
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
        let Store { slots, index, .. } = self;
        let Some(node) = slots.get(id as usize).and_then(Option::as_ref) else {
            return;
        };
        let hash = table_hash(node.path_hash());
        index.insert_unique(hash, id, |&other| slot_hash(slots, other));
    }

    fn index_remove(&mut self, id: NodeId) {
        let Some(node) = self.get(id) else {
            return;
        };
        let hash = table_hash(node.path_hash());
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
    }

    /// Builds a store from decoded nodes: slot `i` holds node `i`, whose `parent` is set (the
    /// root, slot 0, has [`NIL`]). Links the child lists, checks that every node reaches the
    /// root, hashes every path and builds the index (refusing two nodes at one path), and
    /// returns the store with the sum of path lengths (for `approximate_data_bytes`).
    pub(crate) fn assemble(
        nodes: Vec<Option<Node>>,
        owners: IdMap<i64>,
    ) -> Result<(Store, u64), AssembleError> {
        let count = nodes.len();
        let mut store = Store::empty(0);
        store.index = HashTable::with_capacity(count);
        store.slots = nodes;
        store.len = count;
        for (&id, _) in owners.iter() {
            if let Some(node) = store.get_mut(id) {
                node.tag |= HAS_OWNER;
            }
        }
        store.owners = owners;
        match store.get(ROOT) {
            Some(root) if root.parent == NIL => {}
            _ => return Err(AssembleError::BadParent),
        }
        // Link children. Slots are dense, so every id below `count` is live.
        for i in 1..count {
            let id = i as NodeId;
            let parent = store.get(id).map_or(NIL, |n| n.parent);
            if parent == id || parent as usize >= count {
                return Err(AssembleError::BadParent);
            }
            let old_first = store.get(parent).map_or(NIL, |p| p.first_child);
            if let Some(node) = store.get_mut(id) {
                node.next_sibling = old_first;
            }
            if let Some(next) = store.get_mut(old_first) {
                next.prev_sibling = id;
            }
            if let Some(p) = store.get_mut(parent) {
                p.first_child = id;
                p.num_children += 1;
            }
        }
        // Walk down from the root: every node must be reached (a node outside is on a cycle),
        // each is hashed and indexed on the way. The hash state after each ancestor's path is
        // kept per depth (the hash is streaming), so every path byte is hashed once in all.
        let mut reached = 1usize;
        let mut path_bytes = 1u64;
        let mut states = vec![store.keys.hasher()];
        // Index entries as (table position << 32 | id): inserted in position order below, so
        // the table is filled front to back instead of at random (the load's largest cost).
        let buckets = (count.max(8) * 8 / 7).next_power_of_two() as u64;
        let bucket_mask = (buckets - 1).min(u64::from(u32::MAX));
        let mut order: Vec<u64> = Vec::with_capacity(count);
        // (node, depth of its parent, length of its parent's path)
        let mut stack: Vec<(NodeId, usize, u64)> =
            store.children(ROOT).map(|(c, _)| (c, 0, 0)).collect();
        while let Some((id, depth, parent_len)) = stack.pop() {
            let Some(node) = store.get(id) else {
                return Err(AssembleError::BadParent);
            };
            let name = node.name_bytes();
            let len = parent_len + 1 + name.len() as u64;
            reached += 1;
            path_bytes += len;
            states.truncate(depth + 1);
            let Some(&parent_state) = states.last() else {
                return Err(AssembleError::BadParent);
            };
            let mut state = parent_state;
            state.write(b"/");
            state.write(name);
            states.push(state);
            let hash = (state.finish() as u32) & PATH_HASH;
            order.push(((table_hash(hash) & bucket_mask) << 32) | u64::from(id));
            if let Some(node) = store.get_mut(id) {
                node.tag |= hash;
            }
            stack.extend(store.children(id).map(|(c, _)| (c, depth + 1, len)));
        }
        if reached != count {
            return Err(AssembleError::Unreachable);
        }
        order.sort_unstable();
        // Equal paths have equal hashes, hence equal positions: they are neighbours in `order`
        // (within the run of one position), so duplicates are found there.
        let mut run_start = 0;
        for i in 0..order.len() {
            if order[i] >> 32 != order[run_start] >> 32 {
                run_start = i;
            }
            let id = order[i] as NodeId;
            for &other in &order[run_start..i] {
                if store.same_path(id, other as NodeId) {
                    return Err(AssembleError::DuplicatePath);
                }
            }
        }
        let Store { slots, index, .. } = &mut store;
        for key in order {
            let id = key as NodeId;
            let hash = slot_hash(slots, id);
            index.insert_unique(hash, id, |&other| slot_hash(slots, other));
        }
        Ok((store, path_bytes))
    }
}

impl Store {
    /// Whether two nodes sit at the same path (same parent, same name).
    fn same_path(&self, a: NodeId, b: NodeId) -> bool {
        match (self.get(a), self.get(b)) {
            (Some(x), Some(y)) => x.parent == y.parent && x.name_bytes() == y.name_bytes(),
            _ => false,
        }
    }
}

fn slot_hash(slots: &[Option<Node>], id: NodeId) -> u64 {
    match slots.get(id as usize).and_then(Option::as_ref) {
        Some(n) => table_hash(n.path_hash()),
        None => 0,
    }
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

    fn node(name: &str) -> Node {
        Node::new(name, None, 0, 0, 0).unwrap()
    }

    fn child_names(store: &Store, id: NodeId) -> Vec<String> {
        let mut v: Vec<String> = store
            .children(id)
            .map(|(_, n)| n.name().to_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn insert_lookup_remove() {
        let mut s = Store::new(node(""));
        assert_eq!(s.lookup(""), Some(ROOT));
        assert_eq!(s.lookup("/"), Some(ROOT));
        let a = s.insert(ROOT, "/a", node("a"), 0).unwrap();
        let b = s.insert(ROOT, "/b", node("b"), 0).unwrap();
        let c = s.insert(ROOT, "/c", node("c"), 0).unwrap();
        let ab = s.insert(a, "/a/b", node("b"), 7).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s.lookup("/a/b"), Some(ab));
        assert_eq!(s.path_of(ab), "/a/b");
        assert_eq!(s.path_of(ROOT), "/");
        assert_eq!(s.owner(ab), 7);
        assert_eq!(s.owner(a), 0);
        for bad in ["a", "/a/", "//a", "/a//b", "/b/b", "/a/b/"] {
            assert_eq!(s.lookup(bad), None, "{bad}");
        }
        assert_eq!(child_names(&s, ROOT), ["a", "b", "c"]);
        assert_eq!(s.get(ROOT).unwrap().num_children, 3);
        // unlink from the middle, the head and the tail
        s.remove(b).unwrap();
        assert_eq!(child_names(&s, ROOT), ["a", "c"]);
        s.remove(c).unwrap();
        assert_eq!(child_names(&s, ROOT), ["a"]);
        assert_eq!(s.lookup("/b"), None);
        let d = s.insert(ROOT, "/d", node("d"), 0).unwrap();
        assert_eq!(d, c, "last freed slot is reused first");
        assert_eq!(child_names(&s, ROOT), ["a", "d"]);
        assert_eq!(s.get(ROOT).unwrap().num_children, 2);
        assert_eq!(s.ids().count(), s.len());
        assert!(s.remove(ROOT).is_none());
        let (_, owner) = s.remove(ab).unwrap();
        assert_eq!(owner, 7);
        assert_eq!(s.owners.len(), 0);
    }

    /// `assemble` extends parents' hashes by one name, `lookup` hashes whole paths: every
    /// assembled node must be found by its path (names straddle the hash's 8-byte words).
    #[test]
    fn assembled_nodes_are_found_by_path() {
        let names = ["a", "bcdefgh", "ijklmnopq", "r", "stuvwxyz0123", "é"];
        let mut nodes = vec![loaded("", NIL)];
        let mut paths = vec![String::new()];
        for (i, name) in names.iter().enumerate() {
            nodes.push(loaded(name, i as NodeId));
            paths.push(format!("{}/{name}", paths[i]));
        }
        nodes.push(loaded("sibling", 2));
        let (s, bytes) = Store::assemble(nodes, IdMap::default()).unwrap();
        for (id, path) in paths.iter().enumerate().skip(1) {
            assert_eq!(s.lookup(path), Some(id as NodeId), "{path}");
            assert_eq!(&s.path_of(id as NodeId), path);
        }
        assert_eq!(s.lookup("/a/bcdefgh/sibling"), Some(7));
        let total: usize =
            paths.iter().map(String::len).sum::<usize>() + "/a/bcdefgh/sibling".len();
        assert_eq!(bytes, 1 + total as u64);
    }

    #[test]
    fn frozen_ids_are_not_reused() {
        let mut s = Store::new(node(""));
        let a = s.insert(ROOT, "/a", node("a"), 0).unwrap();
        s.remove(a).unwrap();
        s.freeze_ids();
        let b = s.insert(ROOT, "/b", node("b"), 0).unwrap();
        assert_ne!(a, b, "a free id is not reused while frozen");
        s.remove(b).unwrap();
        let c = s.insert(ROOT, "/c", node("c"), 0).unwrap();
        assert!(c > b);
        s.thaw_ids();
        let d = s.insert(ROOT, "/d", node("d"), 0).unwrap();
        assert_eq!(d, b, "parked ids come back last-freed-first");
    }

    #[test]
    fn many_nodes_stay_indexed() {
        let mut s = Store::new(node(""));
        for i in 0..2000 {
            s.insert(ROOT, &format!("/n{i}"), node(&format!("n{i}")), 0)
                .unwrap();
        }
        for i in (0..2000).step_by(2) {
            let id = s.lookup(&format!("/n{i}")).unwrap();
            s.remove(id).unwrap();
        }
        for i in 0..2000 {
            assert_eq!(s.lookup(&format!("/n{i}")).is_some(), i % 2 == 1);
        }
        assert_eq!(s.get(ROOT).unwrap().num_children, 1000);
        assert_eq!(s.children(ROOT).count(), 1000);
    }

    fn loaded(name: &str, parent: NodeId) -> Option<Node> {
        let mut n = node(name);
        n.parent = parent;
        Some(n)
    }

    #[test]
    fn assemble_checks_structure() {
        let ok = vec![loaded("", NIL), loaded("a", 2), loaded("b", 0)];
        let (s, bytes) = Store::assemble(ok, IdMap::from_iter([(1, 5)])).unwrap();
        assert_eq!(s.lookup("/b/a"), Some(1));
        assert_eq!(s.owner(1), 5);
        assert_eq!(bytes, 1 + 2 + 4, "/, /b, /b/a");
        let dup = vec![loaded("", NIL), loaded("a", 0), loaded("a", 0)];
        assert_eq!(
            Store::assemble(dup, IdMap::default()).err(),
            Some(AssembleError::DuplicatePath)
        );
        let cycle = vec![loaded("", NIL), loaded("a", 2), loaded("b", 1)];
        assert_eq!(
            Store::assemble(cycle, IdMap::default()).err(),
            Some(AssembleError::Unreachable)
        );
        let selfref = vec![loaded("", NIL), loaded("a", 1)];
        assert_eq!(
            Store::assemble(selfref, IdMap::default()).err(),
            Some(AssembleError::BadParent)
        );
        let mut many = vec![loaded("", NIL)];
        many.extend((0..500).map(|i| loaded(&format!("n{i}"), 0)));
        many.push(loaded("n317", 0));
        assert_eq!(
            Store::assemble(many, IdMap::default()).err(),
            Some(AssembleError::DuplicatePath),
            "a duplicate among many siblings"
        );
        let mut same_name = vec![loaded("", NIL), loaded("a", 0), loaded("b", 0)];
        same_name.extend([loaded("x", 1), loaded("x", 2)]);
        assert!(Store::assemble(same_name, IdMap::default()).is_ok());
        let out = vec![loaded("", NIL), loaded("a", 9)];
        assert_eq!(
            Store::assemble(out, IdMap::default()).err(),
            Some(AssembleError::BadParent)
        );
    }
}
