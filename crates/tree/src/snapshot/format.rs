//! The tree snapshot byte format, version 1 (also in `crates/tree/FORMAT.md`).
//!
//! Fixed-width integers are **little-endian**. `varint` is unsigned LEB128 (at most 10 bytes);
//! `zz` is a zigzag-encoded signed varint; `bytes` is a varint length followed by that many
//! bytes. Chosen for load speed and size: a million nodes decode in one streaming pass, and the
//! stat fields that are usually close to each other are stored as deltas.
//!
//! ```text
//! header   magic "CORRALSN" (8) · version u32 · config u8 (bit0 extended types, bit1 skipACL)
//!          · last applied zxid i64 · node count u32
//! acls     count u32 · per list: entries varint · per entry: perms zz · scheme bytes · id bytes
//! sessions count u32 · per session, ids strictly increasing: id i64 · timeout ms i32
//!          · password [16]
//! nodes    `node count` records, the root first (see below)
//! trailer  magic "CORRALEN" (8) · node count u32
//! ```
//!
//! A node record:
//!
//! ```text
//! flags u8        bit0 data present (absent = null data), bit1 owner present; others 0
//! parent varint   ordinal of the parent's record (the root: 0, meaning none)
//! name bytes      the last path segment: "" for the root, else non-empty, no '/', UTF-8
//! data bytes      only if bit0
//! czxid zz · mzxid−czxid zz · pzxid−czxid zz · ctime zz · mtime−ctime zz   (wrapping i64)
//! version zz · cversion zz · aversion zz                                    (i32 range)
//! acl varint      index into the acls table
//! owner i64       only if bit1: ZooKeeper's ephemeralOwner (session id, container marker
//!                 i64::MIN, or 0xFF top byte + TTL); a session id must be in the sessions table
//! ```
//!
//! `cversion` is the stored creation counter (ZooKeeper's snapshot value); child counts are
//! not stored, they are recounted. Records come in arena id order, so a parent may follow its
//! child: the loader checks every parent ordinal is in range and that every node reaches the
//! root (no cycles), and refuses two nodes with the same name under one parent.

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) const MAGIC: [u8; 8] = *b"CORRALSN";
pub(crate) const END_MAGIC: [u8; 8] = *b"CORRALEN";

pub(crate) const CONFIG_EXTENDED_TYPES: u8 = 1;
pub(crate) const CONFIG_SKIP_ACL: u8 = 2;

pub(crate) const NODE_HAS_DATA: u8 = 1;
pub(crate) const NODE_HAS_OWNER: u8 = 2;

/// Loader bounds: larger values are refused as corrupt before anything is allocated for them.
pub(crate) const MAX_NAME_LEN: u64 = 16 << 20;
pub(crate) const MAX_DATA_LEN: u64 = 1 << 30;
pub(crate) const MAX_ACL_ENTRIES: u64 = 1 << 16;
pub(crate) const MAX_ACL_STRING: u64 = 1 << 20;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(crate) fn put_zz(out: &mut Vec<u8>, v: i64) {
    put_varint(out, zigzag(v));
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips() {
        for v in [0, 1, -1, 63, -64, i64::MAX, i64::MIN, 1 << 40] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        let mut out = Vec::new();
        put_varint(&mut out, u64::MAX);
        assert_eq!(out.len(), 10);
    }
}
