//! Watches: one-shot data, exist and child watches with exactly the right events and zxids,
//! the ordering of an event before the reply that reflects its change, persistent and
//! persistent-recursive watches (addWatch), the removal `zookeeper-client` does when a watcher
//! is dropped, and — through our raw client, since the crate exposes neither — checkWatches /
//! removeWatches with NOWATCHER, exactly-once delivery and setWatches after a reconnect.

use std::time::Duration;

use corral_client::corral_proto::consts::{add_watch_mode, event_type, watcher_type};
use corral_client::corral_proto::records::SetWatches2;
use corral_client::corral_proto::ErrorCode;
use corral_client::Notification;
use zookeeper_client as zk;

use crate::support::*;

/// The event a one-shot watcher got, which must be `kind` on `path`.
async fn expect_event(watcher: zk::OneshotWatcher, kind: zk::EventType, path: &str) -> i64 {
    let event = within("event", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (kind, path),
        "{event:?}"
    );
    assert_eq!(event.session_state, zk::SessionState::SyncConnected);
    event.zxid
}

/// The next event of a persistent watcher, which must be `kind` on `path`.
async fn expect_next(watcher: &mut zk::PersistentWatcher, kind: zk::EventType, path: &str) -> i64 {
    let event = within("persistent event", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (kind, path),
        "{event:?}"
    );
    event.zxid
}

#[tokio::test]
async fn one_shot_watches_fire_once_with_the_firing_zxid() {
    let server = Server::start();
    let watcher = server.client().await;
    let writer = server.client().await;

    // exists on a missing node: NodeCreated, with the create's zxid (3.9 semantics).
    let (stat, created) = within("exists watch", watcher.check_and_watch_stat("/w"))
        .await
        .unwrap();
    assert_eq!(stat, None);
    let (stat, _) = within("create", writer.create("/w", b"", &PERSISTENT))
        .await
        .unwrap();
    assert_eq!(
        expect_event(created, zk::EventType::NodeCreated, "/w").await,
        stat.czxid
    );

    // getData: NodeDataChanged.
    let (_, _, data) = within("data watch", watcher.get_and_watch_data("/w"))
        .await
        .unwrap();
    let stat = within("set", writer.set_data("/w", b"1", None))
        .await
        .unwrap();
    assert_eq!(
        expect_event(data, zk::EventType::NodeDataChanged, "/w").await,
        stat.mzxid
    );

    // exists on a present node also sees data changes.
    let (_, exists) = within("exists watch", watcher.check_and_watch_stat("/w"))
        .await
        .unwrap();
    let stat = within("set", writer.set_data("/w", b"2", None))
        .await
        .unwrap();
    assert_eq!(
        expect_event(exists, zk::EventType::NodeDataChanged, "/w").await,
        stat.mzxid
    );

    // getChildren: NodeChildrenChanged on the parent for a child create and a child delete;
    // a child's data change does not fire it.
    let (_, children) = within("child watch", watcher.list_and_watch_children("/w"))
        .await
        .unwrap();
    let (stat, _) = within("child", writer.create("/w/c", b"", &PERSISTENT))
        .await
        .unwrap();
    assert_eq!(
        expect_event(children, zk::EventType::NodeChildrenChanged, "/w").await,
        stat.czxid
    );
    let (_, _, children) = within("child watch 2", watcher.get_and_watch_children("/w"))
        .await
        .unwrap();
    within("child data", writer.set_data("/w/c", b"x", None))
        .await
        .unwrap();
    within("child delete", writer.delete("/w/c", None))
        .await
        .unwrap();
    expect_event(children, zk::EventType::NodeChildrenChanged, "/w").await;

    // Deleting a node fires NodeDeleted for every kind of watch on it.
    let (_, exists) = within("exists", watcher.check_and_watch_stat("/w"))
        .await
        .unwrap();
    let (_, _, data) = within("data", watcher.get_and_watch_data("/w"))
        .await
        .unwrap();
    let (_, children) = within("children", watcher.list_and_watch_children("/w"))
        .await
        .unwrap();
    let (_, root_children) = within("root children", watcher.list_and_watch_children("/"))
        .await
        .unwrap();
    within("delete", writer.delete("/w", None)).await.unwrap();
    let zxid = expect_event(exists, zk::EventType::NodeDeleted, "/w").await;
    assert_eq!(
        expect_event(data, zk::EventType::NodeDeleted, "/w").await,
        zxid
    );
    assert_eq!(
        expect_event(children, zk::EventType::NodeDeleted, "/w").await,
        zxid
    );
    assert_eq!(
        expect_event(root_children, zk::EventType::NodeChildrenChanged, "/").await,
        zxid
    );

    // Nothing is left armed on the server.
    assert_eq!(server.total_watches().await, 0);
}

#[tokio::test]
async fn an_event_arrives_before_the_reply_that_reflects_its_change() {
    let server = Server::start();
    let client = server.client().await;
    let writer = server.client().await;
    within("create", client.create("/o", b"", &PERSISTENT))
        .await
        .unwrap();

    // Another session's change, then a read on the watching session: the event was queued
    // on the watcher's connection before the read's reply, so it is already delivered.
    let (_, _, watch) = within("watch", client.get_and_watch_data("/o"))
        .await
        .unwrap();
    within("other set", writer.set_data("/o", b"a", None))
        .await
        .unwrap();
    let (data, _) = within("read", client.get_data("/o")).await.unwrap();
    assert_eq!(data, b"a");
    let event = tokio::time::timeout(Duration::ZERO, watch.changed())
        .await
        .expect("the event came before the read's reply");
    assert_eq!(event.event_type, zk::EventType::NodeDataChanged);

    // The session's own write: the event comes before the write's own reply.
    let (_, _, watch) = within("watch", client.get_and_watch_data("/o"))
        .await
        .unwrap();
    let stat = within("own set", client.set_data("/o", b"b", None))
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::ZERO, watch.changed())
        .await
        .expect("the event came before the write's reply");
    assert_eq!(event.zxid, stat.mzxid);
}

#[tokio::test]
async fn persistent_watch_survives_events_and_recreation() {
    let server = Server::start();
    let client = server.client().await;
    let writer = server.client().await;
    let mut watch = within("addWatch", client.watch("/p", zk::AddWatchMode::Persistent))
        .await
        .unwrap();

    for round in 0..2 {
        within("create", writer.create("/p", b"", &PERSISTENT))
            .await
            .unwrap();
        expect_next(&mut watch, zk::EventType::NodeCreated, "/p").await;
        let stat = within("set", writer.set_data("/p", b"x", None))
            .await
            .unwrap();
        assert_eq!(
            expect_next(&mut watch, zk::EventType::NodeDataChanged, "/p").await,
            stat.mzxid
        );
        within("child", writer.create("/p/c", b"", &PERSISTENT))
            .await
            .unwrap();
        expect_next(&mut watch, zk::EventType::NodeChildrenChanged, "/p").await;
        // Not recursive: a child's own changes are not seen.
        within("child set", writer.set_data("/p/c", b"y", None))
            .await
            .unwrap();
        within("grandchild", writer.create("/p/c/g", b"", &PERSISTENT))
            .await
            .unwrap();
        within("grandchild delete", writer.delete("/p/c/g", None))
            .await
            .unwrap();
        within("child delete", writer.delete("/p/c", None))
            .await
            .unwrap();
        expect_next(&mut watch, zk::EventType::NodeChildrenChanged, "/p").await;
        within("delete", writer.delete("/p", None)).await.unwrap();
        expect_next(&mut watch, zk::EventType::NodeDeleted, "/p").await;
        // wchs counts the data-watch table only, where a persistent watch is one entry.
        assert_eq!(
            server.total_watches().await,
            1,
            "round {round}: still armed"
        );
    }
    // Nothing else was queued.
    within("sync", client.sync("/")).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(100), watch.changed())
            .await
            .is_err(),
        "no further event"
    );
    // Dropping the watcher makes the crate remove it on the server.
    drop(watch);
    eventually("watch removed", STEP, || async {
        (server.total_watches().await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn recursive_watch_sees_the_subtree_without_child_events() {
    let server = Server::start();
    let client = server.client().await;
    let writer = server.client().await;
    within("outside", writer.create("/r-sibling", b"", &PERSISTENT))
        .await
        .unwrap();
    let mut watch = within(
        "addWatch",
        client.watch("/r", zk::AddWatchMode::PersistentRecursive),
    )
    .await
    .unwrap();

    within("r", writer.create("/r", b"", &PERSISTENT))
        .await
        .unwrap();
    within("r/a", writer.create("/r/a", b"", &PERSISTENT))
        .await
        .unwrap();
    within("r/a/b", writer.create("/r/a/b", b"", &EPHEMERAL))
        .await
        .unwrap();
    within("set r/a/b", writer.set_data("/r/a/b", b"1", None))
        .await
        .unwrap();
    within("set r", writer.set_data("/r", b"1", None))
        .await
        .unwrap();
    // /r-sibling shares the prefix "/r" but is not under /r.
    within("sibling", writer.set_data("/r-sibling", b"1", None))
        .await
        .unwrap();
    within("delete r/a/b", writer.delete("/r/a/b", None))
        .await
        .unwrap();
    within("delete r/a", writer.delete("/r/a", None))
        .await
        .unwrap();

    for (kind, path) in [
        (zk::EventType::NodeCreated, "/r"),
        (zk::EventType::NodeCreated, "/r/a"),
        (zk::EventType::NodeCreated, "/r/a/b"),
        (zk::EventType::NodeDataChanged, "/r/a/b"),
        (zk::EventType::NodeDataChanged, "/r"),
        (zk::EventType::NodeDeleted, "/r/a/b"),
        (zk::EventType::NodeDeleted, "/r/a"),
    ] {
        expect_next(&mut watch, kind, path).await;
    }
    within("sync", client.sync("/")).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(100), watch.changed())
            .await
            .is_err(),
        "no NodeChildrenChanged, nothing from the sibling"
    );
}

/// Reads every notification already queued on `notifications`, after a ping has made sure
/// everything the server sent before it arrived.
async fn drain(
    client: &corral_client::Client,
    notifications: &mut corral_client::Notifications,
) -> Vec<Notification> {
    within("ping", client.ping()).await.unwrap();
    let mut seen = Vec::new();
    while let Some(n) = notifications.try_recv() {
        seen.push(n);
    }
    seen
}

fn kinds(seen: &[Notification]) -> Vec<(i32, &str)> {
    seen.iter()
        .map(|n| (n.event_type, n.path.as_str()))
        .collect()
}

// zookeeper-client dispatches events to watchers and hides the wire, so exactly-once delivery,
// checkWatches/removeWatches and setWatches are checked with corral-client.
#[tokio::test]
async fn standard_watches_are_consumed_and_removable() {
    let server = Server::start();
    let raw = server.raw().await;
    let mut notifications = raw.take_notifications().unwrap();
    let writer = server.client().await;
    within("create", writer.create("/x", b"", &PERSISTENT))
        .await
        .unwrap();

    // Armed twice, changed three times: one event.
    raw.get_data("/x", true).await.unwrap();
    raw.exists("/x", true).await.unwrap();
    assert_eq!(
        raw.check_watches("/x", watcher_type::DATA)
            .await
            .unwrap()
            .code(),
        ErrorCode::Ok
    );
    assert_eq!(
        raw.check_watches("/x", watcher_type::CHILDREN)
            .await
            .unwrap()
            .code(),
        ErrorCode::NoWatcher
    );
    let mut zxids = Vec::new();
    for i in 0..3 {
        let stat = within("set", writer.set_data("/x", &[i], None))
            .await
            .unwrap();
        zxids.push(stat.mzxid);
    }
    let seen = drain(&raw, &mut notifications).await;
    assert_eq!(kinds(&seen), [(event_type::NODE_DATA_CHANGED, "/x")]);
    assert_eq!(seen[0].zxid, zxids[0]);
    assert_eq!(seen[0].state, 3, "SyncConnected");
    assert_eq!(
        raw.check_watches("/x", watcher_type::DATA)
            .await
            .unwrap()
            .code(),
        ErrorCode::NoWatcher,
        "consumed by the event"
    );

    // removeWatches: removes exactly the named kind; NOWATCHER when there is none.
    raw.get_data("/x", true).await.unwrap();
    raw.get_children("/x", true).await.unwrap();
    let remove = |kind| raw.remove_watches("/x", kind);
    assert_eq!(
        remove(watcher_type::DATA).await.unwrap().code(),
        ErrorCode::Ok
    );
    assert_eq!(
        remove(watcher_type::DATA).await.unwrap().code(),
        ErrorCode::NoWatcher
    );
    assert_eq!(
        raw.check_watches("/x", watcher_type::CHILDREN)
            .await
            .unwrap()
            .code(),
        ErrorCode::Ok,
        "the child watch stays"
    );
    assert_eq!(
        remove(watcher_type::ANY).await.unwrap().code(),
        ErrorCode::Ok
    );
    assert_eq!(
        remove(watcher_type::ANY).await.unwrap().code(),
        ErrorCode::NoWatcher
    );
    assert_eq!(
        raw.check_watches("/nowhere", watcher_type::ANY)
            .await
            .unwrap()
            .code(),
        ErrorCode::NoWatcher
    );
    within("set", writer.set_data("/x", b"", None))
        .await
        .unwrap();
    within("child", writer.create("/x/c", b"", &PERSISTENT))
        .await
        .unwrap();
    assert!(drain(&raw, &mut notifications).await.is_empty());

    // A standard and a persistent watch on one path: one event per change, and only the
    // standard watch is consumed.
    raw.add_watch("/x", add_watch_mode::PERSISTENT)
        .await
        .unwrap();
    raw.get_data("/x", true).await.unwrap();
    for _ in 0..2 {
        within("set", writer.set_data("/x", b"", None))
            .await
            .unwrap();
    }
    let seen = drain(&raw, &mut notifications).await;
    assert_eq!(
        kinds(&seen),
        [
            (event_type::NODE_DATA_CHANGED, "/x"),
            (event_type::NODE_DATA_CHANGED, "/x")
        ]
    );
    assert_eq!(
        raw.check_watches("/x", watcher_type::DATA)
            .await
            .unwrap()
            .code(),
        ErrorCode::NoWatcher
    );
    for (kind, code) in [
        (watcher_type::PERSISTENT_RECURSIVE, ErrorCode::NoWatcher),
        (watcher_type::PERSISTENT, ErrorCode::Ok),
        (watcher_type::PERSISTENT, ErrorCode::NoWatcher),
    ] {
        assert_eq!(remove(kind).await.unwrap().code(), code, "remove {kind}");
    }
    raw.add_watch("/x", add_watch_mode::PERSISTENT_RECURSIVE)
        .await
        .unwrap();
    assert_eq!(
        raw.check_watches("/x", watcher_type::PERSISTENT_RECURSIVE)
            .await
            .unwrap()
            .code(),
        ErrorCode::Ok
    );
    assert_eq!(
        remove(watcher_type::PERSISTENT_RECURSIVE)
            .await
            .unwrap()
            .code(),
        ErrorCode::Ok
    );
    within("set", writer.set_data("/x/c", b"", None))
        .await
        .unwrap();
    assert!(drain(&raw, &mut notifications).await.is_empty());
    assert_eq!(server.total_watches().await, 0);
}

#[tokio::test]
async fn set_watches_catches_up_after_a_reconnect() {
    let server = Server::start();
    let writer = server.client().await;
    for path in [
        "/same",
        "/changed",
        "/gone",
        "/kids",
        "/kids-same",
        "/appeared-later",
    ] {
        if path != "/appeared-later" {
            within("create", writer.create(path, b"", &PERSISTENT))
                .await
                .unwrap();
        }
    }
    let raw = server.raw().await;
    let relative = raw.sync("/").await.unwrap().zxid;
    within("set", writer.set_data("/changed", b"x", None))
        .await
        .unwrap();
    within("delete", writer.delete("/gone", None))
        .await
        .unwrap();
    within("kid", writer.create("/kids/k", b"", &PERSISTENT))
        .await
        .unwrap();
    within("appear", writer.create("/appeared-later", b"", &PERSISTENT))
        .await
        .unwrap();

    // A new connection presents the watches the old one held, relative to the last zxid it
    // saw: changed nodes fire at once (zxid -1, before the reply), the others are re-armed.
    let mut notifications = raw.take_notifications().unwrap();
    let reply = raw
        .set_watches2(SetWatches2 {
            relative_zxid: relative,
            data_watches: vec!["/same".into(), "/changed".into(), "/gone".into()],
            exist_watches: vec!["/appeared-later".into(), "/never".into()],
            child_watches: vec!["/kids".into(), "/kids-same".into(), "/gone".into()],
            persistent_watches: vec!["/p".into()],
            persistent_recursive_watches: vec!["/pr".into()],
        })
        .await
        .unwrap();
    assert_eq!(reply.code(), ErrorCode::Ok);
    let mut seen = Vec::new();
    while let Some(n) = notifications.try_recv() {
        seen.push(n);
    }
    assert!(seen.iter().all(|n| n.zxid == -1), "{seen:?}");
    let mut fired = kinds(&seen);
    fired.sort();
    assert_eq!(
        fired,
        [
            (event_type::NODE_CREATED, "/appeared-later"),
            (event_type::NODE_DELETED, "/gone"),
            (event_type::NODE_DELETED, "/gone"),
            (event_type::NODE_DATA_CHANGED, "/changed"),
            (event_type::NODE_CHILDREN_CHANGED, "/kids"),
        ]
    );
    // Re-armed ones fire later with real zxids.
    let stat = within("set", writer.set_data("/same", b"1", None))
        .await
        .unwrap();
    within("create", writer.create("/never", b"", &PERSISTENT))
        .await
        .unwrap();
    within("kid", writer.create("/kids-same/k", b"", &PERSISTENT))
        .await
        .unwrap();
    within("p", writer.create("/p", b"", &PERSISTENT))
        .await
        .unwrap();
    within("pr", writer.create("/pr", b"", &PERSISTENT))
        .await
        .unwrap();
    within("pr/x", writer.create("/pr/x", b"", &PERSISTENT))
        .await
        .unwrap();
    let seen = drain(&raw, &mut notifications).await;
    assert_eq!(
        kinds(&seen),
        [
            (event_type::NODE_DATA_CHANGED, "/same"),
            (event_type::NODE_CREATED, "/never"),
            (event_type::NODE_CHILDREN_CHANGED, "/kids-same"),
            (event_type::NODE_CREATED, "/p"),
            (event_type::NODE_CREATED, "/pr"),
            (event_type::NODE_CREATED, "/pr/x"),
        ]
    );
    assert_eq!(seen[0].zxid, stat.mzxid);
}
