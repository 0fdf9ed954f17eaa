//! A session's writes take effect in the order its client sent them (ZooKeeper's "updates
//! from a client are applied in the order they were sent"), even across connections and
//! servers, and none takes effect twice. Among the writes of one session that are in the
//! committed history (failed ones included: they consume their zxid in order too), each comes
//! after the ones the client sent before it.

use std::collections::BTreeMap;

use super::committed_history::{AppliedLog, EntryKind};
use super::Violation;

const PROPERTY: &str = "a session's writes apply in the order sent";

/// `sent`: each session's writes (their tags), in the order its client sent them.
pub fn check(log: &AppliedLog, sent: &BTreeMap<i64, Vec<String>>) -> Result<(), Violation> {
    // Session -> (position in `sent` of the last write applied, its index).
    let mut last: BTreeMap<i64, (usize, u64)> = BTreeMap::new();
    for (&index, applied) in &log.entries {
        let EntryKind::Write { session, tag, .. } = &applied.kind else {
            continue;
        };
        let Some(order) = sent.get(session) else {
            continue;
        };
        let Some(position) = order.iter().position(|t| t == tag) else {
            continue;
        };
        if let Some(&(before, before_index)) = last.get(session) {
            if position <= before {
                let detail = match position == before {
                    true => format!(
                        "session 0x{session:x}'s write `{tag}` took effect twice, at index \
                         {before_index} and at index {index}"
                    ),
                    false => format!(
                        "session 0x{session:x} sent `{tag}` before `{}`, but it took effect \
                         after it (index {index} after index {before_index})",
                        order[before]
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

    fn log(writes: &[(u64, i64, &str)]) -> AppliedLog {
        let mut log = AppliedLog::default();
        for &(index, session, tag) in writes {
            log.entries.insert(
                index,
                Applied {
                    term: 1,
                    hash: index,
                    kind: EntryKind::Write {
                        session,
                        cxid: index as i32,
                        tag: tag.to_owned(),
                    },
                    first_by: 1,
                },
            );
        }
        log
    }

    #[test]
    fn writes_out_of_order_or_twice_are_violations() {
        let sent = BTreeMap::from([
            (7, vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]),
            (8, vec!["x".to_owned()]),
        ]);
        // In order, with a write lost (b) and another session's in between.
        check(&log(&[(1, 7, "a"), (2, 8, "x"), (3, 7, "c")]), &sent).unwrap();
        let err = check(&log(&[(1, 7, "c"), (2, 7, "a")]), &sent).unwrap_err();
        assert!(err.detail.contains("sent `a` before `c`"), "{err}");
        let err = check(&log(&[(1, 7, "a"), (2, 7, "a")]), &sent).unwrap_err();
        assert!(err.detail.contains("twice"), "{err}");
    }
}
