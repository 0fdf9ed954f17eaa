//! Against a real server (Apache ZooKeeper or Corral) at `CORRAL_TEST_ZK_ADDR`; each test
//! returns at once when the variable is not set. Checks what every 3.x server agrees on and
//! prints what differs between versions (notification zxids, the optional readOnly byte).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral_client::corral_proto::consts::{event_type, perms, CreateMode};
use corral_client::corral_proto::multi::MultiResult;
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::{Acl, ErrorCode};
use corral_client::ops::multi_op;
use corral_client::{Client, ClientError, ConnectOptions, WireEvent};

fn server() -> Option<String> {
    std::env::var("CORRAL_TEST_ZK_ADDR").ok()
}

fn open() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

fn unique_root() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("/corral-client-test-{}-{nanos}", std::process::id())
}

#[tokio::test]
async fn basic_operations_watches_and_close() {
    let Some(addr) = server() else { return };
    let options = ConnectOptions {
        wire_log: true,
        timeout_ms: 6000,
        ..ConnectOptions::default()
    };
    let client = Client::connect(&addr, options.clone()).await.unwrap();
    assert_ne!(client.session_id(), 0);
    assert_eq!(client.password().len(), 16);
    println!(
        "negotiated {} ms, readOnly byte {:?}",
        client.negotiated_timeout_ms(),
        client.connect_response().read_only
    );
    let root = unique_root();

    let reply = client
        .create2(&root, b"r", open(), CreateMode::Persistent)
        .await
        .unwrap();
    let Ok(Response::Create2 { path, stat }) = &reply.result else {
        panic!("{reply:?}")
    };
    assert_eq!(path, &root);
    assert_eq!(stat.czxid, reply.zxid);
    assert_eq!(client.last_zxid(), reply.zxid);

    let missing = client
        .exists(&format!("{root}/missing"), false)
        .await
        .unwrap();
    assert_eq!(missing.result, Err(ErrorCode::NoNode));

    let child = format!("{root}/c");
    let reply = client
        .create(&child, b"", open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    let Ok(Response::Create { path: seq_path }) = &reply.result else {
        panic!("{reply:?}")
    };
    assert_eq!(seq_path, &format!("{child}0000000000"));

    let listing = client.get_children2(&root, false).await.unwrap();
    let Ok(Response::GetChildren2 { children, stat }) = &listing.result else {
        panic!("{listing:?}")
    };
    assert_eq!(children, &vec!["c0000000000".to_owned()]);
    assert_eq!(stat.num_children, 1);

    // A data watch fired by another session.
    let watched = client.get_data(&root, true).await.unwrap();
    assert_eq!(watched.stat().unwrap().version, 0);
    let mut notifications = client.take_notifications().unwrap();
    let other = Client::connect(&addr, ConnectOptions::default())
        .await
        .unwrap();
    let set = other.set_data(&root, b"new", 0).await.unwrap();
    assert_eq!(set.stat().unwrap().version, 1);
    let event = tokio::time::timeout(Duration::from_secs(5), notifications.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.event_type, event_type::NODE_DATA_CHANGED);
    assert_eq!(event.path, root);
    println!(
        "notification zxid {} (setData zxid {})",
        event.zxid, set.zxid
    );

    // multi: all or nothing, per-op results.
    let reply = client
        .multi(vec![
            multi_op::check(&root, 1),
            multi_op::delete(&format!("{root}/nope"), -1),
            multi_op::set_data(&root, b"x", -1),
        ])
        .await
        .unwrap();
    assert_eq!(
        reply.result,
        Ok(Response::Multi(vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
            MultiResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );

    // Pipelining: many requests in flight, replies in order.
    let calls: Vec<_> = (0..500)
        .map(|_| {
            let client = client.clone();
            let root = root.clone();
            tokio::spawn(async move { client.exists(&root, false).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().code(), ErrorCode::Ok);
    }

    let ping = client.ping().await.unwrap();
    assert_eq!(ping.xid, -2);

    let reply = other
        .multi(vec![
            multi_op::delete(seq_path, -1),
            multi_op::delete(&root, -1),
        ])
        .await
        .unwrap();
    assert!(matches!(reply.result, Ok(Response::Multi(ref r)) if r.len() == 2));
    other.close().await.unwrap();

    let log = client.take_wire_log();
    assert!(log.iter().any(|e| matches!(e, WireEvent::Notification(_))));
    let close = client.close().await.unwrap();
    assert_eq!(close.result, Ok(Response::Empty));
    let err = client.exists("/", false).await.unwrap_err();
    assert!(matches!(err, ClientError::Closed), "{err}");
}

#[tokio::test]
async fn failed_auth_is_an_error_and_ends_the_connection() {
    let Some(addr) = server() else { return };
    let client = Client::connect(&addr, ConnectOptions::default())
        .await
        .unwrap();
    let err = client.auth("no-such-scheme", b"x").await.unwrap_err();
    assert!(
        matches!(err, ClientError::AuthFailed(ErrorCode::AuthFailed)),
        "{err}"
    );
    let reason = tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .unwrap();
    println!("after AUTHFAILED: {reason}");
}

#[tokio::test]
async fn a_handshake_without_the_read_only_byte() {
    let Some(addr) = server() else { return };
    let options = ConnectOptions {
        read_only: None,
        ..ConnectOptions::default()
    };
    let client = Client::connect(&addr, options).await.unwrap();
    // 3.9 omits the byte in reply; 3.8 and earlier always send it.
    println!(
        "readOnly byte in reply: {:?}",
        client.connect_response().read_only
    );
    assert_eq!(
        client.exists("/", false).await.unwrap().code(),
        ErrorCode::Ok
    );
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_malformed_body_gets_a_reply_or_a_close_not_a_hang() {
    let Some(addr) = server() else { return };
    let client = Client::connect(&addr, ConnectOptions::default())
        .await
        .unwrap();
    // getData whose path length runs past the frame.
    let body = [0, 0, 0, 9, 0, 0, 0, 4, 0x7f, 0, 0, 0];
    let outcome = tokio::time::timeout(Duration::from_secs(5), client.raw_request(&body))
        .await
        .unwrap();
    println!("malformed getData: {outcome:?}");
}
