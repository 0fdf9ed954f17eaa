//! Sessions live and expire on the server's clock: here a virtual one.

use std::time::Duration;

use corral_client::corral_proto::consts::{event_type, perms, CreateMode};
use corral_client::corral_proto::{Acl, ErrorCode};

use crate::support::{connect, pinging, silent, start};

fn open() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

#[tokio::test(start_paused = true)]
async fn a_silent_session_expires_after_its_timeout_and_takes_its_ephemerals() {
    let (node, _vfs) = start().await;
    // tickTime 2000: the smallest timeout is 4000 ms; expiry is rounded up to a tick.
    let doomed = connect(&node, silent(4_000)).await;
    let watcher = connect(&node, pinging(40_000)).await;
    assert_eq!(doomed.negotiated_timeout_ms(), 4_000);
    let created = doomed
        .create("/e", b"x", open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(created.code(), ErrorCode::Ok);
    let mut events = watcher.take_notifications().unwrap();
    assert_eq!(
        watcher.exists("/e", true).await.unwrap().code(),
        ErrorCode::Ok
    );

    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert!(doomed.close_reason().is_none(), "alive before its timeout");
    assert_eq!(
        watcher.exists("/e", false).await.unwrap().code(),
        ErrorCode::Ok
    );

    let started = tokio::time::Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(30), doomed.closed())
        .await
        .expect("the server closes an expired session's connection");
    let waited = started.elapsed() + Duration::from_millis(3_000);
    assert!(
        waited >= Duration::from_millis(4_000) && waited <= Duration::from_millis(8_000),
        "expired after {waited:?}, between timeout and timeout + 2 ticks"
    );
    let deleted = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("watch fires")
        .expect("event");
    assert_eq!(deleted.event_type, event_type::NODE_DELETED);
    assert_eq!(deleted.path, "/e");
    assert_eq!(
        watcher.exists("/e", false).await.unwrap().code(),
        ErrorCode::NoNode
    );
    let dump = node.status().session_dump();
    let live: Vec<i64> = dump
        .by_deadline
        .iter()
        .flat_map(|(_, ids)| ids.clone())
        .collect();
    assert!(!live.contains(&doomed.session_id()), "{live:?}");
    assert!(live.contains(&watcher.session_id()));
    node.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn pings_keep_a_session_alive_far_past_its_timeout() {
    let (node, _vfs) = start().await;
    let client = connect(&node, pinging(4_000)).await;
    client
        .create("/kept", b"", open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(
        client.close_reason().is_none(),
        "closed: {:?}",
        client.close_reason()
    );
    assert_eq!(
        client.exists("/kept", false).await.unwrap().code(),
        ErrorCode::Ok
    );
    node.shutdown().await;
}
