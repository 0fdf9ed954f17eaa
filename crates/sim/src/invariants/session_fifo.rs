//! A session's writes take effect in the order its client sent them (ZooKeeper's "updates
//! from a client are applied in the order they were sent"), even across connections and
//! servers, and none takes effect twice. Among the writes of one session that are in the
//! committed history (failed ones included: they consume their zxid in order too), each comes
//! after the ones the client sent before it.
//!
//! A write is known by its tag (what it does) and its xid: a client may send the same request
//! twice (a delete whose outcome it did not learn, again), and only the xid tells which of the
//! two took effect. The clients keep one xid counter per session across their connections, as
//! the Java client does, so (session, xid) names one request.

use std::collections::BTreeMap;

use super::committed_history::{AppliedLog, EntryKind};
use super::Violation;

const PROPERTY: &str = "a session's writes apply in the order sent";

/// One write as its client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentWrite {
    pub tag: String,
    pub xid: i32,
}

/// `sent`: each session's writes, in the order its client sent them.
pub fn check(log: &AppliedLog, sent: &BTreeMap<i64, Vec<SentWrite>>) -> Result<(), Violation> {
    // Session -> (position in `sent` of the last write applied, its index).
    let mut last: BTreeMap<i64, (usize, u64)> = BTreeMap::new();
    for (&index, applied) in &log.entries {
        let EntryKind::Write { session, cxid, tag } = &applied.kind else {
            continue;
        };
        let Some(order) = sent.get(session) else {
            continue;
        };
        let Some(position) = order.iter().position(|w| w.xid == *cxid) else {
            return Err(Violation::new(
                PROPERTY,
                format!(
                    "session 0x{session:x}'s write `{tag}` took effect at index {index} with \
                     xid {cxid}, which its client never sent a write with"
                ),
            ));
        };
        if order[position].tag != *tag {
            return Err(Violation::new(
                PROPERTY,
                format!(
                    "session 0x{session:x} sent `{}` with xid {cxid}, but `{tag}` took effect \
                     with it (index {index})",
                    order[position].tag
                ),
            ));
        }
        if let Some(&(before, before_index)) = last.get(session) {
            if position <= before {
                let detail = match position == before {
                    true => format!(
                        "session 0x{session:x}'s write `{tag}` (xid {cxid}) took effect twice, \
                         at index {before_index} and at index {index}"
                    ),
                    false => format!(
                        "session 0x{session:x} sent `{tag}` (xid {cxid}) before `{}` (xid {}), \
                         but it took effect after it (index {index} after index {before_index})",
                        order[before].tag, order[before].xid
                    ),
                };
                return Err(Violation::new(PROPERTY, detail));
            }
        }
        last.insert(*session, (position, index));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::committed_history::Applied;

    fn log(writes: &[(u64, i64, i32, &str)]) -> AppliedLog {
        let mut log = AppliedLog::default();
        for &(index, session, cxid, tag) in writes {
            log.entries.insert(
                index,
                Applied {
                    term: 1,
                    hash: index,
                    kind: EntryKind::Write {
                        session,
                        cxid,
                        tag: tag.to_owned(),
                    },
                    first_by: 1,
                },
            );
        }
        log
    }

    fn sent(writes: &[(i32, &str)]) -> Vec<SentWrite> {
        writes
            .iter()
            .map(|&(xid, tag)| SentWrite {
                tag: tag.to_owned(),
                xid,
            })
            .collect()
    }

    #[test]
    fn writes_out_of_order_or_twice_are_violations() {
        let sent = BTreeMap::from([
            (7, sent(&[(1, "a"), (2, "b"), (4, "c")])),
            (8, sent(&[(1, "x")])),
        ]);
        // In order, with a write lost (b) and another session's in between.
        check(
            &log(&[(1, 7, 1, "a"), (2, 8, 1, "x"), (3, 7, 4, "c")]),
            &sent,
        )
        .unwrap();
        let err = check(&log(&[(1, 7, 4, "c"), (2, 7, 1, "a")]), &sent).unwrap_err();
        assert!(err.detail.contains("sent `a` (xid 1) before `c`"), "{err}");
        let err = check(&log(&[(1, 7, 1, "a"), (2, 7, 1, "a")]), &sent).unwrap_err();
        assert!(err.detail.contains("twice"), "{err}");
        let err = check(&log(&[(1, 7, 3, "a")]), &sent).unwrap_err();
        assert!(err.detail.contains("never sent"), "{err}");
        let err = check(&log(&[(1, 7, 2, "c")]), &sent).unwrap_err();
        assert!(err.detail.contains("sent `b` with xid 2"), "{err}");
    }

    #[test]
    fn the_same_request_sent_twice_is_told_apart_by_its_xid() {
        // `delete` sent, its outcome unknown, a set, then the same delete again: the second
        // one taking effect after the set is in order; the first one doing so is not.
        let sent = BTreeMap::from([(7, sent(&[(1, "delete"), (2, "set"), (3, "delete")]))]);
        check(&log(&[(1, 7, 2, "set"), (2, 7, 3, "delete")]), &sent).unwrap();
        check(
            &log(&[(1, 7, 1, "delete"), (2, 7, 2, "set"), (3, 7, 3, "delete")]),
            &sent,
        )
        .unwrap();
        let err = check(&log(&[(1, 7, 2, "set"), (2, 7, 1, "delete")]), &sent).unwrap_err();
        assert!(err.detail.contains("before `set`"), "{err}");
    }
}
