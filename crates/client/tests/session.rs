//! Handshake, ping, auth and closeSession against a scripted fake server.

mod support;

use std::time::Duration;

use corral_client::corral_proto::consts::xid;
use corral_client::corral_proto::request::Request;
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::{ErrorCode, OpCode};
use corral_client::{Client, ClientError, ConnectOptions};
use support::{listen, FakeConn, PASSWORD, SESSION_ID};

fn options() -> ConnectOptions {
    ConnectOptions {
        ping: false,
        ..ConnectOptions::default()
    }
}

#[tokio::test]
async fn handshake_with_read_only_byte() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = FakeConn::accept(&listener).await;
        let (request, body_len) = conn.handshake(4000).await;
        (request, body_len, conn)
    });
    let options = ConnectOptions {
        timeout_ms: 5000,
        last_zxid_seen: 0x33,
        read_only: Some(true),
        ..options()
    };
    let client = Client::connect(&addr, options).await.unwrap();
    let (request, body_len, _conn) = server.await.unwrap();
    assert_eq!(body_len, 45);
    assert_eq!(request.read_only, Some(true));
    assert_eq!(request.timeout_ms, 5000);
    assert_eq!(request.last_zxid_seen, 0x33);
    assert_eq!(request.session_id, 0);
    assert_eq!(request.password.as_deref(), Some(&[0u8; 16][..]));
    assert_eq!(client.session_id(), SESSION_ID);
    assert_eq!(&client.password()[..], &PASSWORD);
    assert_eq!(client.negotiated_timeout_ms(), 4000);
    assert_eq!(client.connect_response().read_only, Some(false));
    assert_eq!(client.last_zxid(), 0x33);
}

#[tokio::test]
async fn handshake_without_read_only_byte() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = FakeConn::accept(&listener).await;
        let (request, body_len) = conn.handshake(4000).await;
        (request, body_len, conn)
    });
    let options = ConnectOptions {
        read_only: None,
        session_id: 77,
        password: Some(bytes::Bytes::from_static(&[5; 16])),
        ..options()
    };
    let client = Client::connect(&addr, options).await.unwrap();
    let (request, body_len, _conn) = server.await.unwrap();
    assert_eq!(body_len, 44);
    assert_eq!(request.read_only, None);
    assert_eq!(request.session_id, 77);
    assert_eq!(request.password.as_deref(), Some(&[5u8; 16][..]));
    // The server answered the 36-byte form.
    assert_eq!(client.connect_response().read_only, None);
}

#[tokio::test]
async fn zero_timeout_means_expired_and_close_means_refused() {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let mut conn = FakeConn::accept(&listener).await;
        conn.handshake(0).await;
        let mut conn = FakeConn::accept(&listener).await;
        conn.read_frame().await;
        drop(conn);
    });
    let err = Client::connect(&addr, options()).await.unwrap_err();
    assert!(
        matches!(err, ClientError::SessionExpired { timeout_ms: 0 }),
        "{err}"
    );
    let err = Client::connect(&addr, options()).await.unwrap_err();
    assert!(matches!(err, ClientError::HandshakeRefused), "{err}");
}

#[tokio::test]
async fn connect_to_nothing_fails_cleanly() {
    let (listener, addr) = listen().await;
    drop(listener);
    let err = Client::connect(&addr, options()).await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn pings_after_a_third_of_the_timeout_of_send_idleness() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = FakeConn::accept(&listener).await;
        conn.handshake(300).await;
        let started = tokio::time::Instant::now();
        let mut pings = 0;
        while pings < 3 {
            let request = conn.read_request().await;
            assert_eq!(request.xid, xid::PING);
            assert_eq!(request.op, OpCode::Ping);
            conn.reply(xid::PING, 9, Ok(Response::Empty)).await;
            pings += 1;
        }
        started.elapsed()
    });
    let options = ConnectOptions {
        ping: true,
        ..options()
    };
    let client = Client::connect(&addr, options).await.unwrap();
    let elapsed = server.await.unwrap();
    // Three pings at ~100 ms intervals.
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(client.close_reason().is_none());
    // Ping replies do not move lastZxid (as in the Java client).
    assert_eq!(client.last_zxid(), 0);
}

#[tokio::test]
async fn a_silent_server_is_given_up_after_two_thirds_of_the_timeout() {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let mut conn = FakeConn::accept(&listener).await;
        conn.handshake(300).await;
        while conn.read_frame().await.is_some() {}
    });
    let options = ConnectOptions {
        ping: true,
        ..options()
    };
    let client = Client::connect(&addr, options).await.unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .unwrap();
    assert!(
        matches!(reason, ClientError::ReadTimeout { .. }),
        "{reason}"
    );
    let err = client.exists("/", false).await.unwrap_err();
    assert!(matches!(err, ClientError::ReadTimeout { .. }), "{err}");
}

#[tokio::test]
async fn explicit_ping_and_auth_use_their_own_lanes() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = FakeConn::accept(&listener).await;
        conn.handshake(30_000).await;
        let get = conn.read_request().await;
        let auth = conn.read_request().await;
        assert_eq!(auth.xid, xid::AUTH);
        let Request::Auth(packet) = &auth.request else {
            panic!("{auth:?}")
        };
        assert_eq!(packet.scheme, "digest");
        assert_eq!(packet.auth.as_deref(), Some(&b"u:p"[..]));
        // Apache ZooKeeper answers auth from its network thread, ahead of earlier requests.
        conn.reply(xid::AUTH, 0, Ok(Response::Empty)).await;
        conn.reply(get.xid, 5, Err(ErrorCode::NoNode)).await;
        let ping = conn.read_request().await;
        assert_eq!(ping.xid, xid::PING);
        conn.reply(xid::PING, 5, Ok(Response::Empty)).await;
        let auth = conn.read_request().await;
        conn.reply(auth.xid, 0, Err(ErrorCode::AuthFailed)).await;
        conn
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    let get = tokio::spawn({
        let client = client.clone();
        async move { client.get_data("/missing", false).await }
    });
    // Make sure the getData goes out first.
    while client.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let auth = client.auth("digest", b"u:p").await.unwrap();
    assert_eq!(auth.xid, xid::AUTH);
    let get = get.await.unwrap().unwrap();
    assert_eq!(get.result, Err(ErrorCode::NoNode));
    assert_eq!(get.zxid, 5);
    let ping = client.ping().await.unwrap();
    assert_eq!((ping.xid, ping.zxid), (xid::PING, 5));
    let err = client.auth("digest", b"u:wrong").await.unwrap_err();
    assert!(
        matches!(err, ClientError::AuthFailed(ErrorCode::AuthFailed)),
        "{err}"
    );
    let _conn = server.await.unwrap();
}

#[tokio::test]
async fn close_sends_close_session_and_waits_for_its_reply() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = FakeConn::accept(&listener).await;
        conn.handshake(30_000).await;
        let close = conn.read_request().await;
        assert_eq!(close.op, OpCode::CloseSession);
        assert_eq!(close.xid, 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        conn.reply(close.xid, 12, Ok(Response::Empty)).await;
        drop(conn);
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    let reply = client.close().await.unwrap();
    assert_eq!((reply.xid, reply.zxid), (1, 12));
    assert_eq!(reply.result, Ok(Response::Empty));
    server.await.unwrap();
    let err = client.exists("/", false).await.unwrap_err();
    assert!(matches!(err, ClientError::Closed), "{err}");
    assert!(matches!(client.closed().await, ClientError::Closed));
}
