//! delete, setData, setACL, deleteContainer (protocol §12) and their watch triggers.
mod common;

use common::*;
use corral_proto::consts::perms;
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, OpCode};
use corral_tree::{TreeConfig, TxnKind, WatchEvent};

fn events(out: &corral_tree::ApplyOutcome) -> Vec<(String, WatchEvent)> {
    out.triggers
        .iter()
        .map(|t| (t.path.clone(), t.event))
        .collect()
}

#[test]
fn delete_rules_in_order() {
    let mut h = H::new();
    for special in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(
            h.delete(special, -1),
            Err(ErrorCode::BadArguments),
            "{special}"
        );
    }
    assert_eq!(h.delete("noslash", -1), Err(ErrorCode::BadArguments));
    assert_eq!(h.delete("", -1), Err(ErrorCode::BadArguments));
    assert_eq!(h.delete("/a\0", -1), Err(ErrorCode::BadArguments));
    assert_eq!(h.delete("/no/x", -1), Err(ErrorCode::NoNode));
    // no DELETE on the parent beats a missing node
    h.create_op(
        OpCode::Create,
        "/ro",
        None,
        vec![Acl::new(perms::READ | perms::CREATE, "world", "anyone")],
        0,
        -1,
    )
    .unwrap();
    h.mk("/ro/c", 0);
    assert_eq!(h.delete("/ro/missing", -1), Err(ErrorCode::NoAuth));
    assert_eq!(h.delete("/ro/c", -1), Err(ErrorCode::NoAuth));
    h.mk("/p", 0);
    h.mk("/p/c", 0);
    h.set("/p", b"x", -1).unwrap();
    // delete does not run full path validation: "/p/" is just not there
    assert_eq!(h.delete("/p/", -1), Err(ErrorCode::NoNode));
    assert_eq!(h.delete("/p", 0), Err(ErrorCode::BadVersion));
    assert_eq!(h.delete("/p", 1), Err(ErrorCode::NotEmpty));
    let out = h.write(corral_tree::WriteOp::Delete(
        corral_proto::records::DeleteRequest {
            path: "/p/c".into(),
            version: 0,
        },
    ));
    assert_eq!(out.result, Ok(Response::Empty));
    assert_eq!(
        events(&out),
        vec![
            ("/p/c".into(), WatchEvent::NodeDeleted),
            ("/p".into(), WatchEvent::NodeChildrenChanged)
        ]
    );
    h.delete("/p", 1).unwrap();
    let out = h.write(common::create(OpCode::Create, "/q", None, open(), 0, -1));
    assert_eq!(
        events(&out),
        vec![
            ("/q".into(), WatchEvent::NodeCreated),
            ("/".into(), WatchEvent::NodeChildrenChanged)
        ]
    );
    let out = h.write(corral_tree::WriteOp::Delete(
        corral_proto::records::DeleteRequest {
            path: "/q".into(),
            version: -1,
        },
    ));
    assert_eq!(
        events(&out)[1],
        ("/".into(), WatchEvent::NodeChildrenChanged)
    );
    assert_eq!(h.delete("/q", -1), Err(ErrorCode::NoNode));
}

#[test]
fn set_data_rules_in_order() {
    let mut h = H::new();
    assert_eq!(h.set("/a/", b"", -1), Err(ErrorCode::BadArguments));
    assert_eq!(h.set("", b"", -1), Err(ErrorCode::BadArguments));
    assert_eq!(h.set("/a", b"", -1), Err(ErrorCode::NoNode));
    h.create_op(
        OpCode::Create,
        "/r",
        None,
        vec![Acl::new(perms::READ, "world", "anyone")],
        0,
        -1,
    )
    .unwrap();
    assert_eq!(
        h.set("/r", b"", 7),
        Err(ErrorCode::NoAuth),
        "NOAUTH before BADVERSION"
    );
    h.mk("/a", 0);
    assert_eq!(h.set("/a", b"", 3), Err(ErrorCode::BadVersion));
    let out = h.write(corral_tree::WriteOp::SetData(
        corral_proto::records::SetDataRequest {
            path: "/a".into(),
            data: None,
            version: 0,
        },
    ));
    let Ok(Response::Stat(stat)) = &out.result else {
        panic!()
    };
    assert_eq!(stat.version, 1);
    assert_eq!(
        events(&out),
        vec![("/a".into(), WatchEvent::NodeDataChanged)]
    );
    assert_eq!(h.tree.get_data("/a", &ip()).unwrap().0, None);
    // setData on the config node needs WRITE, which world:anyone:r lacks
    assert_eq!(h.set("/zookeeper/config", b"x", -1), Err(ErrorCode::NoAuth));
    let out = h.write_as(
        S1,
        vec![id("super", "")],
        corral_tree::WriteOp::SetData(corral_proto::records::SetDataRequest {
            path: "/zookeeper/config".into(),
            data: None,
            version: -1,
        }),
    );
    assert!(out.result.is_ok());
}

#[test]
fn set_acl_rules_in_order() {
    let mut h = H::new();
    assert_eq!(h.set_acl("bad", vec![], -1), Err(ErrorCode::BadArguments));
    // INVALIDACL comes before NONODE
    assert_eq!(
        h.set_acl("/missing", vec![], -1),
        Err(ErrorCode::InvalidAcl)
    );
    assert_eq!(h.set_acl("/missing", open(), -1), Err(ErrorCode::NoNode));
    assert_eq!(
        h.set_acl("/zookeeper/config", open(), -1),
        Err(ErrorCode::NoAuth)
    );
    h.mk("/a", 0);
    assert_eq!(h.set_acl("/a", open(), 1), Err(ErrorCode::BadVersion));
    let digest = vec![
        Acl::new(perms::ALL, "digest", "bob:h"),
        Acl::new(perms::READ, "world", "anyone"),
    ];
    let out = h.write(corral_tree::WriteOp::SetAcl(
        corral_proto::records::SetAclRequest {
            path: "/a".into(),
            acl: digest.clone(),
            version: 0,
        },
    ));
    assert!(out.triggers.is_empty(), "setACL fires no watch");
    assert_eq!(h.tree.node_acl("/a").unwrap().to_vec(), digest);
    assert_eq!(h.set_acl("/a", open(), -1), Err(ErrorCode::NoAuth));
    let bob = vec![id("digest", "bob:h")];
    let out = h.write_as(
        S1,
        bob,
        corral_tree::WriteOp::SetAcl(corral_proto::records::SetAclRequest {
            path: "/a".into(),
            acl: open(),
            version: 1,
        }),
    );
    let Ok(Response::Stat(stat)) = out.result else {
        panic!()
    };
    assert_eq!(stat.aversion, 2);
}

#[test]
fn writes_from_unknown_sessions_expire() {
    let mut h = H::new();
    h.mk("/a", 0);
    let op = corral_tree::WriteOp::SetData(corral_proto::records::SetDataRequest {
        path: "bad".into(),
        data: None,
        version: -1,
    });
    assert_eq!(
        h.write_as(S2, ip(), op).result,
        Err(ErrorCode::SessionExpired),
        "before path validation"
    );
    let op = corral_tree::WriteOp::Delete(corral_proto::records::DeleteRequest {
        path: "/".into(),
        version: -1,
    });
    assert_eq!(
        h.write_as(0, ip(), op).result,
        Err(ErrorCode::SessionExpired)
    );
}

#[test]
fn delete_container_only_reaps_what_qualifies() {
    let mut h = H::with(TreeConfig {
        extended_types_enabled: true,
        skip_acl: false,
    });
    let reap = |h: &mut H, path: &str| h.txn(0, TxnKind::DeleteContainer { path: path.into() });
    h.create_op(OpCode::CreateContainer, "/c", None, open(), 4, -1)
        .unwrap();
    h.mk("/c/x", 0);
    assert_eq!(reap(&mut h, "/c").result, Err(ErrorCode::NotEmpty));
    h.delete("/c/x", -1).unwrap();
    let out = reap(&mut h, "/c");
    assert_eq!(out.result, Ok(Response::Empty));
    assert_eq!(
        events(&out),
        vec![
            ("/c".into(), WatchEvent::NodeDeleted),
            ("/".into(), WatchEvent::NodeChildrenChanged)
        ]
    );
    assert_eq!(reap(&mut h, "/c").result, Err(ErrorCode::NoNode));
    h.mk("/p", 0);
    h.mk("/e", 1);
    assert_eq!(reap(&mut h, "/p").result, Err(ErrorCode::BadVersion));
    assert_eq!(reap(&mut h, "/e").result, Err(ErrorCode::BadVersion));
    assert_eq!(
        reap(&mut h, "/zookeeper").result,
        Err(ErrorCode::BadArguments)
    );
    h.create_op(OpCode::CreateTtl, "/t", None, open(), 5, 100)
        .unwrap();
    let created = h.stat("/t").mtime;
    h.time = created + 50;
    assert_eq!(
        reap(&mut h, "/t").result,
        Err(ErrorCode::BadVersion),
        "not expired at the txn's time"
    );
    h.time = created + 100;
    assert!(reap(&mut h, "/t").result.is_ok());
    assert_eq!(h.tree.stat("/t"), None);
}

#[test]
fn trigger_acls_are_the_nodes_and_the_parents() {
    let mut h = H::new();
    let parent_acl = vec![Acl::new(perms::ALL, "ip", "127.0.0.1")];
    h.create_op(OpCode::Create, "/p", None, parent_acl.clone(), 0, -1)
        .unwrap();
    let child_acl = vec![Acl::new(perms::READ, "world", "anyone")];
    let out = h.write(common::create(
        OpCode::Create,
        "/p/c",
        None,
        child_acl.clone(),
        0,
        -1,
    ));
    assert_eq!(out.triggers[0].acl.to_vec(), child_acl);
    assert_eq!(out.triggers[1].acl.to_vec(), parent_acl);
}
