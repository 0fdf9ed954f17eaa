//! Histories no correct ZooKeeper can produce: each must be reported, by the check meant for
//! it, with an explanation naming the operations involved.

use corral_history::Outcome::{Failed, Unknown};
use corral_history::{History, Violation};

use crate::{cas, data, ok, read, sync_read, violation, write, Builder};

/// The linearizability violation, checked to name `culprit` as the op that could not be
/// placed or as one of the ops that placing it would have skipped.
#[track_caller]
fn not_linearizable(b: &Builder, culprit: corral_history::OpId) -> String {
    let v = violation(b.linearizable());
    let Violation::NotLinearizable(n) = &v else {
        panic!("expected NotLinearizable, got {v}");
    };
    assert!(
        n.stuck.id == culprit || n.blocked_by.iter().any(|op| op.id == culprit),
        "{culprit} not named in:\n{v}"
    );
    assert!(n.window().contains(&culprit));
    // The same history read back from text gives the same answer.
    let (history, initial) = History::from_text(&b.history.to_text(&b.initial)).expect("text");
    assert_eq!(
        corral_history::check_linearizable(&history, &initial, crate::BUDGET),
        b.linearizable()
    );
    assert!(b.all().is_violation());
    v.to_string()
}

#[test]
fn stale_sync_read() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(1, write("/a", "y"), 20, Some(30), ok(2));
    let stale = b.op(2, sync_read("/a"), 40, Some(50), data("x", 1));
    let message = not_linearizable(&b, stale);
    // The explanation shows where the register was and both sides of the conflict.
    assert!(message.contains("\"x\", version 1"), "{message}");
    assert!(
        message.contains("#1 s1 20..30 write \"/a\" \"y\" => ok 2"),
        "{message}"
    );
    assert!(
        message.contains("#2 s2 40..50 sync-read \"/a\" => ok \"x\" 1"),
        "{message}"
    );
    // Plain reads may be stale: the session check has no complaint.
    assert!(b.sessions().is_ok());
}

#[test]
fn two_successful_cas_on_the_same_version() {
    let mut b = Builder::new();
    b.op(1, cas("/a", 0, "a"), 0, Some(10), ok(1));
    let second = b.op(2, cas("/a", 0, "b"), 5, Some(15), ok(1));
    let v = violation(b.sessions());
    assert!(
        matches!(&v, Violation::DuplicateVersion { version: 1, .. }),
        "{v}"
    );
    not_linearizable(&b, second);

    // Even when the versions returned differ, the second CAS expected a version that was gone.
    let mut b = Builder::new();
    b.op(1, cas("/a", 0, "a"), 0, Some(10), ok(1));
    let second = b.op(2, cas("/a", 0, "b"), 20, Some(30), ok(2));
    not_linearizable(&b, second);
}

#[test]
fn read_of_a_value_never_written() {
    // At a version some write produced.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(2, read("/a"), 20, Some(30), data("zzz", 1));
    let v = violation(b.sessions());
    assert!(
        matches!(
            &v,
            Violation::WrongValueForVersion {
                writer: Some(_),
                ..
            }
        ),
        "{v}"
    );

    // At the initial version.
    let mut b = Builder::new();
    b.op(2, read("/a"), 20, Some(30), data("zzz", 0));
    let v = violation(b.sessions());
    assert!(
        matches!(&v, Violation::WrongValueForVersion { writer: None, .. }),
        "{v}"
    );

    // At a version no successful write claimed, with only an unknown write of another value.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), Unknown);
    let read = b.op(2, sync_read("/a"), 20, Some(30), data("zzz", 1));
    let v = violation(b.sessions());
    assert!(matches!(&v, Violation::ValueNeverWritten { .. }), "{v}");
    not_linearizable(&b, read);
}

#[test]
fn version_going_backwards_in_a_session() {
    // Monotonic reads.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(2, read("/a"), 20, Some(30), data("x", 1));
    b.op(2, read("/a"), 40, Some(50), data("", 0));
    let v = violation(b.sessions());
    assert!(
        matches!(
            &v,
            Violation::VersionWentBack {
                session: 2,
                floor: 1,
                version: 0,
                ..
            }
        ),
        "{v}"
    );

    // Read your own writes.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(1, write("/a", "y"), 20, Some(30), ok(2));
    b.op(1, read("/a"), 40, Some(50), data("x", 1));
    let v = violation(b.sessions());
    assert!(
        matches!(
            &v,
            Violation::VersionWentBack {
                floor: 2,
                version: 1,
                ..
            }
        ),
        "{v}"
    );

    // A session's write after it read version 2 cannot produce version 2.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(1, write("/a", "y"), 5, Some(15), ok(2));
    b.op(2, read("/a"), 20, Some(30), data("y", 2));
    b.op(2, write("/a", "z"), 40, Some(50), ok(2));
    assert!(b.sessions().is_violation());
}

#[test]
fn overlapping_ops_of_a_session_only_ordered_in_fifo_mode() {
    // The write and the read of session 1 overlap: in real time either order is possible,
    // but ZooKeeper's FIFO order says the read (invoked second) saw the write.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(30), ok(1));
    b.op(1, read("/a"), 10, Some(20), data("", 0));
    assert!(b.sessions().is_ok());
    let fifo = corral_history::check_sessions_with(
        &b.history,
        &b.initial,
        corral_history::SessionOrder::Fifo,
    );
    assert!(fifo.is_violation(), "{fifo}");
}

#[test]
fn lost_acknowledged_write() {
    // Session 1's write was acknowledged and nothing overwrote it, yet a later sync-read
    // does not see it.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    let read = b.op(2, sync_read("/a"), 20, Some(30), data("", 0));
    not_linearizable(&b, read);

    // Worse: an unknown write took its version.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(3, write("/a", "y"), 0, Some(10), Unknown);
    b.op(2, sync_read("/a"), 20, Some(30), data("y", 1));
    let v = violation(b.sessions());
    assert!(matches!(&v, Violation::WrongValueForVersion { .. }), "{v}");
    assert!(b.linearizable().is_violation());
}

#[test]
fn cas_on_a_version_that_was_never_current_then() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(1, write("/a", "y"), 20, Some(30), ok(2));
    // By its invocation the version was 2; it claims to have replaced version 1.
    let late = b.op(2, cas("/a", 1, "z"), 40, Some(50), ok(3));
    not_linearizable(&b, late);
    // Versions 1, 2, 3 are each produced once: only the linearizability check sees this.
    assert!(b.sessions().is_ok());
}

#[test]
fn cas_reply_version_inconsistent_with_expected() {
    let mut b = Builder::new();
    let bad = b.op(1, cas("/a", 0, "x"), 0, Some(10), ok(5));
    not_linearizable(&b, bad);
}

#[test]
fn read_from_the_future() {
    let mut b = Builder::new();
    b.op(2, read("/a"), 0, Some(10), data("x", 1));
    b.op(1, write("/a", "x"), 20, Some(30), ok(1));
    let v = violation(b.sessions());
    assert!(matches!(&v, Violation::ReadFromFuture { .. }), "{v}");
}

#[test]
fn version_needing_more_writes_than_happened() {
    let mut b = Builder::new();
    b.op(1, write("/a", "u"), 0, Some(10), Unknown);
    b.op(2, read("/a"), 20, Some(30), data("u", 2));
    let v = violation(b.sessions());
    assert!(
        matches!(
            &v,
            Violation::TooFewWrites {
                needed: 2,
                possible: 1,
                ..
            }
        ),
        "{v}"
    );
}

#[test]
fn one_unknown_write_cannot_explain_two_versions() {
    let mut b = Builder::new();
    b.op(1, write("/a", "u"), 0, Some(10), Unknown);
    b.op(1, write("/a", "w"), 0, Some(10), Unknown);
    b.op(2, read("/a"), 20, Some(30), data("u", 1));
    b.op(3, read("/a"), 20, Some(30), data("u", 2));
    let v = violation(b.sessions());
    assert!(matches!(&v, Violation::ValueNeverWritten { .. }), "{v}");
}

#[test]
fn reads_disagreeing_on_a_version() {
    let mut b = Builder::new();
    b.op(1, write("/a", "u"), 0, Some(10), Unknown);
    b.op(1, write("/a", "w"), 0, Some(10), Unknown);
    b.op(2, read("/a"), 20, Some(30), data("u", 1));
    b.op(3, read("/a"), 20, Some(30), data("w", 1));
    let v = violation(b.sessions());
    assert!(matches!(&v, Violation::ConflictingReads { .. }), "{v}");
}

#[test]
fn write_version_not_after_initial() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(0));
    let v = violation(b.sessions());
    assert!(
        matches!(&v, Violation::VersionNotAfterInitial { .. }),
        "{v}"
    );
    assert!(b.linearizable().is_violation());
}

#[test]
fn zxid_going_backwards() {
    let mut b = Builder::new();
    b.op_zxid(1, read("/a"), 0, 10, data("", 0), 9);
    b.op_zxid(1, read("/b"), 20, 30, data("", 0), 8);
    let v = violation(b.zxids());
    assert!(
        matches!(
            &v,
            Violation::ZxidWentBack {
                floor: 9,
                zxid: 8,
                ..
            }
        ),
        "{v}"
    );

    // A successful write gets a zxid newer than anything its session saw.
    let mut b = Builder::new();
    b.op_zxid(1, read("/a"), 0, 10, data("", 0), 9);
    b.op_zxid(1, write("/a", "x"), 20, 30, ok(1), 9);
    assert!(b.zxids().is_violation());
    // Failed replies may repeat the zxid.
    let mut b = Builder::new();
    b.op_zxid(1, read("/a"), 0, 10, data("", 0), 9);
    b.op_zxid(1, cas("/a", 3, "x"), 20, 30, Failed, 9);
    assert!(b.zxids().is_ok());
}

#[test]
fn violation_deep_in_a_long_history_names_the_right_op() {
    // 200 good writes and sync-reads, then a stale one: the explanation points at the end.
    let mut b = Builder::new();
    for i in 0..200 {
        let t = i as u64 * 10;
        b.op(1, write("/a", &format!("v{i}")), t, Some(t + 5), ok(i + 1));
        b.op(
            2,
            sync_read("/a"),
            t + 6,
            Some(t + 9),
            data(&format!("v{i}"), i + 1),
        );
    }
    let stale = b.op(3, sync_read("/a"), 5000, Some(5010), data("v150", 151));
    let message = not_linearizable(&b, stale);
    // It conflicts with the write of version 152, the first one it cannot come after.
    assert!(message.contains("\"v150\", version 151"), "{message}");
    assert!(
        message.contains("write \"/a\" \"v151\" => ok 152"),
        "{message}"
    );
}

#[test]
fn budget_exhaustion_is_inconclusive_not_a_verdict() {
    let mut b = Builder::new();
    for i in 0..50 {
        b.op(
            1,
            write("/a", &format!("v{i}")),
            i * 10,
            Some(i * 10 + 5),
            ok(i as i32 + 1),
        );
    }
    let verdict = corral_history::check_linearizable(&b.history, &b.initial, 10);
    assert!(verdict.is_inconclusive(), "{verdict}");
    assert!(b.linearizable().is_ok());
}

#[test]
fn missing_initial_state_is_inconclusive() {
    let mut b = Builder::new();
    b.op(1, write("/nowhere", "x"), 0, Some(10), ok(1));
    assert!(b.linearizable().is_inconclusive());
    assert!(b.sessions().is_inconclusive());
}
