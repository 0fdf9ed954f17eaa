//! Handshake refusals: each is answered, closed, and logged at warn on both sides with the
//! peer and both protocol versions.

use std::time::Duration;

use corral_peer::frame::{frame_bytes, read_frame};
use corral_peer::handshake::{Channel, Hello, HelloReply, ParsedReply, Verdict, HELLO_MAGIC};
use corral_peer::PEER_PROTOCOL_VERSION;
use openraft::error::RPCError;
use openraft::network::{RPCOption, RaftNetworkV2};
use openraft::BasicNode;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

fn option() -> RPCOption {
    RPCOption::new(Duration::from_secs(2))
}

#[tokio::test]
async fn a_different_ensemble_is_refused_on_both_sides() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut other = config(CLIENT_ID);
    other.ensemble_id = "another-ensemble".into();
    let mut net = network(other);
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let err = client.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    let server_side = logs.lines(
        "WARN",
        &[
            "refused Raft connection from peer 1 at 127.0.0.1:",
            "ensemble id \"another-ensemble\" is not this server's \"test-ensemble\"",
            "peer protocol version 2, ours 2",
        ],
    );
    let client_side = logs.lines(
        "WARN",
        &[
            "cannot connect to peer 2",
            &format!("server 2 at {} refused our hello", server.addr),
            "ensemble id",
            "peer protocol version 2, ours 2",
        ],
    );
    assert_eq!(server_side.len(), 1, "{}", logs.text());
    assert_eq!(client_side.len(), 1, "{}", logs.text());
    assert!(server.handler.votes.lock().is_empty());

    // The same refusal again is not logged again at warn by the client.
    let _ = client.vote(vote_request(), option()).await.unwrap_err();
    let client_side = logs.lines("WARN", &["cannot connect to peer 2"]);
    assert_eq!(client_side.len(), 1, "{}", logs.text());
    server.stop().await;
}

#[tokio::test]
async fn a_hello_for_another_server_is_refused_on_both_sides() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, 7, &server.node()).await;

    let err = client.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    let server_side = logs.lines(
        "WARN",
        &[
            "refused Raft connection from peer 1",
            "hello is for server 7 but this is server 2",
            "peer protocol version 2, ours 2",
        ],
    );
    let client_side = logs.lines(
        "WARN",
        &[
            "cannot connect to peer 7",
            "server 2 at",
            "hello is for server 7",
            "peer protocol version 2, ours 2",
        ],
    );
    assert_eq!(server_side.len(), 1, "{}", logs.text());
    assert_eq!(client_side.len(), 1, "{}", logs.text());
    server.stop().await;
}

/// A peer at another protocol version: the server refuses it naming both versions, in a reply
/// whose version the peer can read, and closes.
#[tokio::test]
async fn the_server_refuses_another_protocol_version() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let mut hello = Hello::new(&config(CLIENT_ID), SERVER_ID, Channel::Raft);
    hello.protocol_version = 99;
    send_hello(&mut stream, &hello).await;

    match read_reply(&mut stream).await {
        Some(ParsedReply::Reply(HelloReply {
            protocol_version,
            server_id,
            verdict: Verdict::Refused { reason },
            ..
        })) => {
            assert_eq!(protocol_version, PEER_PROTOCOL_VERSION);
            assert_eq!(server_id, SERVER_ID);
            assert!(
                reason.contains("version 99, this server speaks 2"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(closes_within(&mut stream, Duration::from_secs(2)).await);
    let lines = logs.lines(
        "WARN",
        &[
            "refused Raft connection from peer 1",
            "peer protocol version 99, ours 2",
        ],
    );
    assert_eq!(lines.len(), 1, "{}", logs.text());
    server.stop().await;
}

/// A future version whose hello body we cannot even parse is still refused by version.
#[tokio::test]
async fn the_server_reads_the_version_of_an_unknown_layout() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let mut payload = HELLO_MAGIC.to_vec();
    payload.extend_from_slice(&7u16.to_be_bytes());
    payload.extend_from_slice(&[0xff; 20]);
    let frame = frame_bytes(&payload, 4096).expect("frame");
    stream.write_all(&frame).await.expect("write");
    assert!(matches!(
        read_reply(&mut stream).await,
        Some(ParsedReply::Reply(HelloReply {
            verdict: Verdict::Refused { .. },
            ..
        }))
    ));
    let lines = logs.lines(
        "WARN",
        &["peer id unknown", "peer protocol version 7, ours 2"],
    );
    assert_eq!(lines.len(), 1, "{}", logs.text());
    server.stop().await;
}

/// Plays a server of another version: the client refuses it, naming both versions.
#[tokio::test]
async fn the_client_refuses_another_protocol_version() {
    let (logs, _guard) = Logs::capture();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let fake = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let _hello = read_frame(&mut stream, 4096).await.expect("hello");
        let mut reply = HelloReply::new(SERVER_ID, Verdict::Welcome);
        reply.protocol_version = 99;
        let payload = reply.encode().expect("encodes");
        let frame = frame_bytes(&payload, 4096).expect("frame");
        stream.write_all(&frame).await.expect("write");
        closes_within(&mut stream, Duration::from_secs(2)).await
    });
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &BasicNode::new(addr)).await;
    let err = client.vote(vote_request(), option()).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    assert!(
        fake.await.expect("fake server"),
        "the client kept the connection"
    );
    let lines = logs.lines(
        "WARN",
        &[
            "cannot connect to peer 2",
            "peer protocol version 99, ours 2",
        ],
    );
    assert_eq!(lines.len(), 1, "{}", logs.text());
}

/// A connection that sends nothing is dropped after the handshake timeout.
#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_handshake_timeout() {
    let (logs, _guard) = Logs::capture();
    let mut fast = config(SERVER_ID);
    fast.handshake_timeout = Duration::from_millis(200);
    let server = TestServer::start_with(fast).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    assert!(closes_within(&mut stream, Duration::from_secs(2)).await);
    let lines = logs.lines(
        "WARN",
        &["refused peer connection from", "no hello within 200ms"],
    );
    assert_eq!(lines.len(), 1, "{}", logs.text());
    server.stop().await;
}

/// Garbage instead of a hello (here an HTTP request, whose first bytes read as a 1 GB length)
/// is refused and closed.
#[tokio::test]
async fn garbage_instead_of_a_hello_is_refused() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(closes_within(&mut stream, Duration::from_secs(2)).await);
    let lines = logs.lines(
        "WARN",
        &["refused peer connection from", "unreadable hello"],
    );
    assert_eq!(lines.len(), 1, "{}", logs.text());

    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let frame = frame_bytes(b"NOTAHELLO", 4096).expect("frame");
    stream.write_all(&frame).await.expect("write");
    assert!(closes_within(&mut stream, Duration::from_secs(2)).await);
    assert_eq!(
        logs.lines("WARN", &["not the magic"]).len(),
        1,
        "{}",
        logs.text()
    );
    server.stop().await;
}
