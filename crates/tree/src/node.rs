//! One znode as stored, and the `Stat` a client sees of it.
//!
//! The layout is chosen for memory (a million znodes must cost little beyond their paths and
//! data; the target is ≤ 100 bytes per znode, ZooKeeper spends ≈ 350): the persisted stat
//! fields inline, the three zxids and two times in 44 bits each (a value that needs more moves
//! to the payload, so any i64 is kept exactly), the ACL version in the payload too (it is 0 on
//! all but the few nodes whose ACL was ever set), the ACL as a 4-byte id into the interned store,
//! the children as an intrusive doubly linked list of 4-byte node ids (O(1) insert and unlink,
//! no per-parent allocation), the parent as a 4-byte id, and only the node's *name* (not its
//! full path) with its data in one pooled block behind a thin pointer (`payload.rs`).
//!
//! The owner (`ephemeralOwner`) lives in a side table of the store, flagged by [`HAS_OWNER`]:
//! it is zero for almost every node. It keeps ZooKeeper's encoding (`EphemeralType`): a session
//! id, the container marker `i64::MIN`, or `0xFF` in the top byte + TTL in the low 40 bits, so
//! snapshots stay convertible to and from ZooKeeper's and the reported value can hide the
//! internal markers.

use corral_proto::consts::CONTAINER_EPHEMERAL_OWNER;
use corral_proto::Stat;

use crate::acl::AclId;
use crate::payload::Payload;

/// Index of a node in the store's arena.
pub(crate) type NodeId = u32;

/// "No node" in the child links.
pub(crate) const NIL: NodeId = u32::MAX;

const EXTENDED_MASK: u64 = 0xff00_0000_0000_0000;
const RESERVED_BITS_MASK: u64 = 0x00ff_ff00_0000_0000;
const EXTENDED_VALUE_MASK: u64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// `EphemeralType`: what an `ephemeralOwner` value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerKind {
    /// 0: a persistent node.
    Void,
    /// A session id: an ephemeral node.
    Normal,
    Container,
    Ttl,
}

/// `EphemeralType.get`: the TTL encoding is only recognised with extended types enabled
/// (otherwise such a value reads as a session id, as in ZooKeeper).
pub(crate) fn owner_kind(owner: i64, extended_types: bool) -> OwnerKind {
    let bits = owner as u64;
    if extended_types && bits & EXTENDED_MASK == EXTENDED_MASK && bits & RESERVED_BITS_MASK == 0 {
        return OwnerKind::Ttl;
    }
    match owner {
        CONTAINER_EPHEMERAL_OWNER => OwnerKind::Container,
        0 => OwnerKind::Void,
        _ => OwnerKind::Normal,
    }
}

/// `EphemeralType.TTL.toEphemeralOwner` for a validated ttl (1 ..= TTL_MS_MAX).
pub(crate) fn ttl_owner(ttl_ms: i64) -> i64 {
    (EXTENDED_MASK | (ttl_ms as u64 & EXTENDED_VALUE_MASK)) as i64
}

/// The TTL in ms of a TTL node's owner value.
pub(crate) fn ttl_of(owner: i64) -> i64 {
    (owner as u64 & EXTENDED_VALUE_MASK) as i64
}

/// In `Node::tag`: the node has an entry in the store's owner table (ephemeral, container or
/// TTL); persistent nodes, the vast majority, pay nothing for the owner.
pub(crate) const HAS_OWNER: u32 = 1 << 31;
/// In `Node::tag`: the 31-bit hash of the full path the index files the node under.
pub(crate) const PATH_HASH: u32 = !HAS_OWNER;

/// The stat fields kept in 44 bits: czxid, mzxid, pzxid, ctime, mtime.
const CZXID: usize = 0;
const MZXID: usize = 1;
const PZXID: usize = 2;
const CTIME: usize = 3;
const MTIME: usize = 4;
/// The payload's wide slot of the ACL version (which has no inline bits).
const AVERSION: usize = 5;
/// Bits of each inline field above its low 32 (packed in `Node::hi`).
const HI_BITS: u32 = 12;
const HI_MASK: u64 = (1 << HI_BITS) - 1;
/// An inline 44-bit field holding this marker has its value in the payload's wide section.
/// Every other value in −2^43 < v < 2^43 is stored inline: ms timestamps until the year 2248,
/// zxids (log indexes) below 8.7 · 10^12.
const WIDE: i64 = -(1 << 43);

/// 72 bytes: the five i64 stat fields as 44-bit values (28), the two versions and the ACL id
/// (12), the parent and the intrusive child list as 4-byte ids (20), the path hash and owner
/// flag (4), the name and data behind a thin pointer (8). The full path is not stored: it is
/// the names up the parent chain (see `Store::path_of`).
#[derive(Clone)]
pub(crate) struct Node {
    /// Low 32 bits of czxid, mzxid, pzxid, ctime, mtime (see [`WIDE`]).
    lo: [u32; 5],
    /// Their next [`HI_BITS`] bits each, field `i` at bit `HI_BITS * i`.
    hi: u64,
    payload: Payload,
    pub(crate) version: i32,
    /// The stored counter: number of child creations (see [`Node::stat`]).
    pub(crate) cversion: i32,
    pub(crate) acl: AclId,
    /// The parent's id ([`NIL`] for the root).
    pub(crate) parent: NodeId,
    pub(crate) first_child: NodeId,
    pub(crate) next_sibling: NodeId,
    pub(crate) prev_sibling: NodeId,
    pub(crate) num_children: u32,
    /// [`PATH_HASH`] bits and the [`HAS_OWNER`] flag; maintained by the store.
    pub(crate) tag: u32,
}

impl Node {
    /// A fresh node as `DataTree.createNode` makes it: czxid = mzxid = pzxid = zxid,
    /// ctime = mtime = time, every version 0. `name` is the last path segment ("" for the
    /// root). `None` if the name or data exceed 4 GiB (unreachable through the protocol).
    pub(crate) fn new(
        name: &str,
        data: Option<&[u8]>,
        acl: AclId,
        zxid: i64,
        time: i64,
    ) -> Option<Node> {
        let mut node = Node {
            lo: [0; 5],
            hi: 0,
            payload: Payload::new(name.as_bytes(), data)?,
            version: 0,
            cversion: 0,
            acl,
            parent: NIL,
            first_child: NIL,
            next_sibling: NIL,
            prev_sibling: NIL,
            num_children: 0,
            tag: 0,
        };
        let ok = node.set_field(CZXID, zxid)
            & node.set_field(MZXID, zxid)
            & node.set_field(PZXID, zxid)
            & node.set_field(CTIME, time)
            & node.set_field(MTIME, time);
        ok.then_some(node)
    }

    /// A node decoded from a snapshot: links and flags are set when the store is assembled.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn loaded(
        payload: Payload,
        parent: NodeId,
        acl: AclId,
        zxids: [i64; 3],
        times: [i64; 2],
        versions: [i32; 3],
    ) -> Option<Node> {
        let mut node = Node {
            lo: [0; 5],
            hi: 0,
            payload,
            version: versions[0],
            cversion: versions[1],
            acl,
            parent,
            first_child: NIL,
            next_sibling: NIL,
            prev_sibling: NIL,
            num_children: 0,
            tag: 0,
        };
        let ok = node.set_field(CZXID, zxids[0])
            & node.set_field(MZXID, zxids[1])
            & node.set_field(PZXID, zxids[2])
            & node.set_field(CTIME, times[0])
            & node.set_field(MTIME, times[1])
            & node.set_aversion(versions[2]);
        ok.then_some(node)
    }

    fn field(&self, i: usize) -> i64 {
        let hi = (self.hi >> (HI_BITS * i as u32)) & HI_MASK;
        let raw = (hi << 32) | u64::from(self.lo[i]);
        let unused = 64 - 32 - HI_BITS;
        let value = ((raw << unused) as i64) >> unused;
        if value == WIDE {
            self.payload.wide(i)
        } else {
            value
        }
    }

    /// False (nothing changed) only if a wide value could not be stored (out of memory
    /// aside, unreachable).
    fn set_field(&mut self, i: usize, value: i64) -> bool {
        let inline = if value > WIDE && value < -WIDE {
            value
        } else {
            if !self.payload.set_wide(i, value) {
                return false;
            }
            WIDE
        };
        self.lo[i] = inline as u32;
        let shift = HI_BITS * i as u32;
        let hi = ((inline >> 32) as u64) & HI_MASK;
        self.hi = (self.hi & !(HI_MASK << shift)) | (hi << shift);
        true
    }

    /// The ACL version: 0 unless the payload has a wide section, which holds it.
    pub(crate) fn aversion(&self) -> i32 {
        self.payload.wide(AVERSION) as i32
    }

    /// False (nothing changed) only if the payload cannot grow (out of memory aside,
    /// unreachable).
    pub(crate) fn set_aversion(&mut self, aversion: i32) -> bool {
        if aversion == self.aversion() {
            return true;
        }
        self.payload.set_wide(AVERSION, i64::from(aversion))
    }

    pub(crate) fn czxid(&self) -> i64 {
        self.field(CZXID)
    }

    pub(crate) fn mzxid(&self) -> i64 {
        self.field(MZXID)
    }

    pub(crate) fn pzxid(&self) -> i64 {
        self.field(PZXID)
    }

    pub(crate) fn ctime(&self) -> i64 {
        self.field(CTIME)
    }

    pub(crate) fn mtime(&self) -> i64 {
        self.field(MTIME)
    }

    pub(crate) fn set_pzxid(&mut self, zxid: i64) -> bool {
        self.set_field(PZXID, zxid)
    }

    /// setData's stat change: mzxid and mtime.
    pub(crate) fn set_modified(&mut self, zxid: i64, time: i64) -> bool {
        self.set_field(MZXID, zxid) & self.set_field(MTIME, time)
    }

    /// The last path segment ("" for the root).
    pub(crate) fn name(&self) -> &str {
        // Built from a `&str` (or checked UTF-8 when loaded), so always valid.
        std::str::from_utf8(self.payload.name()).unwrap_or_default()
    }

    /// The name without the UTF-8 check (index probes compare bytes).
    pub(crate) fn name_bytes(&self) -> &[u8] {
        self.payload.name()
    }

    pub(crate) fn data(&self) -> Option<&[u8]> {
        self.payload.data()
    }

    pub(crate) fn name_and_data(&self) -> (&[u8], Option<&[u8]>) {
        self.payload.name_and_data()
    }

    pub(crate) fn data_len(&self) -> usize {
        self.payload.data_len()
    }

    /// Replaces the data; false (nothing changed) if the block cannot be built.
    pub(crate) fn set_data(&mut self, data: Option<&[u8]>) -> bool {
        match self.payload.with_data(data) {
            Some(payload) => {
                self.payload = payload;
                true
            }
            None => false,
        }
    }

    pub(crate) fn has_owner(&self) -> bool {
        self.tag & HAS_OWNER != 0
    }

    pub(crate) fn path_hash(&self) -> u32 {
        self.tag & PATH_HASH
    }

    /// `DataNode.copyStat`: the reported cversion is `stored × 2 − numChildren` (creations plus
    /// deletions, in Java int arithmetic), and containers and TTL nodes report owner 0. `owner`
    /// is the stored `ephemeralOwner` (kept by the store, not in the node).
    pub(crate) fn stat(&self, owner: i64, extended_types: bool) -> Stat {
        let num_children = self.num_children as i32;
        let ephemeral_owner = match owner_kind(owner, extended_types) {
            OwnerKind::Normal => owner,
            _ => 0,
        };
        Stat {
            czxid: self.czxid(),
            mzxid: self.mzxid(),
            ctime: self.ctime(),
            mtime: self.mtime(),
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion(),
            ephemeral_owner,
            data_length: self.data_len() as i32,
            num_children,
            pzxid: self.pzxid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_struct_size() {
        let size = std::mem::size_of::<Node>();
        println!(
            "size_of::<Node>() = {size} bytes (Option<Node> = {})",
            std::mem::size_of::<Option<Node>>()
        );
        assert!(size <= 72, "Node grew to {size} bytes");
        assert_eq!(
            std::mem::size_of::<Option<Node>>(),
            size,
            "the arena slot needs no tag"
        );
    }

    #[test]
    fn stat_fields_of_any_size() {
        for v in [
            0,
            1,
            -1,
            1_700_000_000_000,
            (1 << 43) - 1,
            -(1 << 43) + 1,
            1 << 43,
            -(1 << 43),
            (1 << 47) - 1,
            -(1 << 47) + 1,
            1 << 47,
            -(1 << 47),
            i64::MAX,
            i64::MIN,
        ] {
            let mut n = Node::new("x", Some(b"data"), 0, v, v.wrapping_neg()).unwrap();
            assert_eq!((n.czxid(), n.mzxid(), n.pzxid()), (v, v, v), "{v}");
            assert_eq!((n.ctime(), n.mtime()), (v.wrapping_neg(), v.wrapping_neg()));
            assert!(n.set_modified(5, v));
            assert!(n.set_data(Some(b"other")));
            assert_eq!((n.mzxid(), n.mtime(), n.czxid()), (5, v, v), "{v}");
            assert!(n.set_pzxid(i64::MIN));
            let c = n.clone();
            assert_eq!(
                (c.pzxid(), c.czxid(), c.data()),
                (i64::MIN, v, Some(&b"other"[..]))
            );
            assert_eq!(c.name(), "x");
        }
    }

    #[test]
    fn fields_do_not_disturb_each_other_and_aversion_lives_in_the_payload() {
        let mut n = Node::new("x", Some(b"d"), 0, (1 << 43) - 1, -(1 << 43) + 1).unwrap();
        assert!(n.set_pzxid(-1));
        assert_eq!(
            (n.czxid(), n.mzxid(), n.pzxid(), n.ctime(), n.mtime()),
            (
                (1 << 43) - 1,
                (1 << 43) - 1,
                -1,
                -(1 << 43) + 1,
                -(1 << 43) + 1
            )
        );
        assert_eq!(n.aversion(), 0);
        assert!(n.set_aversion(i32::MIN));
        assert!(n.set_data(Some(b"other")));
        let c = n.clone();
        assert_eq!(
            (c.aversion(), c.pzxid(), c.data()),
            (i32::MIN, -1, Some(&b"other"[..]))
        );
        assert!(n.set_aversion(0));
        assert_eq!(n.aversion(), 0);
        assert_eq!(n.stat(0, false).aversion, 0);
    }

    #[test]
    fn null_and_empty_data_differ() {
        let mut n = Node::new("a", None, 0, 1, 2).unwrap();
        assert_eq!(n.data(), None);
        assert_eq!(n.name(), "a");
        assert!(n.set_data(Some(b"")));
        assert_eq!(n.data(), Some(&b""[..]));
        assert!(n.set_data(Some(b"xyz")));
        assert_eq!(n.data(), Some(&b"xyz"[..]));
        assert_eq!(n.name(), "a");
        assert_eq!(n.stat(0, false).data_length, 3);
    }

    #[test]
    fn owner_encoding() {
        let ttl = ttl_owner(1000);
        assert_eq!(ttl as u64, 0xff00_0000_0000_03e8);
        assert_eq!(ttl_of(ttl), 1000);
        assert_eq!(owner_kind(ttl, true), OwnerKind::Ttl);
        assert_eq!(owner_kind(ttl, false), OwnerKind::Normal);
        assert_eq!(owner_kind(i64::MIN, true), OwnerKind::Container);
        assert_eq!(owner_kind(0, true), OwnerKind::Void);
        assert_eq!(owner_kind(0x0100_0000_0000_0001, true), OwnerKind::Normal);
        let n = Node::new("c", None, 0, 1, 2).unwrap();
        assert_eq!(n.stat(i64::MIN, true).ephemeral_owner, 0);
        assert_eq!(n.stat(ttl, true).ephemeral_owner, 0);
        assert_eq!(n.stat(7, true).ephemeral_owner, 7);
    }

    #[test]
    fn reported_cversion() {
        let mut n = Node::new("p", None, 0, 1, 2).unwrap();
        n.cversion = 3;
        n.num_children = 1;
        assert_eq!(n.stat(0, false).cversion, 5);
        n.cversion = 0;
        assert_eq!(n.stat(0, false).cversion, -1, "the root of a fresh tree");
    }
}
