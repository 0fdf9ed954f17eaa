//! The ordering rules of design.md, checked on one in-process server: replies in request order,
//! writes applied in submission order (zxids increase), a read sees its session's earlier
//! writes, a watch event precedes the reply that reflects its zxid.

use corral_client::corral_proto::consts::{event_type, perms, CreateMode};
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::{Acl, ErrorCode};
use corral_client::{ConnectOptions, WireEvent};

use crate::support::{connect, pinging, start};

fn open() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

#[tokio::test(start_paused = true)]
async fn pipelined_writes_apply_in_submission_order_and_reads_see_them() {
    let (node, _vfs) = start().await;
    let client = connect(&node, pinging(30_000)).await;
    let writes = (0..200).map(|i| {
        let client = &client;
        async move {
            client
                .create(&format!("/n{i:03}"), b"v", open(), CreateMode::Persistent)
                .await
                .unwrap()
        }
    });
    let mut replies = futures::future::join_all(writes).await;
    assert!(replies.iter().all(|r| r.code() == ErrorCode::Ok));
    // `join_all` polls its futures in no set order, so the order on the wire is the xid
    // order (the client's writer assigns xids as it writes), not the order of `replies`.
    replies.sort_by_key(|r| r.xid);
    let zxids: Vec<i64> = replies.iter().map(|r| r.zxid).collect();
    assert!(
        zxids.windows(2).all(|w| w[0] < w[1]),
        "zxids follow submission (xid) order: {zxids:?}"
    );
    // A read right behind the writes sees all of them.
    let children = client.get_children("/", false).await.unwrap();
    let Ok(Response::GetChildren { children }) = children.result else {
        panic!("getChildren failed");
    };
    assert_eq!(children.iter().filter(|c| c.starts_with('n')).count(), 200);
    node.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_watch_event_precedes_the_reply_that_reflects_its_zxid() {
    let (node, _vfs) = start().await;
    let options = ConnectOptions {
        wire_log: true,
        ..pinging(30_000)
    };
    let client = connect(&node, options).await;
    assert_eq!(
        client.exists("/w", true).await.unwrap().code(),
        ErrorCode::NoNode
    );
    let created = client
        .create("/w", b"", open(), CreateMode::Persistent)
        .await
        .unwrap();
    let log = client.take_wire_log();
    let event_at = log
        .iter()
        .position(
            |e| matches!(e, WireEvent::Notification(n) if n.event_type == event_type::NODE_CREATED),
        )
        .expect("NodeCreated delivered");
    let reply_at = log
        .iter()
        .position(|e| matches!(e, WireEvent::Reply { zxid, .. } if *zxid == created.zxid))
        .expect("create reply logged");
    assert!(event_at < reply_at, "event before the reply: {log:?}");
    let WireEvent::Notification(event) = &log[event_at] else {
        unreachable!()
    };
    assert_eq!(
        event.zxid, created.zxid,
        "3.9 sends the txn's zxid with the event"
    );
    node.shutdown().await;
}
