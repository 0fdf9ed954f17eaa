//! multi (atomic writes with check) and multiRead: results per op on success, nothing applied
//! on failure, and the per-op error list ZooKeeper sends (seen through our raw client, since
//! `zookeeper-client` reports only the first failing op).

use corral_client::corral_proto::consts::CreateMode as RawMode;
use corral_client::corral_proto::multi::MultiResult;
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::ErrorCode;
use corral_client::ops::multi_op;
use zookeeper_client as zk;

use crate::create::open_acl;
use crate::support::*;

#[tokio::test]
async fn multi_applies_every_op_at_one_zxid() {
    let server = Server::start();
    let client = server.client().await;
    within("m", client.create("/m", b"", &PERSISTENT))
        .await
        .unwrap();
    within("old", client.create("/m/old", b"", &PERSISTENT))
        .await
        .unwrap();

    let mut multi = client.new_multi_writer();
    multi.add_create("/m/a", b"x", &PERSISTENT).unwrap();
    multi.add_set_data("/m/a", b"y", Some(0)).unwrap();
    multi.add_check_version("/m/a", 1).unwrap();
    multi.add_create("/m/a/e", b"", &EPHEMERAL).unwrap();
    multi
        .add_create("/m/seq-", b"", &PERSISTENT_SEQUENTIAL)
        .unwrap();
    multi.add_delete("/m/old", Some(0)).unwrap();
    let results = within("commit", multi.commit()).await.unwrap();
    let [zk::MultiWriteResult::Create {
        path: a_path,
        stat: a_stat,
    }, zk::MultiWriteResult::SetData { stat: set_stat }, zk::MultiWriteResult::Check, zk::MultiWriteResult::Create {
        path: e_path,
        stat: e_stat,
    }, zk::MultiWriteResult::Create {
        path: seq_path,
        stat: seq_stat,
    }, zk::MultiWriteResult::Delete] = &results[..]
    else {
        panic!("unexpected results {results:?}");
    };
    assert_eq!(a_path, "/m/a");
    assert_eq!(e_path, "/m/a/e");
    // /m had one creation (old) and then /m/a: the sequential child is its third.
    assert_eq!(seq_path, "/m/seq-0000000002");
    let zxid = a_stat.czxid;
    for stat in [e_stat, seq_stat] {
        assert_eq!(stat.czxid, zxid, "one zxid for the whole multi");
    }
    assert_eq!(set_stat.mzxid, zxid);
    assert_eq!(set_stat.version, 1);
    assert_eq!(e_stat.ephemeral_owner, client.session_id().0);

    let (data, stat) = within("get", client.get_data("/m/a")).await.unwrap();
    assert_eq!(data, b"y");
    assert_eq!((stat.version, stat.mzxid), (1, zxid));
    // The setData result is the stat as of that op: the child came after it.
    assert_eq!((set_stat.num_children, stat.num_children), (0, 1));
    let children = sorted(within("ls", client.list_children("/m")).await.unwrap());
    assert_eq!(children, ["a", "seq-0000000002"]);
    let (_, parent) = within("ls2", client.get_children("/m")).await.unwrap();
    assert_eq!(parent.pzxid, zxid);

    // CheckWriter: a multi guarded by a leading check.
    let mut guarded = client.new_check_writer("/m/a", Some(1)).unwrap();
    guarded.add_set_data("/m/a", b"z", None).unwrap();
    let results = within("guarded", guarded.commit()).await.unwrap();
    assert!(matches!(
        &results[..],
        [zk::MultiWriteResult::SetData { stat }] if stat.version == 2
    ));
    let mut stale = client.new_check_writer("/m/a", Some(1)).unwrap();
    stale.add_set_data("/m/a", b"never", None).unwrap();
    match within("stale guard", stale.commit()).await {
        Err(zk::CheckWriteError::CheckFailed { source }) => {
            assert_eq!(source, zk::Error::BadVersion)
        }
        other => panic!("expected a failed check, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_multi_applies_nothing() {
    let server = Server::start();
    let client = server.client().await;
    let watcher = server.client().await;
    within("m", client.create("/m", b"", &PERSISTENT))
        .await
        .unwrap();
    let (_, before) = within("ls2", client.get_children("/m")).await.unwrap();
    let (_, _, children_watch) = within("watch", watcher.get_and_watch_children("/m"))
        .await
        .unwrap();

    for (index, expected, build) in [
        (
            1,
            zk::Error::BadVersion,
            Box::new(|m: &mut zk::MultiWriter<'_>| {
                m.add_create("/m/c", b"", &PERSISTENT).unwrap();
                m.add_set_data("/m", b"", Some(7)).unwrap();
                m.add_create("/m/d", b"", &PERSISTENT).unwrap();
            }) as Box<dyn Fn(&mut zk::MultiWriter<'_>)>,
        ),
        (
            2,
            zk::Error::NodeExists,
            Box::new(|m: &mut zk::MultiWriter<'_>| {
                m.add_create("/m/c", b"", &PERSISTENT).unwrap();
                m.add_create("/m/c/d", b"", &PERSISTENT).unwrap();
                m.add_create("/m/c", b"", &PERSISTENT).unwrap();
            }),
        ),
        (
            0,
            zk::Error::NoNode,
            Box::new(|m: &mut zk::MultiWriter<'_>| {
                m.add_check_version("/missing", -1).unwrap();
                m.add_create("/m/c", b"", &PERSISTENT).unwrap();
            }),
        ),
        (
            1,
            zk::Error::NotEmpty,
            Box::new(|m: &mut zk::MultiWriter<'_>| {
                m.add_create("/m/c", b"", &PERSISTENT).unwrap();
                m.add_delete("/", None).unwrap_err();
                m.add_delete("/m", None).unwrap();
            }),
        ),
        (
            1,
            zk::Error::NoChildrenForEphemerals,
            Box::new(|m: &mut zk::MultiWriter<'_>| {
                m.add_create("/m/e", b"", &EPHEMERAL).unwrap();
                m.add_create("/m/e/c", b"", &PERSISTENT).unwrap();
            }),
        ),
    ] {
        let mut multi = client.new_multi_writer();
        build(&mut multi);
        match within("failing multi", multi.commit()).await {
            Err(zk::MultiWriteError::OperationFailed { index: i, source }) => {
                assert_eq!((i, source), (index, expected.clone()));
            }
            other => panic!("expected op {index} to fail with {expected:?}, got {other:?}"),
        }
    }
    let (children, after) = within("ls2", client.get_children("/m")).await.unwrap();
    assert!(children.is_empty(), "{children:?}");
    assert_eq!(after, before, "failed multis change no stat");

    // The per-op results ZooKeeper sends: ops before the failure 0, the failing op its code,
    // the ops after it RUNTIMEINCONSISTENCY; the reply header itself is OK.
    let raw = server.raw().await;
    let reply = raw
        .multi(vec![
            multi_op::create("/m/c", b"", open_acl(), RawMode::Persistent),
            multi_op::check("/m", 5),
            multi_op::delete("/m/c", -1),
            multi_op::set_data("/m", b"", -1),
        ])
        .await
        .unwrap();
    assert_eq!(
        reply.result,
        Ok(Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::BadVersion),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
    // An empty multi is legal and answers an empty list.
    let reply = raw.multi(Vec::new()).await.unwrap();
    assert_eq!(reply.result, Ok(Response::Multi(Vec::new())));
    // Plain create (type 1) in a multi answers a path only; create2 a path and a stat.
    let reply = raw
        .multi(vec![
            multi_op::create("/m/one", b"", open_acl(), RawMode::Persistent),
            multi_op::create2("/m/two", b"", open_acl(), RawMode::Persistent),
        ])
        .await
        .unwrap();
    let Ok(Response::Multi(results)) = reply.result else {
        panic!("{reply:?}");
    };
    assert_eq!(
        results[0],
        MultiResult::Create {
            path: "/m/one".into()
        }
    );
    assert!(
        matches!(&results[1], MultiResult::Create2 { path, stat } if path == "/m/two" && stat.czxid == reply.zxid)
    );

    // Nothing fired for the failed multis: the first event is the successful one.
    let event = within("child event", children_watch.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeChildrenChanged);
    assert_eq!(event.zxid, reply.zxid);
}

#[tokio::test]
async fn multi_read_answers_each_op_independently() {
    let server = Server::start();
    let client = server.client().await;
    within("r", client.create("/r", b"root", &PERSISTENT))
        .await
        .unwrap();
    within("r/a", client.create("/r/a", b"a", &PERSISTENT))
        .await
        .unwrap();

    let mut reader = client.new_multi_reader();
    reader.add_get_data("/r").unwrap();
    reader.add_get_children("/r").unwrap();
    reader.add_get_data("/missing").unwrap();
    reader.add_get_children("/missing").unwrap();
    reader.add_get_data("/r/a").unwrap();
    let results = within("multiRead", reader.commit()).await.unwrap();
    let (_, r_stat) = within("get", client.get_data("/r")).await.unwrap();
    match &results[..] {
        [zk::MultiReadResult::Data { data, stat }, zk::MultiReadResult::Children { children }, zk::MultiReadResult::Error {
            err: zk::Error::NoNode,
        }, zk::MultiReadResult::Error {
            err: zk::Error::NoNode,
        }, zk::MultiReadResult::Data { data: a, .. }] => {
            assert_eq!(data, b"root");
            assert_eq!(stat, &r_stat);
            assert_eq!(children, &["a"]);
            assert_eq!(a, b"a");
        }
        other => panic!("unexpected multiRead results {other:?}"),
    }
}
