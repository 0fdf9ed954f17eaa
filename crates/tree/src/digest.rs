//! A digest of the replicated state, to check that replicas (and a tree rebuilt from a
//! snapshot) agree. Computed over nodes in path order with a fixed hash (FNV-1a 64), so it does
//! not depend on arena ids, hash seeds or insertion order: only on what a client could observe
//! plus the stored counters and the sessions table.

use crate::DataTree;

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.i64(s.len() as i64);
        self.bytes(s.as_bytes());
    }
}

pub(crate) fn digest(tree: &DataTree) -> u64 {
    let mut nodes: Vec<_> = tree
        .store
        .ids()
        .filter_map(|id| Some((tree.store.path_of(id), id, tree.store.get(id)?)))
        .collect();
    nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut h = Fnv::new();
    h.i64(tree.last_applied_zxid);
    h.i64(nodes.len() as i64);
    for (path, id, n) in nodes {
        h.str(&path);
        match n.data() {
            Some(data) => {
                h.i64(data.len() as i64);
                h.bytes(data);
            }
            None => h.i64(-1),
        }
        for v in [
            n.czxid(),
            n.mzxid(),
            n.pzxid(),
            n.ctime(),
            n.mtime(),
            tree.store.owner(id),
        ] {
            h.i64(v);
        }
        for v in [n.version, n.cversion, n.aversion()] {
            h.i64(i64::from(v));
        }
        h.i64(i64::from(n.num_children));
        let acl = tree.acls.get(n.acl);
        h.i64(acl.len() as i64);
        for entry in acl.iter() {
            h.i64(i64::from(entry.perms));
            h.str(&entry.id.scheme);
            h.str(&entry.id.id);
        }
    }
    h.i64(tree.sessions.len() as i64);
    for (id, info) in tree.sessions.iter() {
        h.i64(id);
        h.i64(i64::from(info.timeout_ms));
        h.bytes(&info.password);
    }
    h.0
}
