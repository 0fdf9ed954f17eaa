//! Hostile input: oversize frames, garbage after the handshake, and proptest of every decoder
//! on arbitrary bytes (an error, never a panic), also against a live server.

use std::time::Duration;

use corral_peer::frame::{decode, read_frame, split_frame};
use corral_peer::handshake::{Channel, Hello, HelloReply};
use corral_peer::message::{
    AppReply, AppRequest, RaftReply, RaftRequest, SnapshotFrame, SnapshotReply, StreamFrame,
    StreamReply,
};
use openraft::network::{RPCOption, RaftNetworkV2};
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;

use crate::common::*;

#[tokio::test]
async fn an_oversize_frame_closes_the_connection() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let limit = config(SERVER_ID).frame_bytes_max;
    for channel in [
        Channel::Raft,
        Channel::AppRequest,
        Channel::AppStream,
        Channel::Snapshot,
        Channel::RaftAppend,
    ] {
        let mut stream = raw_peer(server.addr, channel).await;
        let claimed = u32::try_from(limit + 1).expect("fits");
        stream
            .write_all(&claimed.to_be_bytes())
            .await
            .expect("write");
        assert!(
            closes_within(&mut stream, Duration::from_secs(2)).await,
            "{channel:?} stayed open"
        );
    }
    let lines = logs.lines("WARN", &["peer 1", "is over the limit of 67108864 bytes"]);
    assert_eq!(lines.len(), 5, "{}", logs.text());
    server.stop().await;
}

/// Garbage after a good handshake closes that connection; the server keeps serving.
#[tokio::test]
async fn garbage_after_the_handshake_closes_only_that_connection() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut stream = raw_peer(server.addr, Channel::Raft).await;
    stream
        .write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
        .await
        .expect("write");
    assert!(closes_within(&mut stream, Duration::from_secs(2)).await);
    assert_eq!(
        logs.lines("WARN", &["sent a bad message"]).len(),
        1,
        "{}",
        logs.text()
    );

    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let option = RPCOption::new(Duration::from_secs(2));
    client
        .vote(vote_request(), option)
        .await
        .expect("still serving");
    server.stop().await;
}

/// Stopping the server closes its open connections, idle or mid-request, and `serve` returns
/// only after their tasks ended (`TestServer::stop` waits for it).
#[tokio::test]
async fn stop_closes_every_connection() {
    let server = TestServer::start().await;
    server
        .handler
        .hang_appends
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let mut idle = raw_peer(server.addr, Channel::Raft).await;
    let mut silent = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let hanging = tokio::spawn(async move {
        let option = RPCOption::new(Duration::from_secs(20));
        client.append_entries(append(1, "x"), option).await
    });
    let handler = server.handler.clone();
    assert!(
        eventually(Duration::from_secs(5), || handler
            .hang_appends
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0)
        .await
    );
    server.stop().await;
    assert!(closes_within(&mut idle, Duration::from_secs(2)).await);
    assert!(closes_within(&mut silent, Duration::from_secs(2)).await);
    let result = hanging.await.expect("task");
    assert!(result.is_err(), "{result:?}");
}

/// Every decoder of this crate on `bytes`: any result but a panic.
fn decode_everything(bytes: &[u8]) {
    let _ = split_frame(bytes, 1 << 20);
    let _ = futures::executor::block_on(read_frame(&mut &bytes[..], 1 << 20));
    let _ = Hello::decode(bytes);
    let _ = HelloReply::decode(bytes);
    let _ = decode::<RaftRequest<TestConfig>>(bytes);
    let _ = decode::<RaftReply<TestConfig>>(bytes);
    let _ = decode::<SnapshotFrame<TestConfig>>(bytes);
    let _ = decode::<SnapshotReply<TestConfig>>(bytes);
    let _ = decode::<AppRequest>(bytes);
    let _ = decode::<AppReply>(bytes);
    let _ = decode::<StreamFrame>(bytes);
    let _ = decode::<StreamReply>(bytes);
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&bytes);
    }

    /// Garbage behind a plausible prefix (a message tag, a hello's magic and version) gets
    /// further into each decoder.
    #[test]
    fn decoders_never_panic_past_a_plausible_prefix(
        tag in 0u8..6,
        rest in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&rest);
        decode_everything(&bytes);
        let mut hello = b"CRLP\0\x01".to_vec();
        hello.extend_from_slice(&rest);
        decode_everything(&hello);
    }
}

/// Arbitrary bytes after a good handshake, on every channel of one live server: the server
/// neither panics nor stops serving.
#[test]
fn a_live_server_survives_arbitrary_bytes() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let addr = server.addr;
    let channels = [
        Channel::Raft,
        Channel::Snapshot,
        Channel::AppRequest,
        Channel::AppStream,
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    let strategy = (0usize..4, proptest::collection::vec(any::<u8>(), 0..256));
    runner
        .run(&strategy, |(channel, bytes)| {
            runtime.block_on(async {
                let mut stream = raw_peer(addr, channels[channel]).await;
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                let _ = closes_within(&mut stream, Duration::from_secs(10)).await;
            });
            Ok(())
        })
        .expect("no case failed");
    runtime.block_on(async {
        let mut net = network(config(CLIENT_ID));
        let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
        let option = RPCOption::new(Duration::from_secs(2));
        client
            .vote(vote_request(), option)
            .await
            .expect("still serving");
        server.stop().await;
    });
}
