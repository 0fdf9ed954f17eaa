//! Encoding: the header (ACL table and sessions included) is built when the snapshot begins;
//! node records are produced chunk by chunk in arena id order, from the live node or, if apply
//! changed it since, from its preserved pre-snapshot version.
//!
//! Parents are written as record ordinals, not arena ids, so the loader gets a dense arena
//! whatever holes the writer's had. The ordinal of every node is fixed at `begin_snapshot`:
//! ids are not reused while the snapshot runs, so the nodes in it are exactly the ids below
//! the end that were not holes then, and a node's ordinal is its id minus the holes below it
//! (a binary search in the sorted holes, taken at begin). Why not a table of ordinals:
//! filling it read every slot of the arena, a cache miss per node, which was a third of a
//! snapshot's encoding time.

use crate::node::{Node, NodeId, NIL};
use crate::snapshot::format::{
    put_bytes, put_varint, put_zz, CONFIG_EXTENDED_TYPES, CONFIG_SKIP_ACL, END_MAGIC,
    FORMAT_VERSION, MAGIC, NODE_HAS_DATA, NODE_HAS_OWNER,
};
use crate::DataTree;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Nodes,
    Done,
    Aborted,
}

/// A snapshot in progress: returned by [`DataTree::begin_snapshot`], fed to
/// [`DataTree::write_snapshot_chunk`] until it returns true, then given back to
/// [`DataTree::end_snapshot`].
#[derive(Debug)]
pub struct SnapshotToken {
    /// `None` for a one-go write of an unchanging tree (`write_snapshot`).
    generation: Option<u64>,
    zxid: i64,
    node_count: u32,
    /// Slot count at the start: ids at or past it were created later.
    end: NodeId,
    header: Vec<u8>,
    /// ACL id in the tree → index in the snapshot's ACL table.
    acl_index: Vec<u32>,
    /// The arena's empty slots below `end` at the start, ascending.
    holes: Vec<NodeId>,
    next: NodeId,
    written: u32,
    phase: Phase,
}

impl SnapshotToken {
    /// The last applied zxid the snapshot is taken at.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// Nodes in the snapshot (the root included).
    pub fn node_count(&self) -> u32 {
        self.node_count
    }

    /// The whole stream has been produced.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// A later `begin_snapshot` aborted this one: its output is incomplete and must be
    /// discarded.
    pub fn is_aborted(&self) -> bool {
        self.phase == Phase::Aborted
    }

    pub(crate) fn generation(&self) -> Option<u64> {
        self.generation
    }

    pub(crate) fn end_id(&self) -> NodeId {
        self.end
    }

    /// The record ordinal of `id`, a node in the snapshot (NIL for an id past the end).
    fn ordinal(&self, id: NodeId) -> u32 {
        if id >= self.end {
            return NIL;
        }
        let holes_below = self.holes.partition_point(|&hole| hole < id);
        id - holes_below as u32
    }
}

impl DataTree {
    /// Encodes header, ACL table and sessions, and fixes the set of nodes to write.
    pub(crate) fn prepare_token(&self, generation: Option<u64>) -> SnapshotToken {
        let node_count = u32::try_from(self.store.len()).unwrap_or(u32::MAX);
        let mut header = Vec::with_capacity(64 + 32 * self.sessions.len());
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let mut config = 0;
        if self.config.extended_types_enabled {
            config |= CONFIG_EXTENDED_TYPES;
        }
        if self.config.skip_acl {
            config |= CONFIG_SKIP_ACL;
        }
        header.push(config);
        header.extend_from_slice(&self.last_applied_zxid.to_le_bytes());
        header.extend_from_slice(&node_count.to_le_bytes());

        let mut acl_index = vec![u32::MAX; self.acls.slot_count()];
        let lists: Vec<_> = self.acls.live().collect();
        header.extend_from_slice(&(lists.len() as u32).to_le_bytes());
        for (dense, (id, list)) in lists.into_iter().enumerate() {
            if let Some(slot) = acl_index.get_mut(id as usize) {
                *slot = dense as u32;
            }
            put_varint(&mut header, list.len() as u64);
            for entry in list.iter() {
                put_zz(&mut header, i64::from(entry.perms));
                put_bytes(&mut header, entry.id.scheme.as_bytes());
                put_bytes(&mut header, entry.id.id.as_bytes());
            }
        }

        header.extend_from_slice(&(self.sessions.len() as u32).to_le_bytes());
        for (id, info) in self.sessions.iter() {
            header.extend_from_slice(&id.to_le_bytes());
            header.extend_from_slice(&info.timeout_ms.to_le_bytes());
            header.extend_from_slice(&info.password);
        }

        SnapshotToken {
            generation,
            zxid: self.last_applied_zxid,
            node_count,
            end: NodeId::try_from(self.store.slot_count()).unwrap_or(NIL),
            header,
            acl_index,
            holes: self.store.holes_sorted(),
            next: 0,
            written: 0,
            phase: Phase::Header,
        }
    }

    pub(crate) fn write_chunk(
        &self,
        token: &mut SnapshotToken,
        out: &mut Vec<u8>,
        max_nodes: usize,
    ) -> bool {
        if matches!(token.phase, Phase::Done | Phase::Aborted) {
            return true;
        }
        let cow = match token.generation {
            None => None,
            Some(generation) => match self.cow.as_deref() {
                Some(cow) if cow.generation == generation => Some(cow),
                _ => {
                    token.phase = Phase::Aborted;
                    return true;
                }
            },
        };
        if token.phase == Phase::Header {
            out.append(&mut token.header);
            token.phase = Phase::Nodes;
        }
        let budget = max_nodes.max(1);
        // Bound the slots scanned per call too, so a chunk over a sparse arena stays short.
        let scan_limit = budget.saturating_mul(8).max(4096);
        let (mut emitted, mut scanned) = (0, 0);
        while token.next < token.end && emitted < budget && scanned < scan_limit {
            let id = token.next;
            token.next += 1;
            scanned += 1;
            let found = match cow.and_then(|c| c.preserved(id)) {
                Some(kept) => Some(kept),
                None => self.store.get(id).map(|n| (n, self.store.owner(id))),
            };
            if let Some((node, owner)) = found {
                self.encode_node(token, out, node, owner);
                emitted += 1;
            }
        }
        if let Some(cow) = cow {
            cow.advance(token.next);
        }
        if token.next < token.end {
            return false;
        }
        debug_assert_eq!(token.written, token.node_count, "snapshot node count");
        out.extend_from_slice(&END_MAGIC);
        out.extend_from_slice(&token.written.to_le_bytes());
        token.phase = Phase::Done;
        true
    }

    fn encode_node(&self, token: &mut SnapshotToken, out: &mut Vec<u8>, node: &Node, owner: i64) {
        let (name, data) = node.name_and_data();
        // Flags, parent, 8 stat varints, ACL index and owner take at most 1 + 5 + 8 * 10 + 5 + 8
        // bytes, each length prefix at most 10: one reservation for the whole record.
        out.reserve(120 + name.len() + data.map_or(0, <[u8]>::len));
        let mut flags = 0;
        if data.is_some() {
            flags |= NODE_HAS_DATA;
        }
        if owner != 0 {
            flags |= NODE_HAS_OWNER;
        }
        out.push(flags);
        let parent = match node.parent {
            NIL => 0,
            id => token.ordinal(id),
        };
        put_varint(out, u64::from(parent));
        put_bytes(out, name);
        if let Some(data) = data {
            put_bytes(out, data);
        }
        let (czxid, ctime) = (node.czxid(), node.ctime());
        put_zz(out, czxid);
        put_zz(out, node.mzxid().wrapping_sub(czxid));
        put_zz(out, node.pzxid().wrapping_sub(czxid));
        put_zz(out, ctime);
        put_zz(out, node.mtime().wrapping_sub(ctime));
        put_zz(out, i64::from(node.version));
        put_zz(out, i64::from(node.cversion));
        put_zz(out, i64::from(node.aversion()));
        let acl = token
            .acl_index
            .get(node.acl as usize)
            .copied()
            .unwrap_or(u32::MAX);
        put_varint(out, u64::from(acl));
        if owner != 0 {
            out.extend_from_slice(&owner.to_le_bytes());
        }
        token.written += 1;
    }
}
