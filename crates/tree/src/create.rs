//! Validation of a create (`pRequest2TxnCreate`), the operation with the most steps. Order,
//! first failure wins:
//!
//! 0. flags that are no CreateMode → BADARGUMENTS;
//! 1. TTL mode without extended types → UNIMPLEMENTED;
//! 2. TTL outside 1..=2^40-1 for a TTL mode, or a ttl ≥ 0 for another mode → BADARGUMENTS;
//! 3. unknown session → SESSIONEXPIRED;
//! 4. no `/` or a NUL in the path → BADARGUMENTS;
//! 5. ACL fix-up → INVALIDACL;
//! 6. parent missing → NONODE;
//! 7. no CREATE on the parent → NOAUTH;
//! 8. sequential: append the parent's stored cversion as `%010d`;
//! 9. full path validation → BADARGUMENTS;
//! 10. node exists → NODEEXISTS;
//! 11. parent is a session's ephemeral → NOCHILDRENFOREPHEMERALS.
//!
//! The *op type* (create, create2, createContainer, createTTL) and the *mode* (flags) are
//! separate in ZooKeeper: the mode drives the checks and the scratch view, the op type decides
//! what is stored (`CreateContainerTxn` makes a container whatever the flags; `create` with
//! flags CONTAINER stores a plain persistent node) and the reply shape. Both are kept.

use bytes::Bytes;
use corral_proto::consts::{perms, CreateMode, CONTAINER_EPHEMERAL_OWNER, TTL_MS_MAX};
use corral_proto::{Acl, ErrorCode, OpCode};

use crate::node::ttl_owner;
use crate::path;
use crate::prep::{validate, Ctx, Effect, Prep, Rec};

/// One create, after multi normalisation: `op` is the effective op type.
pub(crate) struct CreateArgs<'a> {
    pub(crate) op: OpCode,
    pub(crate) path: &'a str,
    pub(crate) data: &'a Option<Bytes>,
    pub(crate) acl: &'a [Acl],
    pub(crate) flags: i32,
    /// -1 unless `op` is createTTL.
    pub(crate) ttl: i64,
}

/// `EphemeralType.validateTTL`.
fn validate_ttl(mode: CreateMode, ttl: i64) -> Result<(), ErrorCode> {
    let ok = if mode.is_ttl() {
        ttl > 0 && ttl <= TTL_MS_MAX
    } else {
        ttl < 0
    };
    if ok {
        Ok(())
    } else {
        Err(ErrorCode::BadArguments)
    }
}

impl Prep<'_> {
    pub(crate) fn create(
        &mut self,
        args: &CreateArgs<'_>,
        ctx: &Ctx<'_>,
    ) -> Result<Effect, ErrorCode> {
        if !matches!(
            args.op,
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl
        ) {
            return Err(ErrorCode::Unimplemented);
        }
        let mode = CreateMode::from_flags(args.flags).ok_or(ErrorCode::BadArguments)?;
        if mode.is_ttl() && !self.tree.config.extended_types_enabled {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl = if args.op == OpCode::CreateTtl {
            args.ttl
        } else {
            -1
        };
        validate_ttl(mode, ttl)?;
        // ZooKeeper lets createTTL with a non-TTL mode and a negative ttl through here and then
        // fails on it while applying (an uncaught IllegalArgumentException in processTxn); this
        // rejects it as the bad argument it is.
        if args.op == OpCode::CreateTtl && !mode.is_ttl() {
            return Err(ErrorCode::BadArguments);
        }
        self.check_session(ctx)?;
        let parent_path = path::parent_for_write(args.path).ok_or(ErrorCode::BadArguments)?;
        let acl = self.fixup_acl(args.acl, ctx)?;
        let mut parent = self.record_or_nonode(parent_path)?;
        self.check_acl(&parent.acl, perms::CREATE, ctx)?;
        let path = if mode.is_sequential() {
            format!("{}{:010}", args.path, parent.cversion)
        } else {
            args.path.to_owned()
        };
        validate(&path)?;
        if self.record(&path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if self.is_normal_ephemeral(parent.owner) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let parent_cversion = parent.cversion.wrapping_add(1);

        // What the scratch view records follows the mode; what is stored follows the op type.
        let record_owner = if mode.is_container() {
            CONTAINER_EPHEMERAL_OWNER
        } else if mode.is_ttl() {
            ttl_owner(ttl)
        } else if mode.is_ephemeral() {
            ctx.session_id
        } else {
            0
        };
        let stored_owner = match args.op {
            OpCode::CreateContainer => CONTAINER_EPHEMERAL_OWNER,
            OpCode::CreateTtl => ttl_owner(ttl),
            _ if mode.is_ephemeral() => ctx.session_id,
            _ => 0,
        };

        parent.child_count += 1;
        parent.cversion = parent_cversion;
        self.put(parent_path, Some(parent));
        self.put(
            &path,
            Some(Rec {
                version: 0,
                cversion: 0,
                aversion: 0,
                owner: record_owner,
                child_count: 0,
                acl: acl.clone().into(),
            }),
        );
        Ok(Effect::Create {
            path,
            data: args.data.clone(),
            acl,
            owner: stored_owner,
            parent_cversion,
            with_stat: args.op != OpCode::Create,
        })
    }
}
