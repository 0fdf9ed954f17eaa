//! multi (protocol §7): all-or-nothing, one zxid, result types, normalisation of create ops.
mod common;

use common::*;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::records::PathWatchRequest;
use corral_proto::{ErrorCode, OpCode};
use corral_tree::{TreeConfig, WatchEvent};

#[test]
fn success_applies_everything_under_one_zxid() {
    let mut h = H::new();
    h.mk("/x", 0);
    let results = h
        .multi(vec![
            m_create(OpCode::Create, "/a", 0),
            m_create(OpCode::Create2, "/a/b", 0),
            m_create(OpCode::Create, "/a/s-", 2),
            m_set("/a/b", b"v", 0),
            m_check("/a/b", 1),
            m_delete("/x", 0),
        ])
        .unwrap();
    let z = h.zxid;
    assert_eq!(results[0], MultiResult::Create { path: "/a".into() });
    let MultiResult::Create2 { path, stat } = &results[1] else {
        panic!()
    };
    assert_eq!(
        (path.as_str(), stat.czxid, stat.version),
        ("/a/b", z, 0),
        "stat as of that op"
    );
    assert_eq!(
        results[2],
        MultiResult::Create {
            path: "/a/s-0000000001".into()
        }
    );
    let MultiResult::SetData { stat } = &results[3] else {
        panic!()
    };
    assert_eq!((stat.version, stat.mzxid), (1, z));
    assert_eq!(results[4], MultiResult::Check);
    assert_eq!(results[5], MultiResult::Delete);
    assert_eq!(h.stat("/a").pzxid, z);
    assert_eq!(h.tree.stat("/x"), None);
}

#[test]
fn failure_changes_nothing_and_marks_results() {
    let mut h = H::new();
    h.mk("/x", 0);
    let before = h.tree.digest();
    let out = h.write(corral_tree::WriteOp::Multi(vec![
        m_create(OpCode::Create, "/a", 0),
        m_set("/x", b"v", 0),
        m_check("/x", 0),
        m_delete("/x", -1),
    ]));
    assert!(out.triggers.is_empty());
    let Ok(corral_proto::response::Response::Multi(results)) = out.result else {
        panic!()
    };
    assert_eq!(
        results,
        vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::BadVersion),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ],
        "the check sees the setData of the same multi"
    );
    assert_eq!(h.tree.stat("/a"), None);
    assert_eq!(h.stat("/x").version, 0);
    let mut same = H::new();
    same.mk("/x", 0);
    same.zxid += 1;
    same.tree.apply(
        same.zxid,
        &corral_tree::Txn {
            session_id: S1,
            cxid: 0,
            time_ms: 0,
            kind: corral_tree::TxnKind::DeleteContainer { path: "/x".into() },
        },
    );
    assert_ne!(before, h.tree.digest());
    assert_eq!(
        same.tree.digest(),
        h.tree.digest(),
        "a failed multi is as good as any failed txn"
    );
}

#[test]
fn scratch_view_sees_earlier_ops() {
    let mut h = H::new();
    // delete then recreate; create then delete; children counted in the view
    h.mk("/a", 0);
    let r = h
        .multi(vec![
            m_delete("/a", -1),
            m_create(OpCode::Create, "/a", 0),
            m_delete("/a", 0),
        ])
        .unwrap();
    assert_eq!(
        r,
        vec![
            MultiResult::Delete,
            MultiResult::Create { path: "/a".into() },
            MultiResult::Delete
        ]
    );
    let r = h
        .multi(vec![
            m_create(OpCode::Create, "/p", 0),
            m_create(OpCode::Create, "/p/c", 0),
            m_delete("/p", -1),
        ])
        .unwrap();
    assert_eq!(r[2], MultiResult::Error(ErrorCode::NotEmpty));
    let r = h
        .multi(vec![
            m_create(OpCode::Create, "/e", 1),
            m_create(OpCode::Create, "/e/c", 0),
        ])
        .unwrap();
    assert_eq!(r[1], MultiResult::Error(ErrorCode::NoChildrenForEphemerals));
    let r = h
        .multi(vec![
            m_create(OpCode::Create, "/q-", 2),
            m_create(OpCode::Create, "/q-", 2),
        ])
        .unwrap();
    let names: Vec<_> = r
        .iter()
        .map(|x| match x {
            MultiResult::Create { path } => path.clone(),
            o => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(
        names,
        vec!["/q-0000000002", "/q-0000000003"],
        "failed multis created nothing"
    );
}

#[test]
fn triggers_in_op_order() {
    let mut h = H::new();
    h.mk("/x", 0);
    let out = h.write(corral_tree::WriteOp::Multi(vec![
        m_create(OpCode::Create, "/a", 0),
        m_set("/x", b"1", -1),
        m_delete("/x", -1),
    ]));
    let ev: Vec<_> = out
        .triggers
        .iter()
        .map(|t| (t.path.as_str(), t.event))
        .collect();
    assert_eq!(
        ev,
        vec![
            ("/a", WatchEvent::NodeCreated),
            ("/", WatchEvent::NodeChildrenChanged),
            ("/x", WatchEvent::NodeDataChanged),
            ("/x", WatchEvent::NodeDeleted),
            ("/", WatchEvent::NodeChildrenChanged),
        ]
    );
}

#[test]
fn create_normalisation_as_zookeepers_decoder() {
    let mut h = H::with(TreeConfig {
        extended_types_enabled: true,
        skip_acl: false,
    });
    // invalid flags or a TTL mode under a create header: the request does not parse
    assert_eq!(
        h.multi(vec![m_create(OpCode::Create, "/a", 9)]),
        Err(ErrorCode::MarshallingError)
    );
    assert_eq!(
        h.multi(vec![m_create(OpCode::Create2, "/a", 5)]),
        Err(ErrorCode::MarshallingError)
    );
    // a read op in a write multi
    let read = MultiOp::GetData(PathWatchRequest {
        path: "/".into(),
        watch: false,
    });
    assert_eq!(
        h.multi(vec![m_create(OpCode::Create, "/a", 0), read]),
        Err(ErrorCode::MarshallingError)
    );
    assert_eq!(
        h.tree.last_applied_zxid(),
        h.zxid,
        "still consumes its zxid"
    );
    // CONTAINER flags under create (1) make a createContainer: Create2 result, a container
    let r = h.multi(vec![m_create(OpCode::Create, "/c", 4)]).unwrap();
    assert!(matches!(&r[0], MultiResult::Create2 { path, .. } if path == "/c"));
    h.mk("/c/x", 0);
    h.delete("/c/x", -1).unwrap();
    assert_eq!(h.tree.reap_candidates(h.time, 0, 10), vec!["/c"]);
    // createContainer header with PERSISTENT flags still makes a container
    let r = h
        .multi(vec![m_create(OpCode::CreateContainer, "/c2", 0)])
        .unwrap();
    assert!(matches!(&r[0], MultiResult::Create2 { .. }));
    // createTTL header: TTL mode → Create2 result
    let r = h.multi(vec![m_create_ttl("/t", 5, 100)]).unwrap();
    assert!(matches!(&r[0], MultiResult::Create2 { stat, .. } if stat.ephemeral_owner == 0));
    let r = h.multi(vec![m_create_ttl("/t2", 5, 0)]).unwrap();
    assert_eq!(r[0], MultiResult::Error(ErrorCode::BadArguments));
    // createTTL header with a non-TTL mode: a plain create, ttl dropped, path-only result
    let r = h.multi(vec![m_create_ttl("/p", 0, 12345)]).unwrap();
    assert_eq!(r[0], MultiResult::Create { path: "/p".into() });
    let r = h.multi(vec![m_create_ttl("/p2", 1, 5)]).unwrap();
    assert_eq!(r[0], MultiResult::Create { path: "/p2".into() });
    assert_eq!(h.stat("/p2").ephemeral_owner, S1);
    // ... with invalid flags: that op fails with BADARGUMENTS
    let r = h
        .multi(vec![m_check("/", -1), m_create_ttl("/p3", 42, 5)])
        .unwrap();
    assert_eq!(
        r,
        vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::BadArguments)
        ]
    );
    // a createContainer op carrying EPHEMERAL flags: the scratch view records a session's
    // ephemeral (so no child may follow in the same multi) but a container is stored
    let r = h
        .multi(vec![
            m_create(OpCode::CreateContainer, "/ce", 1),
            m_create(OpCode::Create, "/ce/x", 0),
        ])
        .unwrap();
    assert_eq!(r[1], MultiResult::Error(ErrorCode::NoChildrenForEphemerals));
    h.multi(vec![m_create(OpCode::CreateContainer, "/ce", 1)])
        .unwrap();
    assert_eq!(h.stat("/ce").ephemeral_owner, 0);
    h.mk("/ce/x", 0);
}

#[test]
fn ttl_in_multi_without_extended_types() {
    let mut h = H::new();
    let r = h.multi(vec![m_create_ttl("/t", 5, 100)]).unwrap();
    assert_eq!(r, vec![MultiResult::Error(ErrorCode::Unimplemented)]);
}

#[test]
fn empty_multi_and_unknown_session() {
    let mut h = H::new();
    assert_eq!(h.multi(vec![]), Ok(vec![]));
    let out = h.write_as(
        S2,
        ip(),
        corral_tree::WriteOp::Multi(vec![m_check("/", -1), m_check("/", -1)]),
    );
    let Ok(corral_proto::response::Response::Multi(r)) = out.result else {
        panic!()
    };
    assert_eq!(
        r,
        vec![
            MultiResult::Error(ErrorCode::SessionExpired),
            MultiResult::Error(ErrorCode::RuntimeInconsistency)
        ]
    );
}
