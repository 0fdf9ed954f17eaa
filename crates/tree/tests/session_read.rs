//! Sessions (create, close, ephemerals) and the read operations' error precedence.
mod common;

use common::*;
use corral_proto::consts::perms;
use corral_proto::multi::MultiResult;
use corral_proto::records::PathWatchRequest;
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, OpCode};
use corral_tree::{SessionInfo, TreeConfig, TxnKind, WatchEvent};

#[test]
fn session_table() {
    let mut h = H::new();
    assert_eq!(
        h.session(S1).result,
        Err(ErrorCode::BadArguments),
        "duplicate id"
    );
    assert_eq!(h.session(0).result, Err(ErrorCode::BadArguments));
    assert_eq!(
        h.session(i64::MIN).result,
        Err(ErrorCode::BadArguments),
        "the container marker"
    );
    assert_eq!(h.session(S2).result, Ok(Response::Empty));
    assert_eq!(
        h.tree.session(S2),
        Some(SessionInfo {
            timeout_ms: 30_000,
            password: [7; 16]
        })
    );
    assert_eq!(
        h.tree
            .sessions()
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        vec![S1, S2]
    );
    let mut ttl = H::with(TreeConfig {
        extended_types_enabled: true,
        skip_acl: false,
    });
    assert_eq!(
        ttl.session(0xff00_0000_0000_0001u64 as i64).result,
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.session(0xff00_0000_0000_0001u64 as i64).result,
        Ok(Response::Empty)
    );
    // closing an unknown session is a harmless no-op
    let out = h.close(0x0500);
    assert_eq!(out.result, Ok(Response::Empty));
    assert!(out.triggers.is_empty());
}

#[test]
fn close_session_deletes_ephemerals_in_path_order() {
    let mut h = H::new();
    h.session(S2);
    h.mk("/a", 0);
    h.mk("/a/z", 1);
    h.mk("/a/b", 1);
    h.mk("/m", 1);
    let other = h.write_as(
        S2,
        ip(),
        common::create(OpCode::Create, "/s2", None, open(), 1, -1),
    );
    assert!(other.result.is_ok());
    assert_eq!(h.tree.ephemeral_count(), 4);
    assert_eq!(h.tree.get_ephemerals(S1, ""), vec!["/a/b", "/a/z", "/m"]);
    assert_eq!(h.tree.get_ephemerals(S1, " / "), vec!["/a/b", "/a/z", "/m"]);
    assert_eq!(h.tree.get_ephemerals(S1, "/a"), vec!["/a/b", "/a/z"]);
    assert_eq!(h.tree.get_ephemerals(S1, "/a/"), vec!["/a/b", "/a/z"]);
    assert_eq!(h.tree.get_ephemerals(S1, "/m/"), Vec::<String>::new());
    assert_eq!(h.tree.get_ephemerals(S2, "/"), vec!["/s2"]);
    assert_eq!(
        h.tree.ephemerals_by_session(),
        vec![
            (S1, vec!["/a/b".into(), "/a/z".into(), "/m".into()]),
            (S2, vec!["/s2".into()])
        ]
    );
    let out = h.close(S1);
    let z = h.zxid;
    let ev: Vec<_> = out
        .triggers
        .iter()
        .map(|t| (t.path.as_str(), t.event))
        .collect();
    assert_eq!(
        ev,
        vec![
            ("/a/b", WatchEvent::NodeDeleted),
            ("/a", WatchEvent::NodeChildrenChanged),
            ("/a/z", WatchEvent::NodeDeleted),
            ("/a", WatchEvent::NodeChildrenChanged),
            ("/m", WatchEvent::NodeDeleted),
            ("/", WatchEvent::NodeChildrenChanged),
        ]
    );
    assert_eq!(h.stat("/a").pzxid, z);
    assert_eq!(h.stat("/a").cversion, 4, "2 creations + 2 deletions");
    assert_eq!(h.tree.ephemeral_count(), 1);
    assert_eq!(h.tree.session(S1), None);
    assert_eq!(h.create("/x", 0), Err(ErrorCode::SessionExpired));
}

#[test]
fn read_error_precedence() {
    let mut h = H::new();
    let secret = vec![Acl::new(perms::ALL, "digest", "bob:h")];
    h.create_op(OpCode::Create, "/s", Some(b"x"), secret, 0, -1)
        .unwrap();
    let anyone = ip();
    let bob = vec![id("digest", "bob:h")];
    assert_eq!(h.tree.get_data("/missing", &anyone), Err(ErrorCode::NoNode));
    assert_eq!(h.tree.get_data("/s", &anyone), Err(ErrorCode::NoAuth));
    assert!(h.tree.get_data("/s", &bob).is_ok());
    assert_eq!(h.tree.get_children("/s", &anyone), Err(ErrorCode::NoAuth));
    assert_eq!(
        h.tree.get_all_children_number("/s", &anyone),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        h.tree.exists("/s", &anyone),
        Err(ErrorCode::NoAuth),
        "3.9.2: READ needed when it exists"
    );
    assert_eq!(h.tree.exists("/missing", &anyone), Err(ErrorCode::NoNode));
    assert_eq!(h.tree.exists("/s\0", &anyone), Err(ErrorCode::BadArguments));
    assert_eq!(
        h.tree.get_data("/s\0", &anyone),
        Err(ErrorCode::NoNode),
        "no path validation on reads"
    );
    assert_eq!(h.tree.get_data("bad//", &anyone), Err(ErrorCode::NoNode));
    assert!(h.tree.exists("/s", &[id("super", "")]).is_ok());
    // "" is the root's alias for reads
    assert_eq!(h.tree.exists("", &anyone), h.tree.exists("/", &anyone));
    assert_eq!(
        h.tree.get_children("", &anyone).unwrap().0,
        vec!["s", "zookeeper"]
    );
}

#[test]
fn get_acl_masks_digests_without_admin() {
    let mut h = H::new();
    let acl = vec![
        Acl::new(perms::READ, "world", "anyone"),
        Acl::new(perms::ALL, "digest", "bob:secret"),
    ];
    h.create_op(OpCode::Create, "/a", None, acl.clone(), 0, -1)
        .unwrap();
    let (shown, stat) = h.tree.get_acl("/a", &ip()).unwrap();
    assert_eq!(
        shown,
        vec![
            Acl::new(perms::READ, "world", "anyone"),
            Acl::new(perms::ALL, "digest", "bob:x")
        ]
    );
    assert_eq!(stat, h.stat("/a"));
    assert_eq!(
        h.tree
            .get_acl("/a", &[id("digest", "bob:secret")])
            .unwrap()
            .0,
        acl
    );
    // ADMIN alone is enough to read it
    let admin_only = vec![Acl::new(perms::ADMIN, "ip", "127.0.0.1")];
    h.create_op(OpCode::Create, "/b", None, admin_only.clone(), 0, -1)
        .unwrap();
    assert_eq!(h.tree.get_acl("/b", &ip()).unwrap().0, admin_only);
    assert_eq!(
        h.tree.get_acl("/b", &[id("ip", "10.0.0.1")]),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(h.tree.get_acl("/none", &ip()), Err(ErrorCode::NoNode));
}

#[test]
fn all_children_number_and_multi_read() {
    let mut h = H::new();
    h.mk("/a", 0);
    h.mk("/a/b", 0);
    h.mk("/a/b/c", 0);
    h.mk("/ab", 0);
    assert_eq!(h.tree.get_all_children_number("/a", &ip()), Ok(2));
    assert_eq!(h.tree.get_all_children_number("/a/b/c", &ip()), Ok(0));
    assert_eq!(
        h.tree.get_all_children_number("/", &ip()),
        Ok(7),
        "includes the /zookeeper nodes"
    );
    assert_eq!(
        h.tree.get_all_children_number("", &ip()),
        Ok(8),
        "\"/\" prefixes every key"
    );
    assert_eq!(
        h.tree.get_all_children_number("/zz", &ip()),
        Err(ErrorCode::NoNode)
    );
    h.set("/a/b", b"data", -1).unwrap();
    let ops = vec![
        corral_proto::multi::MultiOp::GetChildren(PathWatchRequest {
            path: "/a".into(),
            watch: true,
        }),
        corral_proto::multi::MultiOp::GetData(PathWatchRequest {
            path: "/nope".into(),
            watch: false,
        }),
        corral_proto::multi::MultiOp::GetData(PathWatchRequest {
            path: "/a/b".into(),
            watch: false,
        }),
        m_check("/a", -1),
    ];
    let r = h.tree.multi_read(&ops, &ip());
    assert_eq!(
        r[0],
        MultiResult::GetChildren {
            children: vec!["b".into()]
        }
    );
    assert_eq!(r[1], MultiResult::Error(ErrorCode::NoNode));
    assert_eq!(
        r[2],
        MultiResult::GetData {
            data: Some(bytes::Bytes::from_static(b"data")),
            stat: h.stat("/a/b")
        }
    );
    assert_eq!(r[3], MultiResult::Error(ErrorCode::MarshallingError));
}

#[test]
fn figures() {
    let mut h = H::new();
    let base = h.tree.approximate_data_bytes();
    h.create_op(OpCode::Create, "/abc", Some(b"12345"), open(), 0, -1)
        .unwrap();
    assert_eq!(h.tree.approximate_data_bytes(), base + 4 + 5);
    h.set("/abc", b"1", -1).unwrap();
    assert_eq!(h.tree.approximate_data_bytes(), base + 4 + 1);
    h.delete("/abc", -1).unwrap();
    assert_eq!(h.tree.approximate_data_bytes(), base);
    assert_eq!(h.tree.node_count(), 5);
    assert_eq!(h.tree.acl_list_count(), 2);
    let out = h.txn(S1, TxnKind::CloseSession { expired: true });
    assert!(out.result.is_ok());
}
