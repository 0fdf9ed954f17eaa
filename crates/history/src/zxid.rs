//! Check 3: a session's reply zxids never go back.
//!
//! A reply header carries the zxid of the state the server answered from (for a write, its own
//! transaction). ZooKeeper keeps these monotonic per session — a client will not even
//! reconnect to a server behind the last zxid it saw — so a decrease means a session observed
//! an older state after a newer one, across keys, which the per-key checks cannot see.
//! A successful write must be strictly after everything the session saw before it: its
//! transaction was created after those states existed.

use std::collections::HashMap;

use crate::history::{History, Op};
use crate::sessions::{in_session_order, SessionOrder, Visit};
use crate::verdict::{Verdict, Violation};

/// Checks zxid monotonicity per session, with [`SessionOrder::RealTime`].
pub fn check_zxids(history: &History) -> Verdict {
    check_zxids_with(history, SessionOrder::RealTime)
}

/// Checks zxid monotonicity per session. Operations without a recorded zxid, and those with
/// an unknown outcome, are skipped.
pub fn check_zxids_with(history: &History, order: SessionOrder) -> Verdict {
    let mut floors: HashMap<u64, (i64, &Op)> = HashMap::new();
    let result = in_session_order(
        history,
        order,
        |op| op.zxid().is_some(),
        |op, visit| {
            let Some(zxid) = op.zxid() else { return Ok(()) };
            match visit {
                Visit::Fold => {
                    let floor = floors.entry(op.session).or_insert((zxid, op));
                    if zxid > floor.0 {
                        *floor = (zxid, op);
                    }
                }
                Visit::Check => {
                    let Some(&(floor, earlier)) = floors.get(&op.session) else {
                        return Ok(());
                    };
                    let successful_write = op.reply().is_some() && !op.operation.is_read();
                    let went_back = if successful_write {
                        zxid <= floor
                    } else {
                        zxid < floor
                    };
                    if went_back {
                        return Err(Violation::ZxidWentBack {
                            session: op.session,
                            floor,
                            zxid,
                            earlier: Box::new(earlier.clone()),
                            later: Box::new(op.clone()),
                        });
                    }
                }
            }
            Ok(())
        },
    );
    match result {
        Ok(()) => Verdict::Ok,
        Err(v) => Verdict::Violation(v),
    }
}
