//! Snapshots: round trips, copy-on-write snapshots taken while txns are applied between
//! chunks, and a decoder that refuses (never panics on) corrupt input.
mod common;

use common::*;
use corral_proto::consts::perms;
use corral_proto::{Acl, OpCode};
use corral_tree::{DataTree, SnapshotError, TreeConfig, SNAPSHOT_FORMAT_VERSION};
use proptest::prelude::*;

fn snapshot(tree: &DataTree) -> Vec<u8> {
    let mut out = Vec::new();
    tree.write_snapshot(&mut out).unwrap();
    out
}

fn load(bytes: &[u8]) -> DataTree {
    DataTree::load_snapshot(bytes).unwrap()
}

/// Everything a client or the server can read, for every node.
fn assert_same_reads(a: &DataTree, b: &DataTree) {
    let ids = ip();
    let mut paths = a.paths();
    paths.sort();
    let mut other = b.paths();
    other.sort();
    assert_eq!(paths, other);
    for path in &paths {
        assert_eq!(a.get_data(path, &ids), b.get_data(path, &ids), "{path}");
        assert_eq!(
            a.get_children(path, &ids),
            b.get_children(path, &ids),
            "{path}"
        );
        assert_eq!(a.get_acl(path, &ids), b.get_acl(path, &ids), "{path}");
        assert_eq!(a.stat(path), b.stat(path), "{path}");
        assert_eq!(
            a.get_all_children_number(path, &ids),
            b.get_all_children_number(path, &ids)
        );
    }
    assert_eq!(a.sessions(), b.sessions());
    assert_eq!(a.ephemerals_by_session(), b.ephemerals_by_session());
    assert_eq!(a.node_count(), b.node_count());
    assert_eq!(a.ephemeral_count(), b.ephemeral_count());
    assert_eq!(a.approximate_data_bytes(), b.approximate_data_bytes());
    assert_eq!(a.acl_list_count(), b.acl_list_count());
    assert_eq!(a.last_applied_zxid(), b.last_applied_zxid());
    assert_eq!(a.config(), b.config());
    assert_eq!(
        a.reap_candidates(i64::MAX / 2, 1, 100),
        b.reap_candidates(i64::MAX / 2, 1, 100)
    );
    assert_eq!(a.digest(), b.digest());
}

/// A tree with every kind of node, ACL and owner, holes in the arena and reused slots.
fn varied() -> H {
    let mut h = H::with(TreeConfig {
        extended_types_enabled: true,
        skip_acl: false,
    });
    h.session(S2);
    h.mk("/app", 0);
    h.mk("/app/cfg", 0);
    h.set("/app/cfg", b"v=1", -1).unwrap();
    for i in 0..20 {
        h.mk(&format!("/app/n{i}"), 0);
    }
    for i in (0..20).step_by(3) {
        h.delete(&format!("/app/n{i}"), -1).unwrap();
    }
    h.mk("/app/seq-", 2);
    h.mk("/app/seq-", 2);
    h.mk("/app/eph", 1);
    h.write_as(
        S2,
        ip(),
        create(OpCode::Create, "/app/eph2", None, open(), 3, -1),
    )
    .result
    .unwrap();
    h.create_op(OpCode::CreateContainer, "/box", Some(b"c"), open(), 4, -1)
        .unwrap();
    h.mk("/box/item", 0);
    h.create_op(OpCode::CreateTtl, "/ttl", None, open(), 5, 1000)
        .unwrap();
    let digest_acl = vec![
        Acl::new(perms::READ, "digest", "bob:hash"),
        Acl::new(perms::ALL, "ip", "127.0.0.1"),
    ];
    h.create_op(OpCode::Create2, "/secret", Some(b""), digest_acl, 0, -1)
        .unwrap();
    h.set_acl(
        "/app/cfg",
        vec![Acl::new(perms::READ | perms::WRITE, "world", "anyone")],
        -1,
    )
    .unwrap();
    h.create_op(OpCode::Create, "/null", None, open(), 0, -1)
        .unwrap();
    h.mk("/deep", 0);
    h.mk("/deep/é", 0);
    h.mk("/deep/é/x y", 0);
    h
}

#[test]
fn round_trip_equals_the_tree() {
    let mut h = varied();
    let bytes = snapshot(&h.tree);
    let loaded = load(&bytes);
    assert_same_reads(&h.tree, &loaded);
    // The loaded tree goes on exactly as the original does.
    let mut twin = H {
        tree: loaded,
        zxid: h.zxid,
        time: h.time,
        ids: ip(),
    };
    for h in [&mut h, &mut twin] {
        h.mk("/app/seq-", 2);
        h.mk("/app/n0", 0);
        h.set("/app/cfg", b"v=2", -1).unwrap();
        h.close(S2);
        h.delete("/box/item", -1).unwrap();
    }
    assert_same_reads(&h.tree, &twin.tree);
    // Snapshots are deterministic for one tree, and a loaded tree re-snapshots to an
    // equivalent stream.
    assert_eq!(snapshot(&h.tree), snapshot(&h.tree));
    let again = load(&snapshot(&twin.tree));
    assert_same_reads(&twin.tree, &again);
}

#[test]
fn fresh_tree_round_trips() {
    let tree = DataTree::new(TreeConfig::default());
    let loaded = load(&snapshot(&tree));
    assert_same_reads(&tree, &loaded);
    assert_eq!(loaded.node_count(), 5);
    assert_eq!(loaded.stat("/").unwrap().cversion, -1);
    assert_eq!(loaded.stat("/zookeeper/config").unwrap().aversion, -1);
}

#[test]
fn chunked_stream_equals_one_go_stream() {
    let mut h = varied();
    let expected = snapshot(&h.tree);
    let mut token = h.tree.begin_snapshot();
    assert_eq!(token.zxid(), h.tree.last_applied_zxid());
    let mut out = Vec::new();
    while !h.tree.write_snapshot_chunk(&mut token, &mut out, 1) {}
    assert!(token.is_done());
    h.tree.end_snapshot(token);
    assert_eq!(out, expected);
    assert!(!h.tree.snapshot_active());
}

#[test]
fn writes_between_chunks_do_not_leak_into_the_snapshot() {
    let mut h = varied();
    let before = h.tree.digest();
    let expected = snapshot(&h.tree);
    let mut token = h.tree.begin_snapshot();
    let mut out = Vec::new();
    assert!(!h.tree.write_snapshot_chunk(&mut token, &mut out, 2));
    // change nodes both behind and ahead of the writer
    h.set("/", b"root data", -1).unwrap();
    h.set("/app/cfg", b"changed", -1).unwrap();
    h.delete("/app/n19", -1).unwrap();
    h.mk("/app/new", 0);
    h.mk("/new-top", 1);
    h.set_acl("/secret", open(), -1).unwrap();
    h.close(S2);
    h.delete("/deep/é/x y", -1).unwrap();
    h.mk("/deep/é/x y", 0);
    assert!(h.tree.snapshot_preserved_nodes() > 0);
    while !h.tree.write_snapshot_chunk(&mut token, &mut out, 3) {
        h.mk("/app/seq-", 2);
    }
    h.tree.end_snapshot(token);
    assert_eq!(h.tree.snapshot_preserved_nodes(), 0);
    assert_eq!(out, expected, "the stream is the tree at begin_snapshot");
    assert_eq!(load(&out).digest(), before);
    // ids are reused again after the snapshot, and the live tree is intact
    let live = load(&snapshot(&h.tree));
    assert_same_reads(&h.tree, &live);
}

#[test]
fn a_second_begin_aborts_the_first() {
    let mut h = varied();
    let mut first = h.tree.begin_snapshot();
    let mut out = Vec::new();
    h.tree.write_snapshot_chunk(&mut first, &mut out, 1);
    h.mk("/between", 0);
    let mut second = h.tree.begin_snapshot();
    let len = out.len();
    assert!(h.tree.write_snapshot_chunk(&mut first, &mut out, 1));
    assert!(first.is_aborted());
    assert_eq!(out.len(), len, "nothing appended for an aborted token");
    h.tree.end_snapshot(first);
    assert!(
        h.tree.snapshot_active(),
        "a stale token does not end the running snapshot"
    );
    let expected = snapshot(&h.tree);
    let mut out = Vec::new();
    while !h.tree.write_snapshot_chunk(&mut second, &mut out, 5) {
        h.mk("/app/seq-", 2);
    }
    h.tree.end_snapshot(second);
    assert_eq!(out, expected);
}

#[test]
fn unknown_version_and_bad_magic_are_refused() {
    let h = varied();
    let mut bytes = snapshot(&h.tree);
    bytes[8..12].copy_from_slice(&(SNAPSHOT_FORMAT_VERSION + 1).to_le_bytes());
    let err = DataTree::load_snapshot(&bytes[..]).err().unwrap();
    assert!(
        matches!(err, SnapshotError::UnsupportedVersion { found, supported }
            if found == SNAPSHOT_FORMAT_VERSION + 1 && supported == SNAPSHOT_FORMAT_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("version 2"), "{err}");
    bytes[0] = b'X';
    assert!(matches!(
        DataTree::load_snapshot(&bytes[..]),
        Err(SnapshotError::BadMagic)
    ));
    assert!(matches!(
        DataTree::load_snapshot(&b""[..]),
        Err(SnapshotError::Truncated)
    ));
}

#[test]
fn every_truncation_is_refused() {
    let h = varied();
    let bytes = snapshot(&h.tree);
    for len in 0..bytes.len() {
        assert!(
            DataTree::load_snapshot(&bytes[..len]).is_err(),
            "a snapshot cut at {len} of {} loaded",
            bytes.len()
        );
    }
}

/// Random txns on a small path universe, for the copy-on-write property.
#[derive(Debug, Clone)]
enum Op {
    Create(usize, u8),
    Delete(usize),
    Set(usize, u8),
    SetAcl(usize),
    Session(bool),
}

const PATHS: [&str; 12] = [
    "/a", "/a/b", "/a/c", "/a/b/d", "/e", "/e/f", "/e/g", "/h", "/h/i", "/h/i/j", "/k", "/k/l",
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..PATHS.len(), 0u8..4).prop_map(|(p, f)| Op::Create(p, f)),
        3 => (0..PATHS.len()).prop_map(Op::Delete),
        3 => (0..PATHS.len(), any::<u8>()).prop_map(|(p, d)| Op::Set(p, d)),
        1 => (0..PATHS.len()).prop_map(Op::SetAcl),
        1 => any::<bool>().prop_map(Op::Session),
    ]
}

fn run(h: &mut H, op: &Op) {
    let _ = match op {
        Op::Create(p, flags) => h.create(PATHS[*p], i32::from(*flags)).map(|_| ()),
        Op::Delete(p) => h.delete(PATHS[*p], -1).map(|_| ()),
        Op::Set(p, d) => h.set(PATHS[*p], &[*d; 3], -1).map(|_| ()),
        Op::SetAcl(p) => h
            .set_acl(
                PATHS[*p],
                vec![Acl::new(perms::ALL ^ perms::ADMIN, "world", "anyone")],
                -1,
            )
            .map(|_| ()),
        Op::Session(open) => {
            if *open {
                h.session(S2);
            } else {
                h.close(S2);
            }
            Ok(())
        }
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
    ))]

    /// However txns interleave with chunks, the stream equals the tree at `begin_snapshot`.
    #[test]
    fn cow_snapshot_equals_the_tree_at_begin(
        setup in prop::collection::vec(op(), 0..40),
        during in prop::collection::vec(prop::collection::vec(op(), 0..4), 1..30),
        chunk in 1usize..4,
    ) {
        let mut h = H::new();
        for op in &setup {
            run(&mut h, op);
        }
        let expected = snapshot(&h.tree);
        let digest = h.tree.digest();
        let mut token = h.tree.begin_snapshot();
        let mut out = Vec::new();
        let mut batches = during.iter();
        while !h.tree.write_snapshot_chunk(&mut token, &mut out, chunk) {
            for op in batches.next().into_iter().flatten() {
                run(&mut h, op);
            }
        }
        h.tree.end_snapshot(token);
        prop_assert_eq!(&out, &expected);
        prop_assert_eq!(load(&out).digest(), digest);
        // the live tree stayed consistent: its own snapshot reloads to the same state
        let after = load(&snapshot(&h.tree));
        prop_assert_eq!(after.digest(), h.tree.digest());
        for op in batches.flatten() {
            run(&mut h, op);
        }
        prop_assert_eq!(load(&snapshot(&h.tree)).digest(), h.tree.digest());
    }

    /// Corrupt input is refused or yields a consistent tree; the loader never panics.
    #[test]
    fn corrupt_snapshots_never_panic(
        setup in prop::collection::vec(op(), 0..30),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut h = H::new();
        for op in &setup {
            run(&mut h, op);
        }
        let mut bytes = snapshot(&h.tree);
        if truncate {
            let len = cut.index(bytes.len());
            prop_assert!(DataTree::load_snapshot(&bytes[..len]).is_err());
        }
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if let Ok(tree) = DataTree::load_snapshot(&bytes[..]) {
            // a flip inside data or a stat field can be a valid, different tree
            let again = load(&snapshot(&tree));
            prop_assert_eq!(again.digest(), tree.digest());
            let _ = tree.paths();
        }
    }
}

#[test]
fn cancel_ends_a_snapshot_without_its_token() {
    let mut h = varied();
    let mut token = h.tree.begin_snapshot();
    h.delete("/null", -1).unwrap();
    assert_eq!(
        h.tree.snapshot_preserved_nodes(),
        2,
        "the node and its parent"
    );
    h.tree.cancel_snapshot();
    assert!(!h.tree.snapshot_active());
    assert_eq!(h.tree.snapshot_preserved_nodes(), 0);
    let mut out = Vec::new();
    assert!(h.tree.write_snapshot_chunk(&mut token, &mut out, 10));
    assert!(token.is_aborted() && out.is_empty());
    h.mk("/after", 0);
    assert_same_reads(&h.tree, &load(&snapshot(&h.tree)));
}

/// Freed ids are reused last-freed-first, so a parent can get a higher id than its child and
/// its record comes later in the stream.
#[test]
fn parent_recorded_after_its_child_loads() {
    let mut h = H::new();
    h.mk("/x1", 0);
    h.mk("/x2", 0);
    h.delete("/x1", -1).unwrap();
    h.delete("/x2", -1).unwrap();
    h.mk("/p", 0); // takes /x2's id
    h.mk("/p/c", 0); // takes /x1's lower id
    h.mk("/p/c/d", 0);
    let loaded = load(&snapshot(&h.tree));
    assert_same_reads(&h.tree, &loaded);
    assert_eq!(loaded.get_children("/p", &ip()).unwrap().0, ["c"]);
}

/// The server's pattern: one thread applies txns under the write lock while another writes
/// chunks under the read lock.
#[test]
fn snapshot_while_another_thread_applies() {
    use std::sync::{Arc, RwLock};
    let mut h = H::new();
    for i in 0..300 {
        h.mk(&format!("/n{i}"), 0);
        h.mk(&format!("/n{i}/c"), 0);
    }
    let expected = snapshot(&h.tree);
    let (zxid, time) = (h.zxid, h.time);
    let tree = Arc::new(RwLock::new(h.tree));
    let mut token = tree.write().unwrap().begin_snapshot();
    let applier = {
        let tree = Arc::clone(&tree);
        std::thread::spawn(move || {
            let mut h = H {
                tree: DataTree::new(TreeConfig::default()),
                zxid,
                time,
                ids: ip(),
            };
            for i in 0..300 {
                let mut guard = tree.write().unwrap();
                std::mem::swap(&mut h.tree, &mut *guard);
                h.set(&format!("/n{i}"), b"new", -1).unwrap();
                h.delete(&format!("/n{}/c", 299 - i), -1).unwrap();
                h.mk(&format!("/m{i}"), 0);
                std::mem::swap(&mut h.tree, &mut *guard);
            }
        })
    };
    let mut out = Vec::new();
    while !tree
        .read()
        .unwrap()
        .write_snapshot_chunk(&mut token, &mut out, 7)
    {
        std::thread::yield_now();
    }
    applier.join().unwrap();
    let mut tree = tree.write().unwrap();
    tree.end_snapshot(token);
    assert_eq!(out, expected);
    assert_eq!(tree.get_children("/", &ip()).unwrap().0.len(), 601);
}

/// Stat values past 48 bits (kept outside the node's inline fields) survive apply, snapshot
/// and load.
#[test]
fn huge_zxids_and_times_round_trip() {
    let mut h = H::new();
    h.mk("/small", 0);
    h.zxid = 1 << 50;
    h.time = i64::MAX - 100;
    h.mk("/big", 0);
    h.mk("/big/child", 0);
    h.set("/small", b"x", -1).unwrap();
    h.time = -(1 << 47) - 5;
    h.set("/big", b"y", -1).unwrap();
    let stat = h.stat("/big");
    assert_eq!(stat.czxid, (1 << 50) + 1);
    assert_eq!(stat.mtime, -(1 << 47) - 4);
    assert_eq!(stat.ctime, i64::MAX - 99);
    assert_eq!(stat.pzxid, (1 << 50) + 2);
    let loaded = load(&snapshot(&h.tree));
    assert_same_reads(&h.tree, &loaded);
}
