//! Encoding a [`ZkTree`] as a snapshot ZooKeeper 3.6+ loads (see `mod.rs` for the layout):
//! ACL lists numbered from 1 in order of first use, nodes in a walk from the root (children
//! in name order), both seals, and the digest as of `zxid` so that ZooKeeper checks the tree
//! it loaded against the one written.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use corral_proto::{Acl, Jute};

use crate::checksum::adler32;
use crate::model::digest::DIGEST_VERSION;
use crate::model::ZkTree;
use crate::records::{FileHeader, FILE_DBID, FILE_VERSION, SNAPSHOT_MAGIC};

/// The snapshot file's bytes for `tree` as of `zxid` (which names the file).
pub fn write(tree: &ZkTree, zxid: i64) -> Vec<u8> {
    let mut out = BytesMut::new();
    FileHeader {
        magic: SNAPSHOT_MAGIC,
        version: FILE_VERSION,
        dbid: FILE_DBID,
    }
    .encode(&mut out);
    (tree.sessions.len() as i32).encode(&mut out);
    for (id, timeout) in &tree.sessions {
        id.encode(&mut out);
        timeout.encode(&mut out);
    }
    let nodes = tree.walk();
    let mut ids: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut table: Vec<(i64, &Arc<[Acl]>)> = Vec::new();
    let mut node_acl = Vec::with_capacity(nodes.len());
    for (_, node) in &nodes {
        let key = node.acl.to_vec().to_bytes().to_vec();
        let next = ids.len() as i64 + 1;
        let id = *ids.entry(key).or_insert_with(|| {
            table.push((next, &node.acl));
            next
        });
        node_acl.push(id);
    }
    (table.len() as i32).encode(&mut out);
    for (id, list) in &table {
        id.encode(&mut out);
        list.to_vec().encode(&mut out);
    }
    for ((path, node), acl) in nodes.iter().zip(node_acl) {
        let path = if path == "/" { "" } else { path.as_str() };
        path.to_owned().encode(&mut out);
        node.data.encode(&mut out);
        acl.encode(&mut out);
        node.stat.encode(&mut out);
    }
    "/".to_owned().encode(&mut out);
    seal(&mut out);
    zxid.encode(&mut out);
    DIGEST_VERSION.encode(&mut out);
    tree.digest().encode(&mut out);
    seal(&mut out);
    out.to_vec()
}

fn seal(out: &mut BytesMut) {
    adler32(out).encode(out);
    "/".to_owned().encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::read;

    #[test]
    fn round_trip_and_damage() {
        let mut tree = ZkTree::new();
        tree.sessions.insert(0x11, 30_000);
        tree.last_zxid = 0x1_0000_0003;
        let bytes = write(&tree, tree.last_zxid);
        assert_eq!(&bytes[bytes.len() - 5..], &[0, 0, 0, 1, b'/']);
        let loaded = read(&bytes, tree.last_zxid).unwrap();
        assert_eq!(loaded.tree.digest(), tree.digest());
        assert_eq!(loaded.tree.sessions, tree.sessions);
        assert_eq!(loaded.digest.map(|d| d.digest), Some(tree.digest()));
        assert_eq!(loaded.tree.walk().len(), 4);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            // Never a panic; a flip anywhere before the last seal is caught.
            assert!(read(&bad, 1).is_err(), "flip at {i} not detected");
        }
        // A cut is refused, except right after the first seal: a snapshot without a digest.
        for cut in 0..bytes.len() {
            let result = read(&bytes[..cut], 1);
            assert_eq!(result.is_ok(), cut == bytes.len() - 33, "cut at {cut}");
        }
    }
}
