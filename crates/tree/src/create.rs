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

use std::sync::Arc;

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
    pub(crate) fn create<'a>(
        &mut self,
        args: &CreateArgs<'a>,
        ctx: &Ctx<'_>,
    ) -> Result<Effect<'a>, ErrorCode> {
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

        self.put(parent_path, || {
            parent.child_count += 1;
            parent.cversion = parent_cversion;
            Some(parent)
        });
        self.put(&path, || {
            Some(Rec {
                version: 0,
                cversion: 0,
                aversion: 0,
                owner: record_owner,
                child_count: 0,
                acl: Arc::from(&*acl),
            })
        });
        Ok(Effect::Create {
            path,
            data: args.data.as_ref(),
            acl,
            owner: stored_owner,
            parent_cversion,
            with_stat: args.op != OpCode::Create,
        })
    }
}

#[cfg(test)]
mod tests {
    use corral_proto::records::CreateTtlRequest;
    use corral_proto::response::Response;
    use corral_proto::{Acl, ErrorCode, OpCode};

    use crate::{DataTree, TreeConfig, Txn, TxnKind, WriteOp};

    fn txn(session_id: i64, kind: TxnKind) -> Txn {
        Txn {
            session_id,
            cxid: 0,
            time_ms: 5,
            kind,
        }
    }

    fn seq(path: &str) -> TxnKind {
        TxnKind::Write {
            identities: Vec::new().into(),
            op: WriteOp::Create {
                op: OpCode::Create,
                request: CreateTtlRequest {
                    path: path.into(),
                    data: None,
                    acl: vec![Acl::new(31, "world", "anyone")],
                    flags: 2,
                    ttl: -1,
                },
            },
        }
    }

    /// At 2^31 - 1 the stored cversion stops moving (DataTree only raises it), so the suffix
    /// sticks and the next sequential create meets NODEEXISTS; the parent's pzxid stays too.
    #[test]
    fn sequence_counter_overflow_sticks() {
        let mut t = DataTree::new(TreeConfig::default());
        let created = TxnKind::CreateSession {
            timeout_ms: 1,
            password: [0; 16],
        };
        assert!(t.apply(1, &txn(9, created)).result.is_ok());
        assert!(t.apply(2, &txn(9, seq("/p"))).result.is_ok());
        let p = t.store.lookup("/p0000000000").unwrap();
        t.store.get_mut(p).unwrap().cversion = i32::MAX - 1;
        let name = |r: Result<Response, ErrorCode>| match r {
            Ok(Response::Create { path }) => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            name(t.apply(3, &txn(9, seq("/p0000000000/x"))).result),
            "/p0000000000/x2147483646"
        );
        assert_eq!(
            name(t.apply(4, &txn(9, seq("/p0000000000/x"))).result),
            "/p0000000000/x2147483647"
        );
        let stat = t.stat("/p0000000000").unwrap();
        assert_eq!(
            (stat.pzxid, stat.num_children),
            (3, 2),
            "the wrapped create moved nothing"
        );
        assert_eq!(stat.cversion, i32::MAX.wrapping_mul(2).wrapping_sub(2));
        assert_eq!(
            t.apply(5, &txn(9, seq("/p0000000000/x"))).result,
            Err(ErrorCode::NodeExists)
        );
        // a plain create still works; the counter and pzxid no longer move
        let mut plain = seq("/p0000000000/y");
        if let TxnKind::Write {
            op: WriteOp::Create { request, .. },
            ..
        } = &mut plain
        {
            request.flags = 0;
        }
        assert!(t.apply(6, &txn(9, plain)).result.is_ok());
        assert_eq!(t.stat("/p0000000000").unwrap().pzxid, 3);
    }
}
