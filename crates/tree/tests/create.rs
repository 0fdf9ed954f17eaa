//! create in every mode, and ZooKeeper's validation order (protocol §11).
mod common;

use common::*;
use corral_proto::consts::{perms, TTL_MS_MAX};
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, OpCode};
use corral_tree::{TreeConfig, TxnKind};

fn ttl_tree() -> H {
    H::with(TreeConfig {
        extended_types_enabled: true,
        skip_acl: false,
    })
}

#[test]
fn validation_order_first_failure_wins() {
    let mut h = H::new();
    h.create_op(
        OpCode::Create,
        "/locked",
        None,
        vec![Acl::new(perms::READ, "world", "anyone")],
        0,
        -1,
    )
    .unwrap();
    // 0. flags that are no mode, even with everything else wrong
    assert_eq!(
        h.create_op(OpCode::Create, "bad", None, vec![], 9, -1),
        Err(ErrorCode::BadArguments)
    );
    // 1. TTL mode without extended types beats a bad path and a bad ACL
    assert_eq!(
        h.create_op(OpCode::CreateTtl, "bad", None, vec![], 5, 100),
        Err(ErrorCode::Unimplemented)
    );
    // 3. session before path
    let out = h.write_as(S2, ip(), create(OpCode::Create, "bad", None, vec![], 0, -1));
    assert_eq!(out.result, Err(ErrorCode::SessionExpired));
    // 4. no slash before the ACL
    assert_eq!(
        h.create_op(OpCode::Create, "bad", None, vec![], 0, -1),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.create_op(OpCode::Create, "/a\0", None, vec![], 0, -1),
        Err(ErrorCode::BadArguments)
    );
    // 5. ACL before the parent
    assert_eq!(
        h.create_op(OpCode::Create, "/no/x", None, vec![], 0, -1),
        Err(ErrorCode::InvalidAcl)
    );
    // 6. parent before permission and full validation
    assert_eq!(
        h.create_op(OpCode::Create, "/no/x/", None, open(), 0, -1),
        Err(ErrorCode::NoNode)
    );
    // 7. permission before full validation and existence
    assert_eq!(
        h.create_op(OpCode::Create, "/locked/.", None, open(), 0, -1),
        Err(ErrorCode::NoAuth)
    );
    // (the parent of "/locked/x/" is "/locked/x": missing)
    assert_eq!(
        h.create_op(OpCode::Create, "/locked/x/", None, open(), 0, -1),
        Err(ErrorCode::NoNode)
    );
    // 9. full validation before existence
    assert_eq!(
        h.create_op(OpCode::Create, "/zookeeper/", None, open(), 0, -1),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.create_op(OpCode::Create, "/a/.", None, open(), 0, -1),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(
        h.create_op(OpCode::Create, "/.", None, open(), 0, -1),
        Err(ErrorCode::BadArguments)
    );
    // 10. exists
    assert_eq!(
        h.create_op(OpCode::Create, "/zookeeper", None, open(), 0, -1),
        Err(ErrorCode::NodeExists)
    );
    assert_eq!(
        h.create_op(OpCode::Create, "/", None, open(), 0, -1),
        Err(ErrorCode::NodeExists)
    );
    // 11. ephemeral parent, after existence
    h.mk("/eph", 1);
    assert_eq!(h.create("/eph", 0), Err(ErrorCode::NodeExists));
    assert_eq!(
        h.create("/eph/c", 0),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(
        h.create("/eph/c", 2),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
}

#[test]
fn ttl_rules() {
    let mut h = ttl_tree();
    for (flags, ttl) in [(5, 0), (5, -1), (5, TTL_MS_MAX + 1), (6, 0)] {
        assert_eq!(
            h.create_op(OpCode::CreateTtl, "/t", None, open(), flags, ttl),
            Err(ErrorCode::BadArguments),
            "{flags} {ttl}"
        );
    }
    // a ttl with a non-TTL mode
    assert_eq!(
        h.create_op(OpCode::CreateTtl, "/t", None, open(), 0, 10),
        Err(ErrorCode::BadArguments)
    );
    // ZooKeeper crashes on this one while applying; we refuse it
    assert_eq!(
        h.create_op(OpCode::CreateTtl, "/t", None, open(), 0, -1),
        Err(ErrorCode::BadArguments)
    );
    // TTL flags through plain create carry ttl -1
    assert_eq!(
        h.create_op(OpCode::Create2, "/t", None, open(), 5, -1),
        Err(ErrorCode::BadArguments)
    );
    let Ok(Response::Create2 { path, stat }) =
        h.create_op(OpCode::CreateTtl, "/t", None, open(), 5, 1000)
    else {
        panic!()
    };
    assert_eq!(path, "/t");
    assert_eq!(stat.ephemeral_owner, 0, "TTL nodes report owner 0");
    let Ok(Response::Create2 { path, .. }) =
        h.create_op(OpCode::CreateTtl, "/t-", None, open(), 6, TTL_MS_MAX)
    else {
        panic!()
    };
    assert_eq!(path, "/t-0000000001");
    h.mk("/t/child", 0);
    assert!(
        h.tree.reap_candidates(h.time + 5000, 0, 10).is_empty(),
        "has a child"
    );
    h.delete("/t/child", -1).unwrap();
    let created = h.stat("/t").mtime;
    assert!(h.tree.reap_candidates(created + 1000, 0, 10).is_empty());
    assert_eq!(h.tree.reap_candidates(created + 1001, 0, 10), vec!["/t"]);
}

#[test]
fn sequential_names() {
    let mut h = H::new();
    // the root's stored cversion is 0 on a fresh tree (/zookeeper was never "created")
    assert_eq!(h.mk("/s-", 2), "/s-0000000000");
    h.mk("/d", 0);
    assert_eq!(h.mk("/d/", 2), "/d/0000000000");
    assert_eq!(h.mk("/d/", 3), "/d/0000000001");
    // validation happens after the suffix: "/d/." alone is invalid, "/d/.0000000002" is fine
    assert_eq!(h.mk("/d/.", 2), "/d/.0000000002");
    assert_eq!(h.create("/d/.", 0), Err(ErrorCode::BadArguments));
}

#[test]
fn modes_and_op_types() {
    let mut h = H::new();
    // ephemeral: owner is the session
    let Ok(Response::Create2 { stat, .. }) =
        h.create_op(OpCode::Create2, "/e", None, open(), 1, -1)
    else {
        panic!()
    };
    assert_eq!(stat.ephemeral_owner, S1);
    // container: reported owner 0, children allowed, reaped once used and empty
    let Ok(Response::Create2 { stat, .. }) =
        h.create_op(OpCode::CreateContainer, "/c", None, open(), 4, -1)
    else {
        panic!()
    };
    assert_eq!(stat.ephemeral_owner, 0);
    assert!(
        h.tree.reap_candidates(h.time, 0, 10).is_empty(),
        "never used"
    );
    assert_eq!(
        h.tree.reap_candidates(h.time + 100, 50, 10),
        vec!["/c"],
        "never used but old"
    );
    h.mk("/c/x", 0);
    h.delete("/c/x", -1).unwrap();
    assert_eq!(h.tree.reap_candidates(h.time, 0, 10), vec!["/c"]);
    // create (1) with CONTAINER flags stores a plain persistent node (CreateTxn, ephemeral=false)
    assert_eq!(
        h.create("/pc", 4),
        Ok(Response::Create { path: "/pc".into() })
    );
    h.mk("/pc/x", 0);
    h.delete("/pc/x", -1).unwrap();
    assert_eq!(h.tree.reap_candidates(h.time, 0, 10), vec!["/c"]);
    // createContainer decides the node type whatever the flags: a sequential container
    let Ok(Response::Create2 { path, .. }) =
        h.create_op(OpCode::CreateContainer, "/sc-", None, open(), 2, -1)
    else {
        panic!()
    };
    assert_eq!(path, "/sc-0000000003");
    h.mk(&format!("{path}/x"), 0);
    h.delete(&format!("{path}/x"), -1).unwrap();
    assert_eq!(
        h.tree.reap_candidates(h.time, 0, 10),
        vec!["/c".to_string(), path.clone()]
    );
    assert_eq!(h.tree.reap_candidates(h.time, 0, 1), vec!["/c".to_string()]);
    // an unknown op type
    assert_eq!(
        h.create_op(OpCode::Delete, "/z", None, open(), 0, -1),
        Err(ErrorCode::Unimplemented)
    );
}

#[test]
fn auth_acl_and_create_permission() {
    let mut h = H::new();
    let bob = vec![id("ip", "127.0.0.1"), id("digest", "bob:hash")];
    let auth = vec![Acl::new(perms::ALL, "auth", "")];
    assert_eq!(
        h.create_op(OpCode::Create, "/x", None, auth.clone(), 0, -1),
        Err(ErrorCode::InvalidAcl)
    );
    let out = h.write_as(
        S1,
        bob.clone(),
        create(OpCode::Create, "/bob", None, auth, 0, -1),
    );
    assert!(out.result.is_ok());
    assert_eq!(
        h.tree.node_acl("/bob").unwrap().to_vec(),
        vec![Acl::new(perms::ALL, "digest", "bob:hash")]
    );
    // only bob (or super) may create under it
    assert_eq!(h.create("/bob/x", 0), Err(ErrorCode::NoAuth));
    let out = h.write_as(
        S1,
        bob,
        create(OpCode::Create, "/bob/x", None, open(), 0, -1),
    );
    assert!(out.result.is_ok());
    let out = h.write_as(
        S1,
        vec![id("super", "")],
        create(OpCode::Create, "/bob/y", None, open(), 0, -1),
    );
    assert!(out.result.is_ok());
    // skipACL lets everyone through
    let mut skip = H::with(TreeConfig {
        extended_types_enabled: false,
        skip_acl: true,
    });
    skip.create_op(
        OpCode::Create,
        "/r",
        None,
        vec![Acl::new(perms::READ, "world", "anyone")],
        0,
        -1,
    )
    .unwrap();
    skip.mk("/r/x", 0);
}

#[test]
fn ephemerals_need_a_live_session_and_die_with_it() {
    let mut h = H::new();
    h.session(S2);
    let out = h.write_as(S2, ip(), create(OpCode::Create, "/e2", None, open(), 1, -1));
    assert!(out.result.is_ok());
    h.close(S2);
    assert_eq!(h.tree.stat("/e2"), None);
    let out = h.write_as(S2, ip(), create(OpCode::Create, "/e3", None, open(), 1, -1));
    assert_eq!(out.result, Err(ErrorCode::SessionExpired));
    let out = h.txn(S2, TxnKind::DeleteContainer { path: "/x".into() });
    assert_eq!(out.result, Err(ErrorCode::NoNode));
}
