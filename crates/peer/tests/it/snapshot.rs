//! Streamed snapshots: large, slow, cancelled, truncated, corrupted, stalled.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_peer::frame::encode_frame;
use corral_peer::handshake::Channel;
use corral_peer::message::{Blob, SnapshotFrame, SnapshotReply};
use corral_peer::PeerConfig;
use openraft::error::{ReplicationClosed, StreamingError};
use openraft::network::{RPCOption, RaftNetworkV2};
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf};
use openraft::Snapshot;
use tokio::io::AsyncWriteExt;

use crate::common::*;

/// Deterministic, incompressible-looking bytes.
fn pattern(len: usize) -> Bytes {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn meta(index: u64) -> SnapshotMetaOf<TestConfig> {
    SnapshotMetaOf::<TestConfig> {
        last_log_id: Some(openraft::testing::log_id::<TestConfig>(1, CLIENT_ID, index)),
        ..Default::default()
    }
}

fn snapshot(data: Bytes) -> SnapshotOf<TestConfig, Bytes> {
    Snapshot {
        meta: meta(42),
        snapshot: data,
    }
}

/// openraft's snapshot option: a 200 ms hard_ttl, which must not bound the transfer.
fn option() -> RPCOption {
    RPCOption::new(Duration::from_millis(200))
}

fn never() -> impl std::future::Future<Output = ReplicationClosed> + Send + 'static {
    std::future::pending()
}

fn small_chunks(my_id: u64, chunk_bytes: usize, idle_ms: u64) -> PeerConfig {
    let mut config = config(my_id);
    config.snapshot_chunk_bytes = chunk_bytes;
    config.snapshot_idle_timeout = Duration::from_millis(idle_ms);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_snapshot_arrives_in_chunks_byte_for_byte() {
    let server = TestServer::start().await;
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let data = pattern(64 * 1024 * 1024);

    let response = client
        .full_snapshot(vote(), snapshot(data.clone()), never(), option())
        .await
        .expect("installed");
    assert_eq!(response.vote, vote());
    let installed = server.handler.installed.lock().clone();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].0, meta(42));
    assert!(installed[0].1 == data, "the snapshot arrived changed");
    let sink = server.snapshots.sink(0).expect("a sink");
    assert_eq!(sink.chunks.load(Ordering::SeqCst), 64, "1 MiB chunks");
    assert!(sink.finished.load(Ordering::SeqCst));
    server.stop().await;
}

/// A receiver slower in total than the idle timeout, but progressing (each chunk, and the
/// install, take a while): no timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_that_progresses_does_not_time_out() {
    let server = TestServer::start_with(small_chunks(SERVER_ID, 64 * 1024, 400)).await;
    *server.snapshots.write_delay.lock() = Duration::from_millis(40);
    *server.handler.install_delay.lock() = Duration::from_millis(1000);
    let mut net = network(small_chunks(CLIENT_ID, 64 * 1024, 400));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let data = pattern(2 * 1024 * 1024);

    let started = Instant::now();
    client
        .full_snapshot(vote(), snapshot(data.clone()), never(), option())
        .await
        .expect("installed");
    assert!(
        started.elapsed() > Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
    assert!(server.handler.installed.lock()[0].1 == data);
    server.stop().await;
}

/// A receiver that stops making progress: the sender times out after the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_receiver_times_out() {
    // The receiver's keep-alives (every 250 ms) notice the sender gone during its slow write.
    let server = TestServer::start_with(small_chunks(SERVER_ID, 64 * 1024, 1000)).await;
    *server.snapshots.write_delay.lock() = Duration::from_secs(3);
    let mut net = network(small_chunks(CLIENT_ID, 64 * 1024, 300));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let started = Instant::now();
    let err = client
        .full_snapshot(
            vote(),
            snapshot(pattern(8 * 1024 * 1024)),
            never(),
            option(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StreamingError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let sink = server.snapshots.sink(0).expect("a sink");
    assert!(
        eventually(Duration::from_secs(10), || sink
            .dropped_unfinished
            .load(Ordering::SeqCst))
        .await
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_honoured() {
    let server = TestServer::start_with(small_chunks(SERVER_ID, 64 * 1024, 5000)).await;
    *server.snapshots.write_delay.lock() = Duration::from_millis(50);
    let mut net = network(small_chunks(CLIENT_ID, 64 * 1024, 5000));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let cancel = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        ReplicationClosed::new("raft core dropped the stream")
    };
    let started = Instant::now();
    let err = client
        .full_snapshot(
            vote(),
            snapshot(pattern(16 * 1024 * 1024)),
            cancel,
            option(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StreamingError::Closed(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let sink = server.snapshots.sink(0).expect("a sink");
    assert!(
        eventually(Duration::from_secs(5), || sink
            .dropped_unfinished
            .load(Ordering::SeqCst))
        .await
    );
    assert!(server.handler.installed.lock().is_empty());
    server.stop().await;
}

/// The sender's own snapshot fails mid-read: a storage error on the sender, and on the
/// receiver a truncated stream whose sink is dropped unfinished and nothing installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_stream_is_never_installed() {
    let server = TestServer::start_with(small_chunks(SERVER_ID, 64 * 1024, 5000)).await;
    let snapshots = std::sync::Arc::new(MemSnapshots::default());
    *snapshots.fail_reads_after.lock() = Some(300 * 1024);
    let mut net = Network::new(small_chunks(CLIENT_ID, 64 * 1024, 5000), snapshots);
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let err = client
        .full_snapshot(vote(), snapshot(pattern(1024 * 1024)), never(), option())
        .await
        .unwrap_err();
    assert!(matches!(err, StreamingError::StorageError(_)), "{err:?}");
    let sink = wait_for_sink(&server).await;
    assert!(
        eventually(Duration::from_secs(5), || sink
            .dropped_unfinished
            .load(Ordering::SeqCst))
        .await
    );
    assert!(!sink.finished.load(Ordering::SeqCst));
    assert_eq!(
        sink.bytes.load(Ordering::SeqCst),
        256 * 1024,
        "four whole chunks"
    );
    assert!(server.handler.installed.lock().is_empty());
    server.stop().await;
}

async fn wait_for_sink(server: &TestServer) -> std::sync::Arc<SinkRecord> {
    assert!(
        eventually(Duration::from_secs(5), || server
            .snapshots
            .sink(0)
            .is_some())
        .await
    );
    server.snapshots.sink(0).expect("a sink")
}

/// Bytes that do not match the checksum sent at the end are refused, the sink dropped.
#[tokio::test]
async fn a_corrupted_stream_is_refused() {
    let server = TestServer::start().await;
    let mut stream = raw_peer(server.addr, Channel::Snapshot).await;
    let max = 1 << 20;
    let frames = [
        SnapshotFrame::<TestConfig>::Begin {
            vote: vote(),
            meta: meta(7),
        },
        SnapshotFrame::Chunk(Blob(Bytes::from_static(b"some bytes"))),
        SnapshotFrame::End {
            total_bytes: 10,
            crc32c: 0xdead_beef,
        },
    ];
    for frame in &frames {
        let bytes = encode_frame(frame, max).expect("encodes");
        stream.write_all(&bytes).await.expect("write");
    }
    let payload = corral_peer::frame::read_frame(&mut stream, max)
        .await
        .expect("reply");
    match corral_peer::frame::decode::<SnapshotReply<TestConfig>>(&payload) {
        Ok(SnapshotReply::Failed(reason)) => assert!(reason.contains("corrupted"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let sink = wait_for_sink(&server).await;
    assert!(sink.dropped_unfinished.load(Ordering::SeqCst));
    assert!(server.handler.installed.lock().is_empty());
    server.stop().await;
}

/// The receiver's install fails: the sender gets an error saying why, and backs off.
#[tokio::test]
async fn a_failed_install_is_reported_to_the_sender() {
    let server = TestServer::start().await;
    server.handler.fail_installs.store(true, Ordering::SeqCst);
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let err = client
        .full_snapshot(vote(), snapshot(pattern(100_000)), never(), option())
        .await
        .unwrap_err();
    match err {
        StreamingError::Unreachable(e) => {
            assert!(
                e.to_string().contains("the snapshot is inconsistent"),
                "{e}"
            )
        }
        other => panic!("{other:?}"),
    }
    server.stop().await;
}
