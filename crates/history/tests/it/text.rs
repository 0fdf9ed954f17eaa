//! The text format: round trips, and reads what its documentation shows.

use corral_history::{History, Outcome, Register};

use crate::{cas, data, ok, read, sync_read, write, Builder};

#[test]
fn round_trip_of_every_shape() {
    let mut b = Builder::new();
    b.initial.insert(
        "/odd key \"quoted\"\n".into(),
        Register::new(&b"\x00\xff\\ \t"[..], -5),
    );
    b.op(1, write("/a", "x y"), 0, Some(10), ok(1));
    b.op_zxid(2, cas("/a", 1, "\u{e9}"), 5, 20, Outcome::Failed, -1);
    b.op(3, sync_read("/a"), 7, Some(9), Outcome::Unknown);
    b.op(
        4,
        read("/odd key \"quoted\"\n"),
        8,
        Some(30),
        Outcome::data(&b"\x00\xff\\ \t"[..], -5),
    );
    b.op(5, read("/b"), u64::MAX - 1, None, Outcome::Unknown);
    b.op_zxid(6, sync_read("/b"), 3, 4, data("", 0), i64::MAX);
    let text = b.history.to_text(&b.initial);
    let (history, initial) = History::from_text(&text).expect("parses");
    assert_eq!(history, b.history, "{text}");
    assert_eq!(initial, b.initial);
    assert_eq!(history.to_text(&initial), text);
}

#[test]
fn documented_example_parses_and_checks() {
    let text = r#"
corral-history v1
// comments and blank lines are ignored
init "/a" "" 0
#0 s1 100..200 write "/a" "x" => ok 1 zxid 4294967297
#1 s2 150..260 cas "/a" 1 "y" => failed
#2 s2 300..310 sync-read "/a" => ok "x" 1
#3 s3 320..900 write "/a" "z" => unknown
#4 s3 950.. read "/a" => pending
"#;
    let (history, initial) = History::from_text(text).expect("parses");
    assert_eq!(history.len(), 5);
    assert!(history.ops()[4].completion.is_none());
    let verdict = corral_history::check_all(&history, &initial, &Default::default());
    assert!(verdict.is_ok(), "{verdict}");
}

#[test]
fn ids_in_text_are_labels() {
    // A file cut down by hand keeps its old labels; parsing renumbers.
    let text = "init \"/a\" \"\" 0\n#12 s1 0..5 write \"/a\" \"x\" => ok 1\n#40 s2 6..9 sync-read \"/a\" => ok \"x\" 1\n";
    let (history, _) = History::from_text(text).expect("parses");
    assert_eq!(history.ops()[1].id.0, 1);
}

#[test]
fn errors_name_the_line() {
    let err = History::from_text("corral-history v1\n\n#0 s1 1..2 nope \"/a\" => failed\n")
        .expect_err("bad op");
    assert_eq!(err.line, 3);
    assert!(err.to_string().starts_with("line 3:"), "{err}");
}

#[test]
fn violation_window_becomes_a_small_history() {
    let mut b = Builder::new();
    for i in 0..20 {
        b.op(
            1,
            write("/a", &format!("v{i}")),
            i * 10,
            Some(i * 10 + 5),
            ok(i as i32 + 1),
        );
    }
    b.op(2, sync_read("/a"), 500, Some(510), data("v3", 4));
    let v = crate::violation(b.linearizable());
    let corral_history::Violation::NotLinearizable(n) = &v else {
        panic!("{v}")
    };
    let window = b.history.subset(&n.window());
    assert!(window.len() <= 10, "{}", window.to_text(&b.initial));
    assert!(window.to_text(&b.initial).contains("sync-read"));
}
