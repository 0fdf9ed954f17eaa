//! Reads, with `FinalRequestProcessor`'s error precedence: NONODE before NOAUTH, except exists
//! (NUL → BADARGUMENTS, then NOAUTH only for an existing node without READ, then NONODE).
//! Reads validate no path: a malformed path is just not found. "" is the root's alias.

use bytes::Bytes;
use corral_proto::consts::perms;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::{Acl, ErrorCode, Id, Stat};

use crate::apply::ttl_expired;
use crate::node::{Node, NodeId};
use crate::{acl, path, DataTree};

impl DataTree {
    /// The node and its id, after the READ (or other `perm`) check.
    fn readable(
        &self,
        path: &str,
        perm: i32,
        identities: &[Id],
    ) -> Result<(NodeId, &Node), ErrorCode> {
        let id = self.store.lookup(path).ok_or(ErrorCode::NoNode)?;
        let node = self.store.get(id).ok_or(ErrorCode::NoNode)?;
        if !self.permits(&self.acls.get(node.acl), perm, identities) {
            return Err(ErrorCode::NoAuth);
        }
        Ok((id, node))
    }

    fn stat_of(&self, id: NodeId, node: &Node) -> Stat {
        node.stat(self.store.owner(id), self.config.extended_types_enabled)
    }

    pub(crate) fn read_exists(&self, path: &str, identities: &[Id]) -> Result<Stat, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        self.readable(path, perms::READ, identities)
            .map(|(id, n)| self.stat_of(id, n))
    }

    pub(crate) fn read_data(
        &self,
        path: &str,
        identities: &[Id],
    ) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        let (id, node) = self.readable(path, perms::READ, identities)?;
        Ok((
            node.data().map(Bytes::copy_from_slice),
            self.stat_of(id, node),
        ))
    }

    pub(crate) fn read_children(
        &self,
        path: &str,
        identities: &[Id],
    ) -> Result<(Vec<String>, Stat), ErrorCode> {
        let (id, node) = self.readable(path, perms::READ, identities)?;
        let mut names: Vec<String> = self
            .store
            .children(id)
            .map(|(_, child)| child.name().to_owned())
            .collect();
        names.sort_unstable();
        Ok((names, self.stat_of(id, node)))
    }

    /// getACL needs READ or ADMIN; without ADMIN, digest ids are masked.
    pub(crate) fn read_acl(
        &self,
        path: &str,
        identities: &[Id],
    ) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let (id, node) = self.readable(path, perms::READ | perms::ADMIN, identities)?;
        let list = self.acls.get(node.acl);
        let shown = if self.permits(&list, perms::ADMIN, identities) {
            list.to_vec()
        } else {
            acl::mask_digests(&list)
        };
        Ok((shown, self.stat_of(id, node)))
    }

    /// ZooKeeper counts map keys: for "/" every node but the root, for "" (the root's alias,
    /// whose `"" + "/"` prefix matches every path) every node, otherwise the descendants.
    pub(crate) fn read_all_children_number(
        &self,
        path: &str,
        identities: &[Id],
    ) -> Result<i32, ErrorCode> {
        let (id, _) = self.readable(path, perms::READ, identities)?;
        let count = match path {
            "" => self.store.len(),
            "/" => self.store.len() - 1,
            _ => self.descendants(id),
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    fn descendants(&self, id: NodeId) -> usize {
        let mut count = 0;
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            for (child, _) in self.store.children(next) {
                count += 1;
                stack.push(child);
            }
        }
        count
    }

    /// getEphemerals: a blank prefix (after Java's trim) or "/" lists all; otherwise a plain
    /// string-prefix match on the untrimmed prefix.
    pub(crate) fn read_ephemerals(&self, session_id: i64, prefix: &str) -> Vec<String> {
        let trimmed = path::java_trim(prefix);
        let all = trimmed.is_empty() || trimmed == "/";
        self.ephemeral_paths(session_id)
            .into_iter()
            .filter(|p| all || p.starts_with(prefix))
            .collect()
    }

    pub(crate) fn read_multi(&self, ops: &[MultiOp], identities: &[Id]) -> Vec<MultiResult> {
        ops.iter()
            .map(|op| match op {
                MultiOp::GetChildren(r) => match self.read_children(&r.path, identities) {
                    Ok((children, _)) => MultiResult::GetChildren { children },
                    Err(code) => MultiResult::Error(code),
                },
                MultiOp::GetData(r) => match self.read_data(&r.path, identities) {
                    Ok((data, stat)) => MultiResult::GetData { data, stat },
                    Err(code) => MultiResult::Error(code),
                },
                _ => MultiResult::Error(ErrorCode::MarshallingError),
            })
            .collect()
    }

    pub(crate) fn read_reap_candidates(
        &self,
        now_ms: i64,
        max_never_used_ms: i64,
        limit: usize,
    ) -> Vec<String> {
        let containers = self.containers.iter().copied().filter(|&id| {
            self.store.get(id).is_some_and(|n| {
                n.num_children == 0
                    && (n.cversion > 0
                        || (max_never_used_ms != 0
                            && now_ms.saturating_sub(n.mtime()) > max_never_used_ms))
            })
        });
        let ttls = self.ttls.iter().copied().filter(|&id| {
            self.store.get(id).is_some_and(|n| {
                n.num_children == 0 && ttl_expired(self.store.owner(id), n.mtime(), now_ms)
            })
        });
        let mut paths: Vec<String> = containers
            .chain(ttls)
            .map(|id| self.store.path_of(id))
            .collect();
        paths.sort_unstable();
        paths.truncate(limit);
        paths
    }
}
