//! The txn dispatcher: sessions, single writes, the reaper's deleteContainer. Multi lives in
//! `multi.rs`.
//!
//! Every txn consumes its zxid, failed or not (ZooKeeper logs an error txn for it).

use corral_proto::consts::TTL_MS_MAX;
use corral_proto::records::CreateTtlRequest;
use corral_proto::response::Response;
use corral_proto::{ErrorCode, OpCode};

use crate::create::CreateArgs;
use crate::mutate::Applied;
use crate::mutate::Triggers;
use crate::node::{owner_kind, ttl_of, OwnerKind};
use crate::prep::{Ctx, Prep};
use crate::{path, ApplyOutcome, DataTree, SessionInfo, Txn, TxnKind, WriteOp};

impl DataTree {
    /// `keep_triggers`: whether the outcome lists the watch triggers (see [`Triggers`]).
    pub(crate) fn apply_txn(&mut self, zxid: i64, txn: &Txn, keep_triggers: bool) -> ApplyOutcome {
        let mut triggers = Triggers::new(keep_triggers);
        let result = match &txn.kind {
            TxnKind::CreateSession {
                timeout_ms,
                password,
            } => self.create_session(
                txn.session_id,
                SessionInfo {
                    timeout_ms: *timeout_ms,
                    password: *password,
                },
            ),
            TxnKind::CloseSession { .. } => {
                self.close_session(txn.session_id, zxid, &mut triggers);
                Ok(Response::Empty)
            }
            TxnKind::Write { identities, op } => {
                let ctx = Ctx {
                    session_id: txn.session_id,
                    identities,
                    zxid,
                    time_ms: txn.time_ms,
                };
                self.apply_write(&ctx, op, &mut triggers)
            }
            TxnKind::DeleteContainer { path } => {
                self.delete_container(path, zxid, txn.time_ms, &mut triggers)
            }
        };
        if zxid > self.last_applied_zxid {
            self.last_applied_zxid = zxid;
        }
        debug_assert!(
            result.is_ok() || triggers.list.is_empty(),
            "a failed txn fired watches"
        );
        ApplyOutcome {
            result,
            triggers: triggers.list,
        }
    }

    /// A session id the tree cannot tell apart from its own markers is refused (ZooKeeper's id
    /// generator never makes one): 0, the container marker, and with extended types a top byte
    /// of 0xFF (the TTL marker). A duplicate id is refused too. Both → BADARGUMENTS.
    fn create_session(
        &mut self,
        session_id: i64,
        info: SessionInfo,
    ) -> Result<Response, ErrorCode> {
        let marker = owner_kind(session_id, self.config.extended_types_enabled)
            != OwnerKind::Normal
            || (self.config.extended_types_enabled && (session_id as u64) >> 56 == 0xff);
        if marker || !self.sessions.add(session_id, info) {
            return Err(ErrorCode::BadArguments);
        }
        Ok(Response::Empty)
    }

    /// Deletes the session's ephemerals in path order, each like a delete (pzxid, watches), and
    /// forgets the session. An unknown session is a no-op that succeeds, as in ZooKeeper.
    fn close_session(&mut self, session_id: i64, zxid: i64, triggers: &mut Triggers) {
        for path in self.ephemeral_paths(session_id) {
            self.delete_node(&path, zxid, triggers);
        }
        self.sessions.remove(session_id);
    }

    /// The paths of a session's ephemerals, sorted.
    pub(crate) fn ephemeral_paths(&self, session_id: i64) -> Vec<String> {
        let mut paths: Vec<String> = self
            .sessions
            .ephemerals_of(session_id)
            .map(|id| self.store.path_of(id))
            .collect();
        paths.sort_unstable();
        paths
    }

    fn apply_write(
        &mut self,
        ctx: &Ctx<'_>,
        op: &WriteOp,
        triggers: &mut Triggers,
    ) -> Result<Response, ErrorCode> {
        let effect = {
            let mut prep = Prep::single(self);
            match op {
                WriteOp::Create { op, request } => prep.create(&create_args(*op, request), ctx),
                WriteOp::Delete(r) => prep.delete(r, ctx),
                WriteOp::SetData(r) => prep.set_data(r, ctx),
                WriteOp::SetAcl(r) => prep.set_acl(r, ctx),
                WriteOp::Multi(ops) => return self.apply_multi(ctx, ops, triggers),
            }
        }?;
        Ok(match self.commit(ctx, effect, triggers) {
            Applied::Created {
                path,
                stat,
                with_stat,
            } => {
                if with_stat {
                    Response::Create2 { path, stat }
                } else {
                    Response::Create { path }
                }
            }
            Applied::Deleted | Applied::Checked | Applied::Skipped => Response::Empty,
            Applied::DataSet(stat) | Applied::AclSet(stat) => Response::Stat(stat),
        })
    }

    /// The reaper's delete. ZooKeeper only refuses a node with children (NOTEMPTY) or a
    /// session's ephemeral (BADVERSION); this also refuses, with BADVERSION, a persistent node
    /// and a TTL node that is not expired at the txn's time, so a node that was recreated or
    /// touched after the reaper picked it survives.
    fn delete_container(
        &mut self,
        path: &str,
        zxid: i64,
        now_ms: i64,
        triggers: &mut Triggers,
    ) -> Result<Response, ErrorCode> {
        if path::parent_for_write(path).is_none() || path::is_special(path) {
            return Err(ErrorCode::BadArguments);
        }
        let id = self.store.lookup(path).ok_or(ErrorCode::NoNode)?;
        let node = self.store.get(id).ok_or(ErrorCode::NoNode)?;
        if node.num_children > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        let owner = self.store.owner(id);
        let reapable = match owner_kind(owner, self.config.extended_types_enabled) {
            OwnerKind::Container => true,
            OwnerKind::Ttl => ttl_expired(owner, node.mtime(), now_ms),
            OwnerKind::Normal | OwnerKind::Void => false,
        };
        if !reapable {
            return Err(ErrorCode::BadVersion);
        }
        self.delete_node(path, zxid, triggers);
        Ok(Response::Empty)
    }
}

/// `ContainerManager`: a TTL node is expired when `now - mtime > ttl` (and ttl ≠ 0).
pub(crate) fn ttl_expired(owner: i64, mtime: i64, now_ms: i64) -> bool {
    let ttl = ttl_of(owner);
    ttl != 0 && ttl <= TTL_MS_MAX && now_ms.saturating_sub(mtime) > ttl
}

/// A top-level create: the request's opcode is the op type (no normalisation).
fn create_args(op: OpCode, request: &CreateTtlRequest) -> CreateArgs<'_> {
    CreateArgs {
        op,
        path: &request.path,
        data: &request.data,
        acl: &request.acl,
        flags: request.flags,
        ttl: request.ttl,
    }
}
