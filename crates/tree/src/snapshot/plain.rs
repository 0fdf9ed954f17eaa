//! A plain view of the whole state, for converters between this tree and other on-disk formats
//! (`corral data import-zookeeper` / `export-zookeeper`): every persisted field of every node
//! by full path, and a way back.
//!
//! Why the way back goes through the snapshot stream: the loader in `read.rs` already checks
//! everything a tree must satisfy (parents, unique paths, owners that are live sessions, ACL
//! table, field ranges). Encoding the plain nodes into that stream and loading it gives a
//! converted tree exactly the same checks as a snapshot written by a server, with no second
//! way of assembling a store to keep in step.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use corral_proto::Acl;

use crate::node::{owner_kind, OwnerKind};
use crate::snapshot::format::{
    put_bytes, put_varint, put_zz, CONFIG_EXTENDED_TYPES, CONFIG_SKIP_ACL, END_MAGIC,
    FORMAT_VERSION, MAGIC, NODE_HAS_DATA, NODE_HAS_OWNER,
};
use crate::snapshot::{read, SnapshotError};
use crate::{AuthProviders, DataTree, SessionInfo, TreeConfig};

/// One node with every field a snapshot keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainNode {
    /// Full path; "/" for the root.
    pub path: String,
    /// `None` is null data (distinct from empty).
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// The *stored* child-creation counter (ZooKeeper's `StatPersisted.cversion`), not the
    /// reported one (which also counts deletions).
    pub cversion: i32,
    pub aversion: i32,
    /// ZooKeeper's raw `ephemeralOwner`: 0, a session id, the container marker or a TTL value.
    pub ephemeral_owner: i64,
}

/// The whole replicated state in plain form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainState {
    pub config: TreeConfig,
    pub last_applied_zxid: i64,
    /// Ordered by id.
    pub sessions: Vec<(i64, SessionInfo)>,
    /// In path order (a parent always before its children).
    pub nodes: Vec<PlainNode>,
}

impl DataTree {
    /// Every node (path order), the sessions, the last applied zxid and the config.
    pub fn to_plain(&self) -> PlainState {
        let mut nodes: Vec<PlainNode> = self
            .store
            .ids()
            .filter_map(|id| {
                let node = self.store.get(id)?;
                let path = match self.store.path_of(id) {
                    p if p.is_empty() => "/".to_owned(),
                    p => p,
                };
                Some(PlainNode {
                    path,
                    data: node.data().map(Bytes::copy_from_slice),
                    acl: self.acls.get(node.acl).to_vec(),
                    czxid: node.czxid(),
                    mzxid: node.mzxid(),
                    pzxid: node.pzxid(),
                    ctime: node.ctime(),
                    mtime: node.mtime(),
                    version: node.version,
                    cversion: node.cversion,
                    aversion: node.aversion(),
                    ephemeral_owner: self.store.owner(id),
                })
            })
            .collect();
        // A parent's path is a prefix of its children's, so it sorts before them.
        nodes.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        PlainState {
            config: self.config.clone(),
            last_applied_zxid: self.last_applied_zxid,
            sessions: self.sessions(),
            nodes,
        }
    }

    /// Builds a tree from plain nodes, with the default authentication providers. The root
    /// ("/") must come first and every other node after its parent; paths must be canonical
    /// (absolute, no empty segment, no trailing '/'). Everything the snapshot loader checks is
    /// checked here too; nothing panics on bad input.
    pub fn from_plain(state: &PlainState) -> Result<DataTree, SnapshotError> {
        let bytes = encode(state)?;
        read::load(&bytes[..], AuthProviders::default())
    }
}

fn bad(path: &str, what: &'static str) -> SnapshotError {
    SnapshotError::BadNode {
        path: path.to_owned(),
        what,
    }
}

/// Encodes `state` in snapshot format version 1 (see `format.rs`).
fn encode(state: &PlainState) -> Result<Vec<u8>, SnapshotError> {
    let node_count =
        u32::try_from(state.nodes.len()).map_err(|_| SnapshotError::TooLarge("node count"))?;
    let mut acl_index: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut acl_table = Vec::new();
    let mut acl_count = 0u32;
    let mut ordinals: HashMap<&str, u32> = HashMap::with_capacity(state.nodes.len());
    let session_ids: HashSet<i64> = state.sessions.iter().map(|(id, _)| *id).collect();
    let mut records = Vec::new();
    for (ordinal, node) in state.nodes.iter().enumerate() {
        let ordinal = ordinal as u32;
        let (parent, name) = if ordinal == 0 {
            if node.path != "/" {
                return Err(bad(&node.path, "the first node must be the root \"/\""));
            }
            (0, "")
        } else {
            let Some(slash) = node.path.rfind('/') else {
                return Err(bad(&node.path, "path is not absolute"));
            };
            let (parent_path, name) = (&node.path[..slash], &node.path[slash + 1..]);
            let parent_path = if parent_path.is_empty() {
                "/"
            } else {
                parent_path
            };
            if name.is_empty() {
                return Err(bad(&node.path, "empty path segment"));
            }
            let parent = *ordinals
                .get(parent_path)
                .ok_or_else(|| bad(&node.path, "parent missing or listed after the node"))?;
            (parent, name)
        };
        if ordinals.insert(node.path.as_str(), ordinal).is_some() {
            return Err(bad(&node.path, "path listed twice"));
        }
        let mut list = Vec::new();
        put_varint(&mut list, node.acl.len() as u64);
        for entry in &node.acl {
            put_zz(&mut list, i64::from(entry.perms));
            put_bytes(&mut list, entry.id.scheme.as_bytes());
            put_bytes(&mut list, entry.id.id.as_bytes());
        }
        let acl = match acl_index.get(&list) {
            Some(&index) => index,
            None => {
                acl_table.extend_from_slice(&list);
                acl_index.insert(list, acl_count);
                acl_count += 1;
                acl_count - 1
            }
        };
        let owner = node.ephemeral_owner;
        let kind = owner_kind(owner, state.config.extended_types_enabled);
        if kind == OwnerKind::Normal && !session_ids.contains(&owner) {
            return Err(bad(
                &node.path,
                "ephemeral owned by a session not in the table",
            ));
        }
        let mut flags = 0;
        if node.data.is_some() {
            flags |= NODE_HAS_DATA;
        }
        if owner != 0 {
            flags |= NODE_HAS_OWNER;
        }
        records.push(flags);
        put_varint(&mut records, u64::from(parent));
        put_bytes(&mut records, name.as_bytes());
        if let Some(data) = &node.data {
            put_bytes(&mut records, data);
        }
        put_zz(&mut records, node.czxid);
        put_zz(&mut records, node.mzxid.wrapping_sub(node.czxid));
        put_zz(&mut records, node.pzxid.wrapping_sub(node.czxid));
        put_zz(&mut records, node.ctime);
        put_zz(&mut records, node.mtime.wrapping_sub(node.ctime));
        put_zz(&mut records, i64::from(node.version));
        put_zz(&mut records, i64::from(node.cversion));
        put_zz(&mut records, i64::from(node.aversion));
        put_varint(&mut records, u64::from(acl));
        if owner != 0 {
            records.extend_from_slice(&owner.to_le_bytes());
        }
    }
    if node_count == 0 {
        return Err(SnapshotError::Corrupt("no root node"));
    }
    let mut sessions = state.sessions.clone();
    sessions.sort_unstable_by_key(|(id, _)| *id);
    let mut out = Vec::with_capacity(64 + acl_table.len() + 28 * sessions.len() + records.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let mut config = 0;
    if state.config.extended_types_enabled {
        config |= CONFIG_EXTENDED_TYPES;
    }
    if state.config.skip_acl {
        config |= CONFIG_SKIP_ACL;
    }
    out.push(config);
    out.extend_from_slice(&state.last_applied_zxid.to_le_bytes());
    out.extend_from_slice(&node_count.to_le_bytes());
    out.extend_from_slice(&acl_count.to_le_bytes());
    out.extend_from_slice(&acl_table);
    let session_count =
        u32::try_from(sessions.len()).map_err(|_| SnapshotError::TooLarge("session count"))?;
    out.extend_from_slice(&session_count.to_le_bytes());
    for (id, info) in &sessions {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&info.timeout_ms.to_le_bytes());
        out.extend_from_slice(&info.password);
    }
    out.extend_from_slice(&records);
    out.extend_from_slice(&END_MAGIC);
    out.extend_from_slice(&node_count.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{Txn, TxnKind, WriteOp};
    use corral_proto::consts::perms;
    use corral_proto::records::{CreateTtlRequest, SetDataRequest};
    use corral_proto::{Id, OpCode};
    use std::sync::Arc;

    fn write(tree: &mut DataTree, zxid: i64, session: i64, op: WriteOp) {
        let txn = Txn {
            session_id: session,
            cxid: 0,
            time_ms: 1000 + zxid,
            kind: TxnKind::Write {
                identities: Arc::from(vec![Id {
                    scheme: "ip".into(),
                    id: "127.0.0.1".into(),
                }]),
                op,
            },
        };
        let outcome = tree.apply(zxid, &txn);
        assert!(outcome.result.is_ok(), "{outcome:?}");
    }

    fn create(path: &str, data: &[u8], flags: i32) -> WriteOp {
        WriteOp::Create {
            op: OpCode::Create2,
            request: CreateTtlRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                acl: vec![Acl::new(perms::ALL, "world", "anyone")],
                flags,
                ttl: -1,
            },
        }
    }

    #[test]
    fn round_trips_a_tree() {
        let mut tree = DataTree::new(TreeConfig::default());
        let session = TxnKind::CreateSession {
            timeout_ms: 5000,
            password: [7; 16],
        };
        tree.apply(
            1,
            &Txn {
                session_id: 0x55,
                cxid: 0,
                time_ms: 1,
                kind: session,
            },
        );
        write(&mut tree, 2, 0x55, create("/a", b"x", 0));
        write(&mut tree, 3, 0x55, create("/a/e", b"", 1));
        write(&mut tree, 4, 0x55, create("/c", b"", 4));
        write(
            &mut tree,
            5,
            0x55,
            WriteOp::SetData(SetDataRequest {
                path: "/a".into(),
                data: None,
                version: -1,
            }),
        );
        let plain = tree.to_plain();
        assert_eq!(plain.nodes[0].path, "/");
        let back = DataTree::from_plain(&plain).unwrap();
        assert_eq!(back.digest(), tree.digest());
        assert_eq!(back.to_plain(), plain);
    }

    #[test]
    fn refuses_bad_input_without_panicking() {
        let tree = DataTree::new(TreeConfig::default());
        let good = tree.to_plain();
        let mut orphan = good.clone();
        orphan.nodes.push(PlainNode {
            path: "/missing/child".into(),
            ..good.nodes[1].clone()
        });
        assert!(matches!(
            DataTree::from_plain(&orphan),
            Err(SnapshotError::BadNode { .. })
        ));
        let mut no_session = good.clone();
        no_session.nodes[1].ephemeral_owner = 0x77;
        assert!(DataTree::from_plain(&no_session).is_err());
        let mut twice = good.clone();
        twice.nodes.push(good.nodes[1].clone());
        assert!(DataTree::from_plain(&twice).is_err());
        let empty = PlainState {
            nodes: Vec::new(),
            ..good
        };
        assert!(DataTree::from_plain(&empty).is_err());
    }
}
