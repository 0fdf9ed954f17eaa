//! Validation of writes, as ZooKeeper's `PrepRequestProcessor` does it: every check runs
//! against a scratch view (the tree plus the changes of the earlier ops of the same txn, its
//! "change records"), in ZooKeeper's order, and a valid op becomes an [`Effect`] that
//! `mutate.rs` applies without any further check. A multi is validated whole before anything is
//! applied, which is what makes it all-or-nothing.
//!
//! The scratch view is keyed by the path string exactly as written, like ZooKeeper's
//! `outstandingChangesForPath`: a create under the root records its parent as "", which a later
//! op naming "/" does not see. That quirk is reproduced on purpose.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use corral_proto::consts::perms;
use corral_proto::records::{CheckVersionRequest, DeleteRequest, SetAclRequest, SetDataRequest};
use corral_proto::{Acl, ErrorCode, Id};

use crate::node::{owner_kind, OwnerKind};
use crate::{acl, path, DataTree};

/// Who is writing, and when.
pub(crate) struct Ctx<'a> {
    pub(crate) session_id: i64,
    pub(crate) identities: &'a [Id],
    pub(crate) zxid: i64,
    pub(crate) time_ms: i64,
}

/// The fields of a node the checks read (a `ChangeRecord`).
#[derive(Clone)]
pub(crate) struct Rec {
    pub(crate) version: i32,
    pub(crate) cversion: i32,
    pub(crate) aversion: i32,
    pub(crate) owner: i64,
    pub(crate) child_count: i32,
    pub(crate) acl: Arc<[Acl]>,
}

/// A validated change; applying it cannot fail. Borrows paths and data from the txn's ops
/// (`'a`) rather than copying them: the effect is applied before the txn is let go.
#[derive(Debug, Clone)]
pub(crate) enum Effect<'a> {
    Create {
        /// Owned: a sequential create's path is made here, and the reply carries it.
        path: String,
        data: Option<&'a Bytes>,
        acl: Cow<'a, [Acl]>,
        /// The owner the node is stored with (decided by the op type, as the txn type does).
        owner: i64,
        /// The parent's stored cversion after this create (`CreateTxn.parentCVersion`).
        parent_cversion: i32,
        /// create (1) answers a path; create2, createContainer, createTTL a path and a Stat.
        with_stat: bool,
    },
    Delete {
        path: &'a str,
    },
    SetData {
        path: &'a str,
        data: Option<&'a Bytes>,
        version: i32,
    },
    SetAcl {
        path: &'a str,
        acl: Cow<'a, [Acl]>,
        version: i32,
    },
    Check,
}

pub(crate) struct Prep<'t> {
    pub(crate) tree: &'t DataTree,
    /// The change records; `None` when validating a single op, which nothing reads after it
    /// (keeping them cost a map, a path copy and an ACL copy per write for nothing).
    overlay: Option<HashMap<String, Option<Rec>>>,
}

impl<'t> Prep<'t> {
    /// Validates one op on its own.
    pub(crate) fn single(tree: &'t DataTree) -> Prep<'t> {
        Prep {
            tree,
            overlay: None,
        }
    }

    /// Validates the ops of a multi in order, each seeing the changes of those before it.
    pub(crate) fn multi(tree: &'t DataTree) -> Prep<'t> {
        Prep {
            tree,
            overlay: Some(HashMap::new()),
        }
    }

    /// `getRecordForPath`: the scratch view first, then the tree (where "" is the root).
    pub(crate) fn record(&self, path: &str) -> Option<Rec> {
        if let Some(rec) = self.overlay.as_ref().and_then(|o| o.get(path)) {
            return rec.clone();
        }
        let tree = self.tree;
        let id = tree.store.lookup(path)?;
        tree.store.get(id).map(|n| Rec {
            version: n.version,
            cversion: n.cversion,
            aversion: n.aversion(),
            owner: tree.store.owner(id),
            child_count: n.num_children as i32,
            acl: tree.acls.get(n.acl),
        })
    }

    pub(crate) fn record_or_nonode(&self, path: &str) -> Result<Rec, ErrorCode> {
        self.record(path).ok_or(ErrorCode::NoNode)
    }

    /// Records the change an op makes at `path` for the ops after it; `rec` is only built when
    /// there are such ops (a multi), since a record costs a path copy and an ACL copy.
    pub(crate) fn put(&mut self, path: &str, rec: impl FnOnce() -> Option<Rec>) {
        if let Some(overlay) = &mut self.overlay {
            overlay.insert(path.to_owned(), rec());
        }
    }

    /// `sessionTracker.checkSession`: the session must be live.
    pub(crate) fn check_session(&self, ctx: &Ctx<'_>) -> Result<(), ErrorCode> {
        if self.tree.sessions.contains(ctx.session_id) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    /// `checkACL` → NOAUTH.
    pub(crate) fn check_acl(&self, acl: &[Acl], perm: i32, ctx: &Ctx<'_>) -> Result<(), ErrorCode> {
        if self.tree.permits(acl, perm, ctx.identities) {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    pub(crate) fn fixup_acl<'a>(
        &self,
        acl: &'a [Acl],
        ctx: &Ctx<'_>,
    ) -> Result<Cow<'a, [Acl]>, ErrorCode> {
        acl::fixup(&self.tree.providers, ctx.identities, acl)
    }

    pub(crate) fn is_normal_ephemeral(&self, owner: i64) -> bool {
        owner_kind(owner, self.tree.config.extended_types_enabled) == OwnerKind::Normal
    }

    /// delete: session; no `/`, NUL or a protected path → BADARGUMENTS; parent NONODE;
    /// DELETE on the parent; NONODE; BADVERSION; NOTEMPTY.
    pub(crate) fn delete<'a>(
        &mut self,
        req: &'a DeleteRequest,
        ctx: &Ctx<'_>,
    ) -> Result<Effect<'a>, ErrorCode> {
        self.check_session(ctx)?;
        let path = req.path.as_str();
        let parent_path = path::parent_for_write(path)
            .filter(|_| !path::is_special(path))
            .ok_or(ErrorCode::BadArguments)?;
        let mut parent = self.record_or_nonode(parent_path)?;
        self.check_acl(&parent.acl, perms::DELETE, ctx)?;
        let node = self.record_or_nonode(path)?;
        check_version(node.version, req.version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.put(parent_path, || {
            parent.child_count -= 1;
            Some(parent)
        });
        self.put(path, || None);
        Ok(Effect::Delete { path })
    }

    /// setData: session; path validation; NONODE; WRITE; BADVERSION.
    pub(crate) fn set_data<'a>(
        &mut self,
        req: &'a SetDataRequest,
        ctx: &Ctx<'_>,
    ) -> Result<Effect<'a>, ErrorCode> {
        self.check_session(ctx)?;
        validate(&req.path)?;
        let mut node = self.record_or_nonode(&req.path)?;
        self.check_acl(&node.acl, perms::WRITE, ctx)?;
        let version = check_version(node.version, req.version)?;
        self.put(&req.path, || {
            node.version = version;
            Some(node)
        });
        Ok(Effect::SetData {
            path: &req.path,
            data: req.data.as_ref(),
            version,
        })
    }

    /// setACL: session; path validation; ACL fix-up (INVALIDACL, before NONODE); NONODE;
    /// ADMIN; BADVERSION against aversion.
    pub(crate) fn set_acl<'a>(
        &mut self,
        req: &'a SetAclRequest,
        ctx: &Ctx<'_>,
    ) -> Result<Effect<'a>, ErrorCode> {
        self.check_session(ctx)?;
        validate(&req.path)?;
        let acl = self.fixup_acl(&req.acl, ctx)?;
        let mut node = self.record_or_nonode(&req.path)?;
        self.check_acl(&node.acl, perms::ADMIN, ctx)?;
        let version = check_version(node.aversion, req.version)?;
        self.put(&req.path, || {
            node.aversion = version;
            node.acl = Arc::from(&*acl);
            Some(node)
        });
        Ok(Effect::SetAcl {
            path: &req.path,
            acl,
            version,
        })
    }

    /// check (in multi): session; path validation; NONODE; READ; BADVERSION.
    pub(crate) fn check<'a>(
        &mut self,
        req: &'a CheckVersionRequest,
        ctx: &Ctx<'_>,
    ) -> Result<Effect<'a>, ErrorCode> {
        self.check_session(ctx)?;
        validate(&req.path)?;
        let node = self.record_or_nonode(&req.path)?;
        self.check_acl(&node.acl, perms::READ, ctx)?;
        check_version(node.version, req.version)?;
        Ok(Effect::Check)
    }
}

/// `PathUtils.validatePath` → BADARGUMENTS.
pub(crate) fn validate(path: &str) -> Result<(), ErrorCode> {
    if path::is_valid(path) {
        Ok(())
    } else {
        Err(ErrorCode::BadArguments)
    }
}

/// `checkAndIncVersion`: -1 matches anything; the new version wraps like a Java int.
pub(crate) fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}
