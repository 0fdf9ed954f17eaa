//! create in every CreateMode, create2's stat, sequence numbering, containers and TTL nodes
//! (reaped by the server's background task), and the create errors: NODEEXISTS, NONODE,
//! NOCHILDRENFOREPHEMERALS, BADARGUMENTS, UNIMPLEMENTED.

use std::time::Duration;

use corral_client::corral_proto::consts::CreateMode as RawMode;
use corral_client::corral_proto::ErrorCode;
use zookeeper_client as zk;

use crate::support::*;

#[tokio::test]
async fn persistent_and_ephemeral_create_report_fresh_stats() {
    let server = Server::start();
    let client = server.client().await;
    let session = client.session_id().0;

    let (stat, seq) = within("create", client.create("/p", b"hello", &PERSISTENT))
        .await
        .unwrap();
    assert_eq!(
        seq.into_i64(),
        -1,
        "non-sequential creates have no sequence"
    );
    assert_fresh_stat(&stat, 5, 0);
    let (data, read) = within("get", client.get_data("/p")).await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(read, stat, "create2's stat is the stored one");

    let (stat, _) = within("create", client.create("/p/e", b"", &EPHEMERAL))
        .await
        .unwrap();
    assert_fresh_stat(&stat, 0, session);
    let (data, _) = within("get", client.get_data("/p/e")).await.unwrap();
    assert!(data.is_empty());

    // The parent's stat moved with the child create: pzxid, cversion, numChildren.
    let (children, parent) = within("children", client.get_children("/p")).await.unwrap();
    assert_eq!(children, vec!["e".to_owned()]);
    assert_eq!(parent.pzxid, stat.czxid);
    assert_eq!(parent.cversion, 1);
    assert_eq!(parent.num_children, 1);
    assert_eq!(
        parent.mzxid, parent.czxid,
        "a child create is no data change"
    );
}

#[tokio::test]
async fn sequential_suffixes_follow_the_parents_creation_count() {
    let server = Server::start();
    let client = server.client().await;
    let session = client.session_id().0;
    within("create", client.create("/q", b"", &PERSISTENT))
        .await
        .unwrap();

    let mut names = Vec::new();
    for expected in 0..3 {
        let (stat, seq) = within(
            "create",
            client.create("/q/n-", b"", &PERSISTENT_SEQUENTIAL),
        )
        .await
        .unwrap();
        assert_eq!(seq.into_i64(), expected);
        assert_eq!(seq.to_string(), format!("{expected:010}"));
        assert_eq!(stat.ephemeral_owner, 0);
        names.push(format!("n-{seq}"));
    }
    assert_eq!(
        sorted(within("ls", client.list_children("/q")).await.unwrap()),
        names
    );

    // A deletion does not give a number back: the suffix is the count of creations.
    within("delete", client.delete("/q/n-0000000001", None))
        .await
        .unwrap();
    let (stat, seq) = within(
        "create",
        client.create("/q/e-", b"x", &EPHEMERAL_SEQUENTIAL),
    )
    .await
    .unwrap();
    assert_eq!(seq.into_i64(), 3);
    assert_eq!(stat.ephemeral_owner, session);
    let (_, data_stat) = within("get", client.get_data("/q/e-0000000003"))
        .await
        .unwrap();
    assert_eq!(data_stat, stat);

    // Reported cversion = creations + deletions (4 + 1).
    let (_, parent) = within("children", client.get_children("/q")).await.unwrap();
    assert_eq!(parent.cversion, 5);
    assert_eq!(parent.num_children, 3);

    // A sequential create whose name ends in '/' numbers the child itself.
    let (_, seq) = within("create", client.create("/q/", b"", &PERSISTENT_SEQUENTIAL))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 4);
    assert!(within("exists", client.check_stat("/q/0000000004"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn create_errors() {
    let server = Server::start();
    let client = server.client().await;
    within("create", client.create("/x", b"", &PERSISTENT))
        .await
        .unwrap();

    assert_eq!(
        within("dup", client.create("/x", b"", &PERSISTENT)).await,
        Err(zk::Error::NodeExists)
    );
    assert_eq!(
        within("orphan", client.create("/missing/child", b"", &PERSISTENT)).await,
        Err(zk::Error::NoNode)
    );

    // No children under an ephemeral, whatever the mode and whichever session asks.
    within("ephemeral", client.create("/x/eph", b"", &EPHEMERAL))
        .await
        .unwrap();
    let other = server.client().await;
    for (who, c) in [("owner", &client), ("other", &other)] {
        for options in [&PERSISTENT, &EPHEMERAL, &PERSISTENT_SEQUENTIAL, &CONTAINER] {
            assert_eq!(
                within("child of ephemeral", c.create("/x/eph/c", b"", options)).await,
                Err(zk::Error::NoChildrenForEphemerals),
                "{who}"
            );
        }
    }

    // zookeeper-client checks paths with Rust chars, so a character outside the BMP gets
    // through; ZooKeeper checks UTF-16 code units and rejects the surrogate pair.
    match within("non-BMP", client.create("/x/\u{1F600}", b"", &PERSISTENT)).await {
        Err(zk::Error::BadArguments(_)) => {}
        other => panic!("expected BADARGUMENTS, got {other:?}"),
    }
    assert_eq!(
        within("ls", client.list_children("/x")).await.unwrap(),
        vec!["eph".to_owned()],
        "failed creates leave nothing behind"
    );

    // Server-side checks the crate would refuse to send: our raw client.
    // The parent is looked up before the full path check, so a bad segment above the last
    // one is a missing parent (fact sheet §11, steps 4, 6 and 9).
    let raw = server.raw().await;
    for (path, code) in [
        ("x", ErrorCode::BadArguments),
        ("/x/", ErrorCode::BadArguments),
        ("/x/.", ErrorCode::BadArguments),
        ("/x/..", ErrorCode::BadArguments),
        ("/x/\u{1}", ErrorCode::BadArguments),
        ("/x/a\0b", ErrorCode::BadArguments),
        ("/x//y", ErrorCode::NoNode),
        ("/x/./y", ErrorCode::NoNode),
        ("/", ErrorCode::NodeExists),
    ] {
        let reply = raw
            .create(path, b"", open_acl(), RawMode::Persistent)
            .await
            .unwrap();
        assert_eq!(reply.code(), code, "{path:?}");
    }
    let reply = raw
        .create("/x/y", b"", Vec::new(), RawMode::Persistent)
        .await
        .unwrap();
    assert_eq!(reply.code(), ErrorCode::InvalidAcl, "empty ACL list");
}

#[tokio::test]
async fn containers_are_reaped_once_emptied_and_hold_ephemerals() {
    let server = Server::with_cfg(&[("znode.container.checkIntervalMs", "100")]);
    let client = server.client().await;

    let (stat, _) = within("container", client.create("/c", b"box", &CONTAINER))
        .await
        .unwrap();
    assert_fresh_stat(&stat, 3, 0);
    within("never used", client.create("/unused", b"", &CONTAINER))
        .await
        .unwrap();

    // A child that is an ephemeral of another session: allowed under a container.
    let owner = server.client().await;
    let (child, _) = within("ephemeral child", owner.create("/c/e", b"", &EPHEMERAL))
        .await
        .unwrap();
    assert_eq!(child.ephemeral_owner, owner.session_id().0);
    let (_, watcher) = within("watch", client.check_and_watch_stat("/c"))
        .await
        .unwrap();

    // Closing the owner's session deletes the ephemeral; the emptied container goes next.
    drop(owner);
    let event = within("container reaped", watcher.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    assert_eq!(event.path, "/c");
    assert_eq!(
        within("exists", client.check_stat("/c/e")).await.unwrap(),
        None
    );

    // A container that never had a child stays (znode.container.maxNeverUsedIntervalMs = 0).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(within("exists", client.check_stat("/unused"))
        .await
        .unwrap()
        .is_some());
    // Children are created under it as under any node; once removed, it is reaped.
    within("child", client.create("/unused/a", b"", &PERSISTENT))
        .await
        .unwrap();
    within("delete child", client.delete("/unused/a", None))
        .await
        .unwrap();
    eventually("used container reaped", STEP, || async {
        client
            .check_stat("/unused")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn ttl_nodes_need_extended_types_and_expire() {
    let server = Server::with_cfg(&[
        ("extendedTypesEnabled", "true"),
        ("znode.container.checkIntervalMs", "100"),
    ]);
    let client = server.client().await;
    let ttl = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_millis(300));
    let long_ttl = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(3600));
    let sequential_ttl = zk::CreateMode::PersistentSequential
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(3600));

    let (stat, _) = within("ttl", client.create("/t", b"t", &ttl))
        .await
        .unwrap();
    // The TTL lives in the stored ephemeralOwner; clients see 0.
    assert_fresh_stat(&stat, 1, 0);
    let (stat, seq) = within("seq ttl", client.create("/s-", b"", &sequential_ttl))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 1, "the root's second child creation");
    assert_eq!(stat.ephemeral_owner, 0);
    // Created with its child in one multi, so it is never empty before the test empties it.
    let mut multi = client.new_multi_writer();
    multi.add_create("/busy", b"", &ttl).unwrap();
    multi.add_create("/busy/child", b"", &PERSISTENT).unwrap();
    within("parent ttl", multi.commit()).await.unwrap();
    within("long ttl", client.create("/long", b"", &long_ttl))
        .await
        .unwrap();

    eventually("ttl node reaped", STEP, || async {
        client
            .check_stat("/t")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    // A TTL node with children, or whose TTL has not passed, stays.
    for path in ["/busy", "/long", "/s-0000000001"] {
        assert!(
            within("exists", client.check_stat(path))
                .await
                .unwrap()
                .is_some(),
            "{path}"
        );
    }
    within("delete child", client.delete("/busy/child", None))
        .await
        .unwrap();
    eventually("emptied ttl node reaped", STEP, || async {
        client
            .check_stat("/busy")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    // Values the crate refuses to send, through our raw client: ttl out of range, and a ttl
    // with a non-TTL mode on the createTTL opcode.
    let raw = server.raw().await;
    for (mode, ttl) in [
        (RawMode::PersistentWithTtl, 0),
        (RawMode::PersistentWithTtl, -5),
        (RawMode::PersistentWithTtl, 1 << 40),
        (RawMode::Persistent, 1000),
        (RawMode::Ephemeral, 1000),
    ] {
        let reply = raw
            .create_ttl("/bad-ttl", b"", open_acl(), mode, ttl)
            .await
            .unwrap();
        assert_eq!(reply.code(), ErrorCode::BadArguments, "{mode:?} ttl {ttl}");
    }
    let reply = raw
        .create_ttl(
            "/max-ttl",
            b"",
            open_acl(),
            RawMode::PersistentWithTtl,
            (1 << 40) - 1,
        )
        .await
        .unwrap();
    assert_eq!(reply.code(), ErrorCode::Ok);
}

#[tokio::test]
async fn ttl_nodes_are_refused_without_extended_types() {
    let server = Server::start();
    let client = server.client().await;
    let ttl = zk::CreateMode::Persistent
        .with_acls(zk::Acls::anyone_all())
        .with_ttl(Duration::from_secs(10));
    assert_eq!(
        within("ttl", client.create("/t", b"", &ttl)).await,
        Err(zk::Error::Unimplemented)
    );
    // The session survives the refusal and nothing was created.
    assert_eq!(
        within("exists", client.check_stat("/t")).await.unwrap(),
        None
    );
    let mut multi = client.new_multi_writer();
    multi.add_create("/t", b"", &ttl).unwrap();
    match within("multi ttl", multi.commit()).await {
        Err(zk::MultiWriteError::OperationFailed { index: 0, source }) => {
            assert_eq!(source, zk::Error::Unimplemented)
        }
        other => panic!("expected a failed op, got {other:?}"),
    }
}

pub fn open_acl() -> Vec<corral_client::corral_proto::Acl> {
    vec![corral_client::corral_proto::Acl::new(31, "world", "anyone")]
}
