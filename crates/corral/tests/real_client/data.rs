//! Reads and writes of single nodes: setData and delete with versions (BADVERSION), exists,
//! getData, getChildren with and without stat, NOTEMPTY, NONODE, path checks, sync,
//! getAllChildrenNumber, getEphemerals, whoAmI, the `/zookeeper` built-ins and the data size
//! limit.

use zookeeper_client as zk;

use crate::support::*;

#[tokio::test]
async fn set_data_and_delete_check_versions() {
    let server = Server::start();
    let client = server.client().await;
    let (created, _) = within("create", client.create("/v", b"0", &PERSISTENT))
        .await
        .unwrap();

    let first = within("set v0", client.set_data("/v", b"one", Some(0)))
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    assert!(first.mzxid > created.mzxid);
    assert!(first.mtime >= created.mtime);
    assert_eq!(
        (first.czxid, first.ctime, first.pzxid),
        (created.czxid, created.ctime, created.pzxid),
        "setData changes neither creation fields nor pzxid"
    );
    assert_eq!(first.data_length, 3);
    assert_eq!(
        within("stale version", client.set_data("/v", b"x", Some(0))).await,
        Err(zk::Error::BadVersion)
    );
    let second = within("set any", client.set_data("/v", b"", None))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(second.data_length, 0);
    let (data, stat) = within("get", client.get_data("/v")).await.unwrap();
    assert!(data.is_empty(), "data is replaced entirely");
    assert_eq!(stat, second);
    assert_eq!(
        within("exists", client.check_stat("/v")).await.unwrap(),
        Some(second)
    );

    assert_eq!(
        within("delete stale", client.delete("/v", Some(1))).await,
        Err(zk::Error::BadVersion)
    );
    within("delete v2", client.delete("/v", Some(2)))
        .await
        .unwrap();
    assert_eq!(
        within("exists", client.check_stat("/v")).await.unwrap(),
        None
    );

    // Every single-node operation on a missing node.
    assert_eq!(
        within("get", client.get_data("/v")).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        within("set", client.set_data("/v", b"", None)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        within("delete", client.delete("/v", None)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        within("ls", client.list_children("/v")).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        within("ls2", client.get_children("/v")).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        within("acl", client.get_acl("/v")).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(
        within("count", client.count_descendants_number("/v")).await,
        Err(zk::Error::NoNode)
    );
}

#[tokio::test]
async fn children_listing_and_delete_of_a_parent() {
    let server = Server::start();
    let client = server.client().await;
    within("create", client.create("/d", b"", &PERSISTENT))
        .await
        .unwrap();
    let mut last = None;
    for name in ["b", "a", "c"] {
        let (stat, _) = within(
            "child",
            client.create(&format!("/d/{name}"), b"", &PERSISTENT),
        )
        .await
        .unwrap();
        last = Some(stat);
    }
    within("grandchild", client.create("/d/a/x", b"", &PERSISTENT))
        .await
        .unwrap();

    let names = within("ls", client.list_children("/d")).await.unwrap();
    assert_eq!(sorted(names), ["a", "b", "c"]);
    let (names, stat) = within("ls2", client.get_children("/d")).await.unwrap();
    assert_eq!(sorted(names), ["a", "b", "c"]);
    assert_eq!(stat.num_children, 3);
    assert_eq!(stat.cversion, 3);
    assert_eq!(
        stat.pzxid,
        last.unwrap().czxid,
        "pzxid = the last child create"
    );
    assert!(within("leaf", client.list_children("/d/b"))
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        within("delete parent", client.delete("/d", None)).await,
        Err(zk::Error::NotEmpty)
    );
    assert_eq!(
        within("delete middle", client.delete("/d/a", None)).await,
        Err(zk::Error::NotEmpty)
    );
    assert_eq!(
        within("count", client.count_descendants_number("/d")).await,
        Ok(4)
    );
    assert_eq!(
        within("count leaf", client.count_descendants_number("/d/a/x")).await,
        Ok(0)
    );

    within("delete x", client.delete("/d/a/x", None))
        .await
        .unwrap();
    within("delete a", client.delete("/d/a", None))
        .await
        .unwrap();
    let (_, after) = within("ls2", client.get_children("/d")).await.unwrap();
    assert_eq!(after.num_children, 2);
    assert_eq!(after.cversion, 4, "3 creations + 1 deletion");
    assert!(after.pzxid > stat.pzxid, "a child delete moves pzxid");
    assert_eq!(after.version, 0, "children do not touch the data version");
}

#[tokio::test]
async fn path_checks_differ_between_reads_and_writes() {
    let server = Server::start();
    let client = server.client().await;
    within("create", client.create("/ok", b"", &PERSISTENT))
        .await
        .unwrap();
    let bad = "/ok/\u{1F600}";
    // Reads do not validate: the node is simply not there.
    assert_eq!(
        within("get", client.get_data(bad)).await,
        Err(zk::Error::NoNode)
    );
    assert_eq!(within("exists", client.check_stat(bad)).await, Ok(None));
    // setData and setACL validate the path first.
    match within("set", client.set_data(bad, b"", None)).await {
        Err(zk::Error::BadArguments(_)) => {}
        other => panic!("setData: expected BADARGUMENTS, got {other:?}"),
    }
    match within(
        "setACL",
        client.set_acl(bad, zk::Acls::anyone_all().as_ref(), None),
    )
    .await
    {
        Err(zk::Error::BadArguments(_)) => {}
        other => panic!("setACL: expected BADARGUMENTS, got {other:?}"),
    }
    // delete only does the light check: a bad name is just missing.
    assert_eq!(
        within("delete", client.delete(bad, None)).await,
        Err(zk::Error::NoNode)
    );
}

#[tokio::test]
async fn zookeeper_builtins() {
    let server = Server::start();
    let client = server.client().await;

    let (names, root) = within("ls /", client.get_children("/")).await.unwrap();
    assert_eq!(names, ["zookeeper"]);
    assert_eq!(root.num_children, 1);
    let (names, zookeeper) = within("ls /zookeeper", client.get_children("/zookeeper"))
        .await
        .unwrap();
    assert_eq!(sorted(names), ["config", "quota"]);
    assert_eq!(zookeeper.num_children, 2);
    assert_eq!(zookeeper.ephemeral_owner, 0);
    assert_eq!(
        within("count /", client.count_descendants_number("/")).await,
        Ok(3),
        "/zookeeper, /zookeeper/quota, /zookeeper/config"
    );

    // /zookeeper/config: empty in standalone, world-readable only.
    let (data, _) = within("config", client.get_config()).await.unwrap();
    assert!(data.is_empty());
    let (acl, stat) = within("config acl", client.get_acl("/zookeeper/config"))
        .await
        .unwrap();
    assert_eq!(acl, zk::Acls::anyone_read().to_vec());
    assert_eq!(stat.aversion, -1, "set by setACL(..., -1) at startup");
    assert_eq!(
        within(
            "write config",
            client.set_data("/zookeeper/config", b"x", None)
        )
        .await,
        Err(zk::Error::NoAuth)
    );
    assert_eq!(
        within(
            "child of config",
            client.create("/zookeeper/config/x", b"", &PERSISTENT)
        )
        .await,
        Err(zk::Error::NoAuth)
    );
    let (acl, _) = within("zookeeper acl", client.get_acl("/zookeeper"))
        .await
        .unwrap();
    assert_eq!(acl, zk::Acls::anyone_all().to_vec());

    // The built-ins cannot be deleted; nodes may be created under /zookeeper (quota tools do).
    for path in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        match within("delete builtin", client.delete(path, None)).await {
            Err(zk::Error::BadArguments(_)) => {}
            other => panic!("delete {path}: expected BADARGUMENTS, got {other:?}"),
        }
    }
    within(
        "create under /zookeeper",
        client.create("/zookeeper/mine", b"", &PERSISTENT),
    )
    .await
    .unwrap();
    within("delete it", client.delete("/zookeeper/mine", None))
        .await
        .unwrap();
}

#[tokio::test]
async fn ephemerals_who_am_i_and_sync() {
    let server = Server::start();
    let client = server.client().await;
    let other = server.client().await;
    within("dir", client.create("/eph", b"", &PERSISTENT))
        .await
        .unwrap();
    within("a", client.create("/eph/a", b"", &EPHEMERAL))
        .await
        .unwrap();
    let (_, seq) = within("b", client.create("/eph/b-", b"", &EPHEMERAL_SEQUENTIAL))
        .await
        .unwrap();
    within("top", client.create("/ephemeral-top", b"", &EPHEMERAL))
        .await
        .unwrap();
    within("persistent", client.create("/eph/p", b"", &PERSISTENT))
        .await
        .unwrap();
    within("other's", other.create("/eph/o", b"", &EPHEMERAL))
        .await
        .unwrap();

    // The prefix is compared as a string, not as a path: "/eph" also matches "/ephemeral-top".
    let b = format!("/eph/b-{seq}");
    let all = sorted(within("all", client.list_ephemerals("/")).await.unwrap());
    assert_eq!(
        all,
        ["/eph/a".to_owned(), b.clone(), "/ephemeral-top".to_owned()]
    );
    let prefixed = sorted(
        within("prefix", client.list_ephemerals("/eph"))
            .await
            .unwrap(),
    );
    assert_eq!(prefixed, all);
    assert_eq!(
        within("prefix", client.list_ephemerals("/ephemeral"))
            .await
            .unwrap(),
        ["/ephemeral-top"]
    );
    assert_eq!(
        within("prefix", client.list_ephemerals("/eph/b"))
            .await
            .unwrap(),
        [b]
    );
    assert!(within("none", client.list_ephemerals("/eph/p"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        within("other", other.list_ephemerals("/")).await.unwrap(),
        ["/eph/o"]
    );

    let users = within("whoami", client.list_auth_users()).await.unwrap();
    assert_eq!(users, [zk::AuthUser::new("ip", "127.0.0.1")]);
    within("auth", client.auth("digest", BOB.as_bytes()))
        .await
        .unwrap();
    let users = within("whoami", client.list_auth_users()).await.unwrap();
    assert_eq!(users.len(), 2, "{users:?}");
    assert!(users.contains(&zk::AuthUser::new("ip", "127.0.0.1")));
    assert!(users.contains(&zk::AuthUser::new("digest", "bob")));

    // sync neither checks nor needs the path.
    within("sync", client.sync("/eph")).await.unwrap();
    within("sync missing", client.sync("/no/such/node"))
        .await
        .unwrap();
    // A read after another session's write and a sync sees the write.
    within("other writes", other.set_data("/eph/o", b"new", None))
        .await
        .unwrap();
    within("sync", client.sync("/")).await.unwrap();
    let (data, _) = within("read", client.get_data("/eph/o")).await.unwrap();
    assert_eq!(data, b"new");
}

#[tokio::test]
async fn data_up_to_the_frame_limit() {
    let mut server = Server::start();
    let client = server.client().await;
    let big = vec![0x5a_u8; 1_000_000];
    let (stat, _) = within("create big", client.create("/big", &big, &PERSISTENT))
        .await
        .unwrap();
    assert_eq!(stat.data_length, 1_000_000);
    let (data, _) = within("get big", client.get_data("/big")).await.unwrap();
    assert_eq!(data, big);

    // A request frame above jute.maxbuffer makes the server drop the connection without a
    // reply; the client reconnects to the same session and carries on.
    let session = client.session_id();
    let huge = vec![1_u8; 1_100_000];
    let result = within("oversize", client.set_data("/big", &huge, None)).await;
    // The server closes the connection as soon as it reads the frame's length; whether the
    // client notices while it is still writing the body (a broken pipe) or afterwards
    // (connection loss) depends on scheduling.
    let lost = match &result {
        Err(zk::Error::ConnectionLoss) => true,
        Err(zk::Error::Custom(error)) => format!("{error:?}").contains("BrokenPipe"),
        _ => false,
    };
    assert!(lost, "expected the connection to be lost, got {result:?}");
    let (data, stat) = within("get after reconnect", client.get_data("/big"))
        .await
        .unwrap();
    assert_eq!(data.len(), 1_000_000);
    assert_eq!(stat.version, 0, "the oversize write was not applied");
    assert_eq!(client.session_id(), session);
    server.assert_healthy().await;
}
