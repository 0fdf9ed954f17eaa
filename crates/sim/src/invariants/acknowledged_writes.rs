//! No acknowledged write is lost. A write a client was told succeeded (its reply carries the
//! write's zxid) must be the committed entry at that zxid (the same session and xid), and be
//! applied:
//! - on every server of any majority restarted after the whole ensemble lost power (Raft's
//!   promise: a committed entry is durable on a majority, and any majority elects a leader
//!   that has it);
//! - on every server once the faults are healed and the ensemble is whole again.

use super::committed_history::{AppliedLog, EntryKind};
use super::Violation;

const PROPERTY: &str = "no acknowledged write lost";

/// A write the client was told succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckedWrite {
    pub zxid: i64,
    /// What the entry at `zxid` must be.
    pub entry: EntryKind,
    /// For messages.
    pub what: String,
}

/// Each acknowledged write is the entry the servers applied at its zxid.
pub fn check_entries(acked: &[AckedWrite], log: &AppliedLog) -> Result<(), Violation> {
    for write in acked {
        let index = u64::try_from(write.zxid).unwrap_or(0);
        match log.entries.get(&index) {
            Some(applied) if applied.kind == write.entry => {}
            Some(applied) => {
                return Err(Violation::new(
                    PROPERTY,
                    format!(
                        "{} was acknowledged at zxid {}, but the entry applied there is {:?}",
                        write.what, write.zxid, applied.kind
                    ),
                ))
            }
            None => {
                return Err(Violation::new(
                    PROPERTY,
                    format!(
                        "{} was acknowledged at zxid {}, which no server applied",
                        write.what, write.zxid
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Each acknowledged write is applied on every server in `applied` (server, applied zxid);
/// `when` says which servers these are, for the message.
pub fn check_applied(
    acked: &[AckedWrite],
    applied: &[(u64, i64)],
    when: &str,
) -> Result<(), Violation> {
    let Some(last) = acked.iter().max_by_key(|w| w.zxid) else {
        return Ok(());
    };
    for (node, zxid) in applied {
        if *zxid < last.zxid {
            return Err(Violation::new(
                PROPERTY,
                format!(
                    "{when}: server {node} applied up to zxid {zxid}, but {} was acknowledged \
                     at zxid {}",
                    last.what, last.zxid
                ),
            ));
        }
    }
    Ok(())
}
