//! Histories a correct ZooKeeper can produce: every check must pass.

use corral_history::Outcome::{Failed, Unknown};
use corral_history::{check_linearizable, History, InitialState, Outcome, Register};

use crate::{cas, data, ok, read, sync_read, write, Builder};

#[test]
fn empty_history() {
    Builder::new().assert_good();
    let verdict = check_linearizable(&History::new(), &InitialState::new(), 0);
    assert!(verdict.is_ok());
}

#[test]
fn sequential_history() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(1, sync_read("/a"), 20, Some(30), data("x", 1));
    b.op(2, cas("/a", 1, "y"), 40, Some(50), ok(2));
    b.op(2, sync_read("/a"), 60, Some(70), data("y", 2));
    b.op(3, read("/a"), 80, Some(90), data("y", 2));
    b.op(3, write("/b", "z"), 100, Some(110), ok(1));
    b.op(1, read("/b"), 120, Some(130), data("z", 1));
    b.assert_good();
}

#[test]
fn nonzero_initial_state() {
    let mut b = Builder::new();
    b.initial
        .insert("/c".into(), Register::new(&b"\x00old\xff"[..], 41));
    b.op(
        1,
        sync_read("/c"),
        0,
        Some(10),
        Outcome::data(&b"\x00old\xff"[..], 41),
    );
    b.op(1, cas("/c", 41, "new"), 20, Some(30), ok(42));
    b.op(2, read("/c"), 40, Some(50), data("new", 42));
    b.assert_good();
}
#[test]
fn concurrent_overlapping_writes_in_either_order() {
    // "b" took version 1 and "a" version 2, although "a" was invoked first.
    for (seen, version) in [("b", 1), ("a", 2)] {
        let mut b = Builder::new();
        b.op(1, write("/a", "a"), 0, Some(100), ok(2));
        b.op(2, write("/a", "b"), 10, Some(50), ok(1));
        b.op(3, sync_read("/a"), 60, Some(70), data(seen, version));
        b.op(3, sync_read("/a"), 110, Some(120), data("a", 2));
        b.assert_good();
    }
}

#[test]
fn touching_timestamps_count_as_concurrent() {
    // The read is invoked at the very instant the write completes: either order is possible.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(2, sync_read("/a"), 10, Some(20), data("", 0));
    b.assert_good();
}

#[test]
fn unknown_write_that_took_effect() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), Unknown);
    b.op(2, sync_read("/a"), 20, Some(30), data("x", 1));
    b.op(2, write("/a", "y"), 40, Some(50), ok(2));
    b.assert_good();
}

#[test]
fn unknown_write_that_did_not_take_effect() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), Unknown);
    b.op(2, sync_read("/a"), 20, Some(30), data("", 0));
    b.op(2, write("/a", "y"), 40, Some(50), ok(1));
    b.op(2, sync_read("/a"), 60, Some(70), data("y", 1));
    b.assert_good();
}

#[test]
fn unknown_write_that_took_effect_after_the_client_gave_up() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), Unknown);
    b.op(2, sync_read("/a"), 20, Some(30), data("", 0));
    b.op(2, sync_read("/a"), 40, Some(50), data("x", 1));
    // The session that lost the reply may read before its write applied.
    b.op(1, read("/a"), 60, Some(70), data("", 0));
    b.assert_good();
}

#[test]
fn pending_operations_at_the_end() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(2, write("/a", "y"), 5, None, Unknown);
    b.op(3, cas("/a", 1, "z"), 15, None, Unknown);
    b.op(4, sync_read("/a"), 20, Some(30), data("z", 2));
    b.op(5, read("/a"), 40, None, Unknown);
    b.assert_good();
}

#[test]
fn unknown_cas_that_took_effect_fills_its_version() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(2, cas("/a", 1, "y"), 20, Some(30), Unknown);
    b.op(3, read("/a"), 40, Some(50), data("y", 2));
    b.op(3, write("/a", "z"), 60, Some(70), ok(3));
    b.assert_good();
}

#[test]
fn cas_chain_with_a_lost_race() {
    let mut b = Builder::new();
    b.op(1, cas("/a", 0, "a"), 0, Some(10), ok(1));
    b.op(1, cas("/a", 1, "b"), 20, Some(30), ok(2));
    // Raced with the CAS above and lost.
    b.op(2, cas("/a", 1, "c"), 15, Some(35), Failed);
    b.op(2, cas("/a", 2, "d"), 40, Some(50), ok(3));
    b.op(3, sync_read("/a"), 60, Some(70), data("d", 3));
    b.assert_good();
}

#[test]
fn concurrent_cas_on_the_same_version_one_wins() {
    let mut b = Builder::new();
    b.op(1, cas("/a", 0, "a"), 0, Some(100), Failed);
    b.op(2, cas("/a", 0, "b"), 0, Some(100), ok(1));
    b.op(3, sync_read("/a"), 0, Some(100), data("", 0));
    b.op(4, sync_read("/a"), 0, Some(100), data("b", 1));
    b.assert_good();
}

#[test]
fn sync_read_after_write() {
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(1, sync_read("/a"), 11, Some(20), data("x", 1));
    b.op(2, sync_read("/a"), 21, Some(30), data("x", 1));
    b.assert_good();
}

#[test]
fn stale_plain_reads_are_allowed() {
    // Plain reads are sequentially consistent only: another session may lag.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(10), ok(1));
    b.op(1, write("/a", "y"), 20, Some(30), ok(2));
    b.op(2, read("/a"), 40, Some(50), data("", 0));
    b.op(2, read("/a"), 60, Some(70), data("x", 1));
    b.op(2, read("/a"), 80, Some(90), data("x", 1));
    b.op(2, read("/a"), 100, Some(110), data("y", 2));
    b.assert_good();
}

#[test]
fn reads_of_versions_only_unknown_writes_produced() {
    let mut b = Builder::new();
    b.op(1, write("/a", "u1"), 0, Some(5), Unknown);
    b.op(2, write("/a", "u2"), 0, None, Unknown);
    b.op(3, read("/a"), 10, Some(20), data("u2", 1));
    b.op(3, read("/a"), 30, Some(40), data("u1", 2));
    b.op(4, sync_read("/a"), 50, Some(60), data("u1", 2));
    b.assert_good();
}

#[test]
fn zxids_monotonic_per_session() {
    let mut b = Builder::new();
    b.op_zxid(1, write("/a", "x"), 0, 10, ok(1), 5);
    b.op_zxid(1, read("/a"), 20, 30, data("x", 1), 5);
    b.op_zxid(1, read("/b"), 40, 50, data("", 0), 7);
    b.op_zxid(1, cas("/a", 0, "q"), 60, 70, Failed, 7);
    b.op_zxid(1, write("/a", "y"), 80, 90, ok(2), 8);
    // Another session may be behind.
    b.op_zxid(2, read("/a"), 100, 110, data("", 0), 1);
    b.assert_good();
}

#[test]
fn many_concurrent_reads_between_writes() {
    // Ten sessions sync-read at once around each write: the search must not try subsets.
    let mut b = Builder::new();
    let mut t = 0;
    for round in 0..30 {
        let value = format!("v{round}");
        b.op(0, write("/a", &value), t, Some(t + 10), ok(round + 1));
        for session in 1..=10 {
            let (seen, version) = if session % 2 == 0 {
                (value.clone(), round + 1)
            } else if round == 0 {
                (String::new(), 0)
            } else {
                (format!("v{}", round - 1), round)
            };
            b.op(
                session,
                sync_read("/a"),
                t,
                Some(t + 10),
                data(&seen, version),
            );
        }
        t += 20;
    }
    b.assert_good();
}

#[test]
fn repeated_values_choose_the_right_writer_for_an_unread_version() {
    // Version 1 was made by one of the unknown writes, and nobody read it. Both "x" and "y"
    // have a spare writer, but using x1 there leaves only x2 for version 3, and x2 was invoked
    // after version 3 was read: only a "y" write can have made version 1.
    let mut b = Builder::new();
    b.op(1, write("/a", "x"), 0, Some(5), Unknown);
    b.op(2, write("/a", "y"), 1, Some(5), Unknown);
    b.op(3, write("/a", "y"), 2, Some(5), Unknown);
    b.op(4, write("/a", "w2"), 10, Some(11), ok(2));
    b.op(5, sync_read("/a"), 20, Some(21), data("x", 3));
    b.op(1, write("/a", "x"), 30, Some(31), Unknown);
    b.op(6, sync_read("/a"), 40, Some(41), data("y", 4));
    b.assert_good();
}
