//! Built-in nodes and Stat maintenance (protocol §10), checked against a fresh ZooKeeper.
mod common;

use common::*;
use corral_proto::consts::perms;
use corral_proto::response::Response;
use corral_proto::{Acl, OpCode, Stat};
use corral_tree::{DataTree, TreeConfig};

fn zero_stat(cversion: i32, aversion: i32, num_children: i32) -> Stat {
    Stat {
        cversion,
        aversion,
        num_children,
        ..Stat::default()
    }
}

#[test]
fn fresh_tree_matches_a_fresh_zookeeper() {
    let t = DataTree::new(TreeConfig::default());
    // zkCli `stat` against 3.8/3.9: / cversion -1 (stored 0, one child), /zookeeper -2.
    assert_eq!(t.stat("/"), Some(zero_stat(-1, 0, 1)));
    assert_eq!(t.stat("/zookeeper"), Some(zero_stat(-2, 0, 2)));
    assert_eq!(t.stat("/zookeeper/quota"), Some(zero_stat(0, 0, 0)));
    assert_eq!(t.stat("/zookeeper/config"), Some(zero_stat(0, -1, 0)));
    assert_eq!(
        t.node_acl("/zookeeper/config").unwrap().to_vec(),
        vec![Acl::new(perms::READ, "world", "anyone")]
    );
    assert_eq!(t.node_acl("/").unwrap().to_vec(), open());
    assert_eq!(t.node_acl("/zookeeper").unwrap().to_vec(), open());
    // 4lw "Node count: 5" on a fresh server (the root is counted twice there).
    assert_eq!(t.node_count(), 5);
    assert_eq!(t.approximate_data_bytes(), 1 + 10 + 16 + 17);
    let (data, _) = t.get_data("/zookeeper/config", &ip()).unwrap();
    assert_eq!(data.as_deref(), Some(&b""[..]), "empty, not null");
    assert_eq!(t.get_children("/", &ip()).unwrap().0, vec!["zookeeper"]);
    assert_eq!(
        t.get_children("/zookeeper", &ip()).unwrap().0,
        vec!["config", "quota"]
    );
    assert_eq!(t.get_all_children_number("/", &ip()), Ok(3));
    assert_eq!(t.last_applied_zxid(), 0);
}

#[test]
fn create_sets_every_field_and_moves_the_parent() {
    let mut h = H::new();
    let z = h.zxid + 1;
    let out = h.write(create(OpCode::Create2, "/a", Some(b"hello"), open(), 0, -1));
    let Ok(Response::Create2 { path, stat }) = out.result else {
        panic!("{out:?}")
    };
    assert_eq!(path, "/a");
    assert_eq!(
        stat,
        Stat {
            czxid: z,
            mzxid: z,
            ctime: h.time,
            mtime: h.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 5,
            num_children: 0,
            pzxid: z,
        }
    );
    let root = h.stat("/");
    assert_eq!(
        (root.cversion, root.num_children, root.pzxid),
        (0, 2, z),
        "stored 1 × 2 − 2 children"
    );
    assert_eq!(h.tree.node_count(), 6);
}

#[test]
fn cversion_counts_creations_and_deletions() {
    let mut h = H::new();
    h.mk("/p", 0);
    h.mk("/p/a", 0);
    h.mk("/p/b", 0);
    assert_eq!(h.stat("/p").cversion, 2);
    h.delete("/p/a", -1).unwrap();
    let z = h.zxid;
    let p = h.stat("/p");
    assert_eq!((p.cversion, p.num_children, p.pzxid), (3, 1, z));
    // the sequence counter is the *stored* one: 2 creations so far
    assert_eq!(h.mk("/p/s-", 2), "/p/s-0000000002");
    assert_eq!(h.stat("/p").cversion, 4);
}

#[test]
fn set_data_and_set_acl_touch_their_fields_only() {
    let mut h = H::new();
    h.mk("/a", 0);
    let created = h.stat("/a");
    let Ok(Response::Stat(s)) = h.set("/a", b"xyz", 0) else {
        panic!()
    };
    assert_eq!(
        (s.version, s.mzxid, s.mtime, s.data_length),
        (1, h.zxid, h.time, 3)
    );
    assert_eq!(
        (s.czxid, s.ctime, s.pzxid, s.aversion),
        (created.czxid, created.ctime, created.pzxid, 0)
    );
    let Ok(Response::Stat(s2)) = h.set_acl("/a", vec![Acl::new(perms::READ, "world", "anyone")], 0)
    else {
        panic!()
    };
    assert_eq!(s2.aversion, 1);
    assert_eq!(
        (s2.version, s2.mzxid, s2.mtime),
        (s.version, s.mzxid, s.mtime)
    );
    // ADMIN is checked before the version: the new ACL took it away
    assert_eq!(
        h.set_acl("/a", open(), 0),
        Err(corral_proto::ErrorCode::NoAuth)
    );
}

#[test]
fn null_data_stays_null_and_counts_zero() {
    let mut h = H::new();
    h.create_op(OpCode::Create, "/n", None, open(), 0, -1)
        .unwrap();
    let (data, stat) = h.tree.get_data("/n", &ip()).unwrap();
    assert_eq!(data, None);
    assert_eq!(stat.data_length, 0);
    h.create_op(OpCode::Create, "/e", Some(b""), open(), 0, -1)
        .unwrap();
    assert_eq!(
        h.tree.get_data("/e", &ip()).unwrap().0.as_deref(),
        Some(&b""[..])
    );
}

#[test]
fn pzxid_moves_on_child_create_and_delete_only() {
    let mut h = H::new();
    h.mk("/p", 0);
    h.mk("/p/c", 0);
    let after_create = h.stat("/p").pzxid;
    h.set("/p/c", b"x", -1).unwrap();
    h.set("/p", b"x", -1).unwrap();
    assert_eq!(h.stat("/p").pzxid, after_create);
    h.delete("/p/c", -1).unwrap();
    assert_eq!(h.stat("/p").pzxid, h.zxid);
}

#[test]
fn failed_txns_advance_the_zxid_only() {
    let mut h = H::new();
    h.mk("/a", 0);
    let before = h.tree.digest();
    let out = h.write(create(OpCode::Create, "/a", None, open(), 0, -1));
    assert_eq!(out.result, Err(corral_proto::ErrorCode::NodeExists));
    assert!(out.triggers.is_empty());
    assert_eq!(h.tree.last_applied_zxid(), h.zxid);
    assert_ne!(
        before,
        h.tree.digest(),
        "the digest covers the last applied zxid"
    );
    assert_eq!(h.stat("/").cversion, 0);
}
