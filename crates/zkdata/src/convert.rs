//! A [`ZkTree`] to and from Corral's [`PlainState`], and one digest of a plain state that both
//! sides of a conversion can compute.
//!
//! Field for field: ZooKeeper's `StatPersisted.cversion` is the stored creation counter
//! Corral keeps too, `ephemeralOwner` keeps ZooKeeper's encoding on both sides, null data
//! stays null. Sessions: ZooKeeper keeps only id and timeout; Corral also keeps a password,
//! which an import sets to the one ZooKeeper would check ([`session_password`]), so a client
//! holding the session can re-attach.

use corral_tree::{PlainNode, PlainState, SessionInfo, TreeConfig};

use crate::model::{ZkNode, ZkTree};
use crate::password::session_password;
use crate::records::StatPersisted;

/// The plain state of `tree` (its reachable nodes, in path order).
pub fn to_plain(tree: &ZkTree, config: TreeConfig) -> PlainState {
    let mut nodes: Vec<PlainNode> = tree
        .walk()
        .into_iter()
        .map(|(path, node)| {
            let s = &node.stat;
            PlainNode {
                path,
                data: node.data.clone(),
                acl: node.acl.to_vec(),
                czxid: s.czxid,
                mzxid: s.mzxid,
                pzxid: s.pzxid,
                ctime: s.ctime,
                mtime: s.mtime,
                version: s.version,
                cversion: s.cversion,
                aversion: s.aversion,
                ephemeral_owner: s.ephemeral_owner,
            }
        })
        .collect();
    nodes.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    PlainState {
        config,
        last_applied_zxid: tree.last_zxid,
        sessions: tree
            .sessions
            .iter()
            .map(|(&id, &timeout_ms)| {
                let password = session_password(id);
                (
                    id,
                    SessionInfo {
                        timeout_ms,
                        password,
                    },
                )
            })
            .collect(),
        nodes,
    }
}

/// The ZooKeeper tree of a plain state (nodes in path order, the root first).
pub fn from_plain(state: &PlainState) -> Result<ZkTree, String> {
    let mut tree = ZkTree::empty();
    for node in &state.nodes {
        let zk = ZkNode {
            data: node.data.clone(),
            acl: node.acl.clone().into(),
            stat: StatPersisted {
                czxid: node.czxid,
                mzxid: node.mzxid,
                ctime: node.ctime,
                mtime: node.mtime,
                version: node.version,
                cversion: node.cversion,
                aversion: node.aversion,
                ephemeral_owner: node.ephemeral_owner,
                pzxid: node.pzxid,
            },
            children: Default::default(),
        };
        tree.insert(&node.path, zk)?;
    }
    tree.sessions = state
        .sessions
        .iter()
        .map(|(id, info)| (*id, info.timeout_ms))
        .collect();
    tree.last_zxid = state.last_applied_zxid;
    Ok(tree)
}

/// FNV-1a over everything a conversion must keep: last zxid, every node (path, data or null,
/// each stat field, raw owner, ACL), every session (id, timeout, and the password when
/// `with_passwords`: ZooKeeper keeps none, so an export compares without).
pub fn plain_digest(state: &PlainState, with_passwords: bool) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.i64(state.last_applied_zxid);
    h.i64(state.nodes.len() as i64);
    for n in &state.nodes {
        h.str(&n.path);
        match &n.data {
            Some(data) => {
                h.i64(data.len() as i64);
                h.bytes(data);
            }
            None => h.i64(-1),
        }
        for v in [
            n.czxid,
            n.mzxid,
            n.pzxid,
            n.ctime,
            n.mtime,
            n.ephemeral_owner,
        ] {
            h.i64(v);
        }
        for v in [n.version, n.cversion, n.aversion] {
            h.i64(i64::from(v));
        }
        h.i64(n.acl.len() as i64);
        for a in &n.acl {
            h.i64(i64::from(a.perms));
            h.str(&a.id.scheme);
            h.str(&a.id.id);
        }
    }
    h.i64(state.sessions.len() as i64);
    for (id, info) in &state.sessions {
        h.i64(*id);
        h.i64(i64::from(info.timeout_ms));
        if with_passwords {
            h.bytes(&info.password);
        }
    }
    h.0
}

struct Fnv(u64);

impl Fnv {
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

#[cfg(test)]
mod tests {
    use super::*;
    use corral_tree::DataTree;

    #[test]
    fn fresh_trees_agree() {
        let zk = ZkTree::new();
        let corral = DataTree::new(TreeConfig::default()).to_plain();
        let plain = to_plain(&zk, TreeConfig::default());
        assert_eq!(
            plain, corral,
            "a fresh ZooKeeper tree is a fresh Corral tree"
        );
        let back = from_plain(&plain).unwrap();
        assert_eq!(back.digest(), zk.digest());
        assert_eq!(
            plain_digest(&to_plain(&back, TreeConfig::default()), true),
            plain_digest(&plain, true)
        );
        assert!(DataTree::from_plain(&plain).is_ok());
    }
}
