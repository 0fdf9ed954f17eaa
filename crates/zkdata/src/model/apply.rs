//! Replaying one logged transaction: `FileTxnSnapLog.processTransaction` (the sessions table)
//! and `DataTree.processTxn` (the tree), rule for rule:
//!
//! - create: a missing parent fails (NONODE); an existing node fails (NODEEXISTS) but takes
//!   the txn's ACL; otherwise the parent's cversion becomes the txn's `parentCVersion` (-1:
//!   the current one plus one) and its pzxid the zxid, but only if that raises the cversion;
//!   the node starts with every zxid = the txn's, both times = the txn's, versions 0.
//!   A create (type 1, not create2/TTL/container) that failed with NODEEXISTS still raises
//!   the parent's cversion and pzxid the same way.
//! - delete: a missing parent fails; otherwise the name leaves the parent's children and the
//!   parent's pzxid is raised to the zxid (never lowered), and only then a missing node
//!   fails. The node's own children are not touched.
//! - setData / reconfig: data, mtime, mzxid, and the version *from the txn*; setACL: the ACL
//!   and the aversion from the txn.
//! - createSession: the table gains the session; closeSession: the table loses it, then the
//!   paths the txn lists and the session's remaining ephemerals are deleted (missing ones
//!   ignored).
//! - multi: nothing if a sub-transaction is an error, else each in order with the header's
//!   session, zxid and time.
//! - error and check change nothing. Failures change nothing else and do not stop the replay.

use bytes::Bytes;
use corral_proto::Acl;

use super::{split, ttl_owner, ZkNode, ZkTree};
use crate::records::{txn_type, StatPersisted};
use crate::txn::{CreateKind, TxnEntry, TxnOp};

/// ZooKeeper's error codes a replayed txn can end with.
const NONODE: i32 = -101;
const NODEEXISTS: i32 = -110;

/// A txn ZooKeeper itself could not have applied (it would stop with an exception).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("txn {zxid:#x}: {reason}")]
pub struct ApplyError {
    pub zxid: i64,
    pub reason: String,
}

impl ZkTree {
    /// Applies one logged transaction. Returns ZooKeeper's result code (0, or the error the
    /// txn ended with, which changes nothing and is not a failure of the replay).
    pub fn apply(&mut self, entry: &TxnEntry) -> Result<i32, ApplyError> {
        let header = &entry.header;
        let fail = |reason: String| ApplyError {
            zxid: header.zxid,
            reason,
        };
        let rc = match &entry.op {
            TxnOp::CreateSession { timeout_ms } => {
                self.sessions.insert(header.client_id, *timeout_ms);
                0
            }
            TxnOp::CloseSession { paths } => {
                self.sessions.remove(&header.client_id);
                self.close_session(header.client_id, header.zxid, paths.as_deref());
                0
            }
            op => self
                .apply_op(op, header.client_id, header.zxid, header.time)
                .map_err(fail)?,
        };
        self.last_zxid = self.last_zxid.max(header.zxid);
        Ok(rc)
    }

    fn apply_op(&mut self, op: &TxnOp, session: i64, zxid: i64, time: i64) -> Result<i32, String> {
        Ok(match op {
            TxnOp::Create {
                txn_type: kind,
                path,
                data,
                acl,
                kind: create_kind,
                parent_cversion,
            } => {
                let owner = match create_kind {
                    CreateKind::Persistent => 0,
                    CreateKind::Ephemeral => session,
                    CreateKind::Container => corral_proto::consts::CONTAINER_EPHEMERAL_OWNER,
                    CreateKind::Ttl(ttl) => {
                        self.saw_ttl_create = true;
                        ttl_owner(*ttl).ok_or_else(|| format!("{path}: invalid TTL {ttl}"))?
                    }
                };
                let create = Create {
                    path,
                    data,
                    acl,
                    owner,
                    parent_cversion: *parent_cversion,
                    zxid,
                    time,
                };
                let rc = self.create_node(&create)?;
                if *kind == txn_type::CREATE && rc == NODEEXISTS {
                    let (parent, _) = split(path).ok_or_else(|| bad_path(path))?;
                    if !self.raise_cversion(parent, *parent_cversion, zxid) {
                        return Ok(NONODE);
                    }
                }
                rc
            }
            TxnOp::Delete { path } => match self.delete_node(path, zxid)? {
                true => 0,
                false => NONODE,
            },
            TxnOp::SetData {
                path,
                data,
                version,
            } => {
                let changed = self.change(path, |node| {
                    node.data = data.clone();
                    node.stat.mtime = time;
                    node.stat.mzxid = zxid;
                    node.stat.version = *version;
                });
                if changed {
                    0
                } else {
                    NONODE
                }
            }
            TxnOp::SetAcl { path, acl, version } => {
                let changed = self.change(path, |node| {
                    node.acl = acl.clone().into();
                    node.stat.aversion = *version;
                });
                if changed {
                    0
                } else {
                    NONODE
                }
            }
            TxnOp::Error { err } => *err,
            TxnOp::Check { .. } => 0,
            TxnOp::Multi { ops, failed } => {
                if *failed {
                    return Ok(0);
                }
                let mut rc = 0;
                for op in ops {
                    let sub = self.apply_op(op, session, zxid, time)?;
                    if rc == 0 {
                        rc = sub;
                    }
                }
                rc
            }
            TxnOp::CreateSession { .. } | TxnOp::CloseSession { .. } => {
                return Err("a session txn inside a multi".into())
            }
        })
    }

    fn create_node(&mut self, c: &Create<'_>) -> Result<i32, String> {
        let (parent, name) = split(c.path).ok_or_else(|| bad_path(c.path))?;
        if !self.nodes.contains_key(parent) {
            return Ok(NONODE);
        }
        if let Some(existing) = self.nodes.get_mut(c.path) {
            existing.acl = c.acl.to_vec().into();
            return Ok(NODEEXISTS);
        }
        let name = name.to_owned();
        self.change(parent, |p| {
            let cversion = match c.parent_cversion {
                -1 => p.stat.cversion.wrapping_add(1),
                v => v,
            };
            if cversion > p.stat.cversion {
                p.stat.cversion = cversion;
                p.stat.pzxid = c.zxid;
            }
            p.children.insert(name);
        });
        let node = ZkNode {
            data: c.data.clone(),
            acl: c.acl.to_vec().into(),
            stat: StatPersisted {
                czxid: c.zxid,
                mzxid: c.zxid,
                ctime: c.time,
                mtime: c.time,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: c.owner,
                pzxid: c.zxid,
            },
            children: Default::default(),
        };
        self.digest = self
            .digest
            .wrapping_add(super::digest::node_digest(c.path, &node));
        self.track_owner(c.path, c.owner);
        self.nodes.insert(c.path.to_owned(), node);
        Ok(0)
    }

    /// `DataTree.setCversionPzxid`; false if the node is missing.
    fn raise_cversion(&mut self, path: &str, cversion: i32, zxid: i64) -> bool {
        self.change(path, |node| {
            let cversion = match cversion {
                -1 => node.stat.cversion.wrapping_add(1),
                v => v,
            };
            if cversion > node.stat.cversion {
                node.stat.cversion = cversion;
                node.stat.pzxid = zxid;
            }
        })
    }

    /// `DataTree.deleteNode`: Ok(false) for NONODE.
    pub(super) fn delete_node(&mut self, path: &str, zxid: i64) -> Result<bool, String> {
        let (parent, name) = split(path).ok_or_else(|| bad_path(path))?;
        let parent_found = self.change(parent, |p| {
            p.children.remove(name);
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
        });
        if !parent_found {
            return Ok(false);
        }
        let Some(node) = self.nodes.remove(path) else {
            return Ok(false);
        };
        self.digest = self
            .digest
            .wrapping_sub(super::digest::node_digest(path, &node));
        self.untrack_owner(path, node.stat.ephemeral_owner);
        Ok(true)
    }

    fn close_session(&mut self, session: i64, zxid: i64, listed: Option<&[String]>) {
        let mut local = self.ephemerals.remove(&session).unwrap_or_default();
        for path in listed.unwrap_or_default() {
            local.remove(path);
            // A path already gone is ignored, as ZooKeeper does.
            let _ = self.delete_node(path, zxid);
        }
        for path in local {
            let _ = self.delete_node(&path, zxid);
        }
    }
}

struct Create<'a> {
    path: &'a str,
    data: &'a Option<Bytes>,
    acl: &'a [Acl],
    owner: i64,
    parent_cversion: i32,
    zxid: i64,
    time: i64,
}

fn bad_path(path: &str) -> String {
    format!("malformed path {path:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::TxnHeader;

    fn entry(session: i64, zxid: i64, op: TxnOp) -> TxnEntry {
        TxnEntry {
            header: TxnHeader {
                client_id: session,
                cxid: 0,
                zxid,
                time: zxid * 10,
                txn_type: 0,
            },
            op,
            digest: None,
        }
    }

    fn create(path: &str, kind: CreateKind, parent_cversion: i32) -> TxnOp {
        TxnOp::Create {
            txn_type: txn_type::CREATE,
            path: path.into(),
            data: Some(Bytes::from_static(b"d")),
            acl: vec![Acl::new(31, "world", "anyone")],
            kind,
            parent_cversion,
        }
    }

    #[test]
    fn create_set_delete_and_stats() {
        let mut t = ZkTree::new();
        t.apply(&entry(7, 1, TxnOp::CreateSession { timeout_ms: 4000 }))
            .unwrap();
        assert_eq!(
            t.apply(&entry(7, 2, create("/a", CreateKind::Persistent, 1))),
            Ok(0)
        );
        assert_eq!(
            t.apply(&entry(7, 3, create("/a/e", CreateKind::Ephemeral, 1))),
            Ok(0)
        );
        let a = t.node("/a").unwrap();
        assert_eq!((a.stat.cversion, a.stat.pzxid, a.stat.czxid), (1, 3, 2));
        let set = TxnOp::SetData {
            path: "/a".into(),
            data: None,
            version: 5,
        };
        assert_eq!(t.apply(&entry(7, 4, set)), Ok(0));
        let a = t.node("/a").unwrap();
        assert_eq!(
            (a.stat.version, a.stat.mzxid, a.stat.mtime, &a.data),
            (5, 4, 40, &None)
        );
        // Replaying an old create of an existing node (a fuzzy snapshot): NODEEXISTS, the
        // parent's cversion raised only if the txn's is higher.
        assert_eq!(
            t.apply(&entry(7, 5, create("/a/e", CreateKind::Ephemeral, 1))),
            Ok(NODEEXISTS)
        );
        assert_eq!(t.node("/a").unwrap().stat.pzxid, 3);
        assert_eq!(
            t.apply(&entry(7, 6, create("/a/e", CreateKind::Ephemeral, 2))),
            Ok(NODEEXISTS)
        );
        assert_eq!(t.node("/a").unwrap().stat.pzxid, 6);
        t.apply(&entry(7, 7, TxnOp::CloseSession { paths: None }))
            .unwrap();
        assert!(t.node("/a/e").is_none());
        assert!(t.sessions.is_empty());
        assert_eq!(t.node("/a").unwrap().stat.pzxid, 7);
        assert_eq!(
            t.apply(&entry(7, 8, TxnOp::Delete { path: "/x".into() })),
            Ok(NONODE)
        );
        assert_eq!(
            t.node("/").unwrap().stat.pzxid,
            8,
            "pzxid raised even for a missing child"
        );
        assert_eq!(t.last_zxid, 8);
    }

    #[test]
    fn dead_sessions_and_failed_multis() {
        let mut t = ZkTree::new();
        t.apply(&entry(9, 1, create("/e", CreateKind::Ephemeral, -1)))
            .unwrap();
        let failed = TxnOp::Multi {
            ops: vec![],
            failed: true,
        };
        t.apply(&entry(9, 2, failed)).unwrap();
        assert_eq!(t.last_zxid, 2);
        assert_eq!(t.kill_dead_sessions(false), vec!["/e".to_string()]);
        assert_eq!(t.node("/").unwrap().stat.pzxid, 2);
        let ttl = TxnOp::Create {
            txn_type: txn_type::CREATE_TTL,
            path: "/t".into(),
            data: None,
            acl: vec![],
            kind: CreateKind::Ttl(1000),
            parent_cversion: -1,
        };
        t.apply(&entry(9, 3, ttl)).unwrap();
        assert!(t.saw_ttl_create && t.has_ttl_owners());
        assert!(t.kill_dead_sessions(true).is_empty());
        let bad = TxnOp::Create {
            txn_type: txn_type::CREATE_TTL,
            path: "/u".into(),
            data: None,
            acl: vec![],
            kind: CreateKind::Ttl(0),
            parent_cversion: -1,
        };
        assert!(t.apply(&entry(9, 4, bad)).is_err());
        assert!(t
            .apply(&entry(9, 5, create("nope", CreateKind::Persistent, -1)))
            .is_err());
    }
}
