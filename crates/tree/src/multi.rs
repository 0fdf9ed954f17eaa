//! `multi` (14): every op validated in order against one scratch view, then all applied under
//! the multi's single zxid — or none.
//!
//! Results: on success one result per op in op order; on failure ops before the failing one →
//! `Error(Ok)`, the failing one → `Error(code)`, after it → `Error(RuntimeInconsistency)`, and
//! nothing changes. Result types follow the *effective* op type (`FinalRequestProcessor`):
//! create → Create{path}; create2, createContainer, createTTL → Create2{path, stat}.
//!
//! Normalisation, as ZooKeeper's `MultiOperationRecord` + `Op.create` decode a multi:
//! - create/create2/createContainer header: flags that are no CreateMode, or a TTL mode (no ttl
//!   field, so `CreateOptions` rejects ttl -1) → the whole request fails to parse:
//!   MARSHALLINGERROR for the multi; CONTAINER flags turn the op into createContainer.
//! - createTTL header: a TTL mode stays createTTL; any other flags (invalid ones read as
//!   PERSISTENT here) turn it into a plain create (createContainer for CONTAINER flags) whose
//!   ttl is dropped; invalid flags then fail that op with BADARGUMENTS.
//! - a read op in a write multi → MARSHALLINGERROR for the multi.

use corral_proto::consts::CreateMode;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::response::Response;
use corral_proto::{ErrorCode, OpCode};

use crate::create::CreateArgs;
use crate::mutate::Applied;
use crate::mutate::Triggers;
use crate::prep::{Ctx, Prep};
use crate::DataTree;

/// The effective op type and ttl of a create inside a multi.
fn normalize_create(op: &MultiOp) -> Result<Option<(OpCode, i64)>, ErrorCode> {
    Ok(Some(match op {
        MultiOp::Create { op, request } => {
            let mode = CreateMode::from_flags(request.flags).ok_or(ErrorCode::MarshallingError)?;
            if mode.is_ttl()
                || !matches!(
                    op,
                    OpCode::Create | OpCode::Create2 | OpCode::CreateContainer
                )
            {
                return Err(ErrorCode::MarshallingError);
            }
            let op = if mode.is_container() {
                OpCode::CreateContainer
            } else {
                *op
            };
            (op, -1)
        }
        MultiOp::CreateTtl(request) => {
            let mode = CreateMode::from_flags(request.flags).unwrap_or(CreateMode::Persistent);
            if mode.is_ttl() {
                (OpCode::CreateTtl, request.ttl)
            } else if mode.is_container() {
                (OpCode::CreateContainer, -1)
            } else {
                (OpCode::Create, -1)
            }
        }
        MultiOp::GetChildren(_) | MultiOp::GetData(_) => return Err(ErrorCode::MarshallingError),
        _ => return Ok(None),
    }))
}

impl DataTree {
    pub(crate) fn apply_multi(
        &mut self,
        ctx: &Ctx<'_>,
        ops: &[MultiOp],
        triggers: &mut Triggers,
    ) -> Result<Response, ErrorCode> {
        let mut kinds = Vec::with_capacity(ops.len());
        for op in ops {
            kinds.push(normalize_create(op)?);
        }
        let mut effects = Vec::with_capacity(ops.len());
        let mut failure = None;
        {
            let mut prep = Prep::multi(self);
            for (index, (op, kind)) in ops.iter().zip(&kinds).enumerate() {
                let validated = match (op, kind) {
                    (MultiOp::Create { request, .. }, Some((effective, ttl))) => prep.create(
                        &CreateArgs {
                            op: *effective,
                            path: &request.path,
                            data: &request.data,
                            acl: &request.acl,
                            flags: request.flags,
                            ttl: *ttl,
                        },
                        ctx,
                    ),
                    (MultiOp::CreateTtl(request), Some((effective, ttl))) => prep.create(
                        &CreateArgs {
                            op: *effective,
                            path: &request.path,
                            data: &request.data,
                            acl: &request.acl,
                            flags: request.flags,
                            ttl: *ttl,
                        },
                        ctx,
                    ),
                    (MultiOp::Delete(r), _) => prep.delete(r, ctx),
                    (MultiOp::SetData(r), _) => prep.set_data(r, ctx),
                    (MultiOp::Check(r), _) => prep.check(r, ctx),
                    _ => Err(ErrorCode::MarshallingError),
                };
                match validated {
                    Ok(effect) => effects.push(effect),
                    Err(code) => {
                        failure = Some((index, code));
                        break;
                    }
                }
            }
        }
        if let Some((failed, code)) = failure {
            let results = (0..ops.len())
                .map(|i| {
                    MultiResult::Error(match i.cmp(&failed) {
                        std::cmp::Ordering::Less => ErrorCode::Ok,
                        std::cmp::Ordering::Equal => code,
                        std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
                    })
                })
                .collect();
            return Ok(Response::Multi(results));
        }
        let results = effects
            .into_iter()
            .map(|effect| match self.commit(ctx, effect, triggers) {
                Applied::Created {
                    path,
                    stat,
                    with_stat,
                } => {
                    if with_stat {
                        MultiResult::Create2 { path, stat }
                    } else {
                        MultiResult::Create { path }
                    }
                }
                Applied::Deleted => MultiResult::Delete,
                Applied::DataSet(stat) => MultiResult::SetData { stat },
                Applied::Checked | Applied::AclSet(_) => MultiResult::Check,
                Applied::Skipped => MultiResult::Error(ErrorCode::SystemError),
            })
            .collect();
        Ok(Response::Multi(results))
    }
}
