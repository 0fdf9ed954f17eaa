//! App requests and ordered app streams.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_peer::PeerError;

use crate::common::*;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_request_gets_its_answer() {
    let server = TestServer::start().await;
    let net = network(config(CLIENT_ID));
    let link = net.app_link(SERVER_ID, server.addr.to_string());
    assert_eq!(link.target(), SERVER_ID);
    let answer = link.request(Bytes::from_static(b"hi"), SECOND).await;
    assert_eq!(answer.expect("answer"), Bytes::from_static(b"1 said hi"));

    match link.request(Bytes::from_static(b"fail"), SECOND).await {
        Err(PeerError::Remote { peer, reason }) => {
            assert_eq!(peer, SERVER_ID);
            assert_eq!(reason, "no such thing");
        }
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unanswered_request_times_out_and_the_link_still_works() {
    let server = TestServer::start().await;
    let net = network(config(CLIENT_ID));
    let link = net.app_link(SERVER_ID, server.addr.to_string());
    let started = Instant::now();
    let timeout = Duration::from_millis(200);
    let err = link
        .request(Bytes::from_static(b"hang"), timeout)
        .await
        .unwrap_err();
    assert!(matches!(err, PeerError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < SECOND);
    let answer = link.request(Bytes::from_static(b"again"), SECOND).await;
    assert_eq!(answer.expect("answer"), Bytes::from_static(b"1 said again"));
    server.stop().await;
}

#[tokio::test]
async fn concurrent_requests_are_all_answered() {
    let server = TestServer::start().await;
    let net = network(config(CLIENT_ID));
    let link = net.app_link(SERVER_ID, server.addr.to_string());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let link = link.clone();
        tasks.spawn(async move {
            let body = Bytes::from(format!("{i}"));
            (i, link.request(body, Duration::from_secs(5)).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, answer) = joined.expect("task");
        assert_eq!(answer.expect("answer"), Bytes::from(format!("1 said {i}")));
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unreachable_peer_fails_requests_and_streams() {
    let addr = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("addr")
    };
    let net = network(config(CLIENT_ID));
    let link = net.app_link(SERVER_ID, addr.to_string());
    let err = link.request(Bytes::new(), SECOND).await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    let err = link.open_stream().await.err().expect("no stream");
    assert!(err.is_unreachable(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_keeps_the_order_of_10000_messages() {
    let server = TestServer::start().await;
    let net = network(config(CLIENT_ID));
    let link = net.app_link(SERVER_ID, server.addr.to_string());
    let stream = link.open_stream().await.expect("stream");
    let sent: Vec<Bytes> = (0..10_000).map(|i| Bytes::from(format!("m{i}"))).collect();
    for body in &sent {
        stream.send(body.clone()).await.expect("send");
    }
    let handler = server.handler.clone();
    let all = eventually(Duration::from_secs(20), || {
        handler.messages.lock().len() >= sent.len()
    })
    .await;
    assert!(all, "{} arrived", handler.messages.lock().len());
    assert!(*handler.messages.lock() == sent, "out of order");
    assert!(!stream.is_broken());
    server.stop().await;
}

/// The receiver's handler refuses a message: the stream closes, the sender sees it broken,
/// and nothing after the refused message is handled, even if sent later.
#[tokio::test]
async fn a_refused_message_breaks_the_stream_for_good() {
    let server = TestServer::start().await;
    let net = network(config(CLIENT_ID));
    let link = net.app_link(SERVER_ID, server.addr.to_string());
    let stream = link.open_stream().await.expect("stream");
    for body in ["a", "b", "poison", "c"] {
        stream.send(Bytes::from(body)).await.expect("send");
    }
    let reason = tokio::time::timeout(Duration::from_secs(5), stream.closed())
        .await
        .expect("the stream broke");
    assert!(reason.contains("poisoned message"), "{reason}");
    assert!(stream.is_broken());
    match stream.send(Bytes::from_static(b"d")).await {
        Err(PeerError::StreamBroken { peer, reason }) => {
            assert_eq!(peer, SERVER_ID);
            assert!(reason.contains("poisoned message"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        stream.try_send(Bytes::from_static(b"e")),
        Err(PeerError::StreamBroken { .. })
    ));
    let handled: Vec<Bytes> = server.handler.messages.lock().clone();
    assert_eq!(handled, [Bytes::from("a"), Bytes::from("b")]);

    // A new stream is the caller's explicit choice, and works.
    let again = link.open_stream().await.expect("new stream");
    again.send(Bytes::from_static(b"f")).await.expect("send");
    let handler = Arc::clone(&server.handler);
    assert!(eventually(SECOND * 5, || handler.messages.lock().len() == 3).await);
    server.stop().await;
}

/// A stream whose server goes away breaks, and stays broken after the server returns.
#[tokio::test]
async fn a_stream_never_reconnects() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let net = network(config(CLIENT_ID));
    let link = net.app_link(SERVER_ID, addr.to_string());
    let stream = link.open_stream().await.expect("stream");
    stream.send(Bytes::from_static(b"1")).await.expect("send");
    let (handler, snapshots) = server.stop().await;
    tokio::time::timeout(Duration::from_secs(5), stream.closed())
        .await
        .expect("the stream broke");
    let server = TestServer::restart_at(addr, config(SERVER_ID), handler, snapshots).await;
    assert!(stream.send(Bytes::from_static(b"2")).await.is_err());
    server.stop().await;
}

/// A full queue: `try_send` says so without breaking the stream.
#[tokio::test]
async fn try_send_reports_a_full_queue() {
    let server = TestServer::start().await;
    let mut small = config(CLIENT_ID);
    small.stream_queue_max = 1;
    let net = network(small);
    let link = net.app_link(SERVER_ID, server.addr.to_string());
    let stream = link.open_stream().await.expect("stream");
    // On this single-threaded runtime the writer task cannot run between these calls.
    stream
        .try_send(Bytes::from_static(b"1"))
        .expect("room for one");
    let full = stream.try_send(Bytes::from_static(b"2"));
    assert!(matches!(full, Err(PeerError::QueueFull { .. })), "{full:?}");
    assert!(!stream.is_broken());
    stream
        .send(Bytes::from_static(b"3"))
        .await
        .expect("send waits");
    let handler = Arc::clone(&server.handler);
    assert!(eventually(SECOND * 5, || handler.messages.lock().len() == 2).await);
    server.stop().await;
}

/// A message over frame_bytes_max is refused without breaking the stream.
#[tokio::test]
async fn an_oversize_message_is_refused_and_the_stream_survives() {
    let mut small = config(SERVER_ID);
    small.frame_bytes_max = 1024;
    let server = TestServer::start_with(small.clone()).await;
    let mut client_config = config(CLIENT_ID);
    client_config.frame_bytes_max = 1024;
    let net = network(client_config);
    let link = net.app_link(SERVER_ID, server.addr.to_string());
    let stream = link.open_stream().await.expect("stream");
    let big = Bytes::from(vec![0u8; 2048]);
    assert!(matches!(
        stream.send(big.clone()).await,
        Err(PeerError::TooLarge { .. })
    ));
    assert!(matches!(
        link.request(big, SECOND).await,
        Err(PeerError::TooLarge { .. })
    ));
    stream
        .send(Bytes::from_static(b"small"))
        .await
        .expect("send");
    let handler = Arc::clone(&server.handler);
    assert!(eventually(SECOND * 5, || handler.messages.lock().len() == 1).await);
    server.stop().await;
}
