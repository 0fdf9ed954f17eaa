//! One znode as stored, and the `Stat` a client sees of it.
//!
//! The layout is chosen for memory (a million znodes must cost little beyond their paths and
//! data): the persisted stat fields inline, the ACL as a 4-byte id into the interned store, the
//! children as an intrusive doubly linked list of 4-byte node ids (O(1) insert and unlink, no
//! per-parent allocation), and the path and data in one heap block.
//!
//! `ephemeral_owner` keeps ZooKeeper's encoding (`EphemeralType`): a session id, the container
//! marker `i64::MIN`, or `0xFF` in the top byte + TTL in the low 40 bits, so snapshots stay
//! convertible to and from ZooKeeper's and the reported value can hide the internal markers.

use corral_proto::consts::CONTAINER_EPHEMERAL_OWNER;
use corral_proto::Stat;

use crate::acl::AclId;

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

/// Bytes of the header in front of the path inside `Node::buf`: path length (u32 LE) and a
/// flag saying whether the data is present (null data is distinct from empty data).
const HEADER_BYTES: usize = 5;

pub(crate) struct Node {
    pub(crate) czxid: i64,
    pub(crate) mzxid: i64,
    pub(crate) pzxid: i64,
    pub(crate) ctime: i64,
    pub(crate) mtime: i64,
    pub(crate) ephemeral_owner: i64,
    pub(crate) version: i32,
    /// The stored counter: number of child creations (see [`Node::stat`]).
    pub(crate) cversion: i32,
    pub(crate) aversion: i32,
    pub(crate) acl: AclId,
    pub(crate) first_child: NodeId,
    pub(crate) next_sibling: NodeId,
    pub(crate) prev_sibling: NodeId,
    pub(crate) num_children: u32,
    /// `[path len: u32 LE][has data: u8][path][data]`.
    buf: Box<[u8]>,
}

impl Node {
    /// A fresh node as `DataTree.createNode` makes it: czxid = mzxid = pzxid = zxid,
    /// ctime = mtime = time, every version 0.
    pub(crate) fn new(
        path: &str,
        data: Option<&[u8]>,
        acl: AclId,
        owner: i64,
        zxid: i64,
        time: i64,
    ) -> Node {
        Node {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            ephemeral_owner: owner,
            version: 0,
            cversion: 0,
            aversion: 0,
            acl,
            first_child: NIL,
            next_sibling: NIL,
            prev_sibling: NIL,
            num_children: 0,
            buf: pack(path, data),
        }
    }

    fn path_len(&self) -> usize {
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.buf[..4]);
        u32::from_le_bytes(len) as usize
    }

    pub(crate) fn path(&self) -> &str {
        // Built from a `&str` in `pack`, so always valid UTF-8.
        std::str::from_utf8(self.path_bytes()).unwrap_or_default()
    }

    /// The path without the UTF-8 check (index probes compare bytes).
    pub(crate) fn path_bytes(&self) -> &[u8] {
        &self.buf[HEADER_BYTES..HEADER_BYTES + self.path_len()]
    }

    pub(crate) fn data(&self) -> Option<&[u8]> {
        (self.buf[4] != 0).then(|| &self.buf[HEADER_BYTES + self.path_len()..])
    }

    pub(crate) fn data_len(&self) -> usize {
        self.data().map_or(0, <[u8]>::len)
    }

    pub(crate) fn set_data(&mut self, data: Option<&[u8]>) {
        let buf = pack(self.path(), data);
        self.buf = buf;
    }

    /// `DataNode.copyStat`: the reported cversion is `stored × 2 − numChildren` (creations plus
    /// deletions, in Java int arithmetic), and containers and TTL nodes report owner 0.
    pub(crate) fn stat(&self, extended_types: bool) -> Stat {
        let num_children = self.num_children as i32;
        let ephemeral_owner = match owner_kind(self.ephemeral_owner, extended_types) {
            OwnerKind::Normal => self.ephemeral_owner,
            _ => 0,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner,
            data_length: self.data_len() as i32,
            num_children,
            pzxid: self.pzxid,
        }
    }
}

fn pack(path: &str, data: Option<&[u8]>) -> Box<[u8]> {
    let data_bytes = data.unwrap_or_default();
    let mut buf = Vec::with_capacity(HEADER_BYTES + path.len() + data_bytes.len());
    buf.extend_from_slice(&(path.len() as u32).to_le_bytes());
    buf.push(u8::from(data.is_some()));
    buf.extend_from_slice(path.as_bytes());
    buf.extend_from_slice(data_bytes);
    buf.into_boxed_slice()
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
        assert!(size <= 96, "Node grew to {size} bytes");
        assert_eq!(
            std::mem::size_of::<Option<Node>>(),
            size,
            "the arena slot needs no tag"
        );
    }

    #[test]
    fn null_and_empty_data_differ() {
        let mut n = Node::new("/a", None, 0, 0, 1, 2);
        assert_eq!(n.data(), None);
        assert_eq!(n.path(), "/a");
        n.set_data(Some(b""));
        assert_eq!(n.data(), Some(&b""[..]));
        n.set_data(Some(b"xyz"));
        assert_eq!(n.data(), Some(&b"xyz"[..]));
        assert_eq!(n.path(), "/a");
        assert_eq!(n.stat(false).data_length, 3);
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
        let mut n = Node::new("/c", None, 0, i64::MIN, 1, 2);
        assert_eq!(n.stat(true).ephemeral_owner, 0);
        n.ephemeral_owner = ttl;
        assert_eq!(n.stat(true).ephemeral_owner, 0);
        n.ephemeral_owner = 7;
        assert_eq!(n.stat(true).ephemeral_owner, 7);
    }

    #[test]
    fn reported_cversion() {
        let mut n = Node::new("/p", None, 0, 0, 1, 2);
        n.cversion = 3;
        n.num_children = 1;
        assert_eq!(n.stat(false).cversion, 5);
        n.cversion = 0;
        assert_eq!(n.stat(false).cversion, -1, "the root of a fresh tree");
    }
}
