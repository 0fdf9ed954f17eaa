//! The in-memory transport (`corral_peer::memory`): the same traffic as over TCP, with faults,
//! on tokio's paused clock.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_peer::memory::{MemoryNet, MemoryNetConfig};
use corral_peer::PeerError;
use openraft::error::{RPCError, StreamingError};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::AppendEntriesResponse;
use openraft::{BasicNode, Snapshot, SnapshotMeta};
use tokio::time::Instant;

use crate::common::*;

type Net = MemoryNet<TestConfig>;

const S1: u64 = 1;
const S2: u64 = 2;
const S3: u64 = 3;

fn option(ms: u64) -> RPCOption {
    RPCOption::new(Duration::from_millis(ms))
}

fn attach(net: &Net, id: u64) -> (Arc<Recorder>, Arc<MemSnapshots>) {
    let handler = Arc::new(Recorder::default());
    let snapshots = Arc::new(MemSnapshots::default());
    net.attach(id, handler.clone(), snapshots.clone());
    (handler, snapshots)
}

async fn client(
    net: &Net,
    from: u64,
    to: u64,
) -> corral_peer::memory::MemoryClient<TestConfig, Bytes> {
    let mut network = net.network::<Bytes>(from);
    network.new_client(to, &BasicNode::default()).await
}

#[tokio::test(start_paused = true)]
async fn rpcs_round_trip_to_the_attached_handler() {
    let net = Net::new(1);
    attach(&net, S1);
    let (h2, _) = attach(&net, S2);
    let mut c = client(&net, S1, S2).await;
    let rpc = append(2, "x");
    let sent = rpc.entries.clone();
    let answer = c.append_entries(rpc, option(1000)).await.expect("append");
    assert_eq!(answer, AppendEntriesResponse::Success);
    assert_eq!(h2.appends.lock()[0].entries, sent);
    assert!(
        c.vote(vote_request(), option(1000))
            .await
            .expect("vote")
            .vote_granted
    );
    assert!(
        !c.pre_vote(vote_request(), option(1000))
            .await
            .expect("pre")
            .vote_granted
    );
    h2.fail_votes.store(true, Ordering::SeqCst);
    let err = c.vote(vote_request(), option(1000)).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    assert!(err.to_string().contains("shutting down"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_server_not_attached_refuses_at_once() {
    let net = Net::new(1);
    let mut c = client(&net, S1, S2).await;
    let started = Instant::now();
    let err = c
        .append_entries(append(1, "a"), option(1000))
        .await
        .unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    assert_eq!(started.elapsed(), Duration::ZERO);
    attach(&net, S2);
    assert!(c.append_entries(append(1, "a"), option(1000)).await.is_ok());
    net.detach(S2);
    let err = c
        .append_entries(append(1, "a"), option(1000))
        .await
        .unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    assert_eq!(net.stats().refused, 2);
}

#[tokio::test(start_paused = true)]
async fn cut_links_time_out_and_heal() {
    let net = Net::new(1);
    let (h1, _) = attach(&net, S1);
    let (h2, _) = attach(&net, S2);
    attach(&net, S3);
    let mut c12 = client(&net, S1, S2).await;
    let mut c21 = client(&net, S2, S1).await;
    let mut c13 = client(&net, S1, S3).await;

    net.partition(&[&[S1, S3], &[S2]]);
    let started = Instant::now();
    let err = c12
        .append_entries(append(1, "a"), option(800))
        .await
        .unwrap_err();
    assert!(matches!(err, RPCError::Timeout(_)), "{err:?}");
    assert_eq!(started.elapsed(), option(800).soft_ttl());
    assert!(h2.appends.lock().is_empty());
    assert!(c13.vote(vote_request(), option(800)).await.is_ok());

    net.heal();
    net.block(S1, S2);
    let votes_at_2 = h2.votes.lock().len();
    assert!(c12.vote(vote_request(), option(800)).await.is_err());
    assert_eq!(h2.votes.lock().len(), votes_at_2, "1 -> 2 is dropped");
    // 2 -> 1 arrives, but 1 -> 2 would carry the answer back: that is dropped.
    let err = c21.vote(vote_request(), option(800)).await.unwrap_err();
    assert!(matches!(err, RPCError::Timeout(_)), "{err:?}");
    assert_eq!(
        h1.votes.lock().len(),
        1,
        "the request arrived, the answer did not"
    );
    net.unblock(S1, S2);
    assert!(c21.vote(vote_request(), option(800)).await.is_ok());

    net.heal();
    net.isolate(S2);
    assert!(c12.vote(vote_request(), option(800)).await.is_err());
    net.heal();
    assert!(c12.vote(vote_request(), option(800)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn loss_delay_and_duplication() {
    let net = Net::new(3);
    attach(&net, S1);
    let (h2, _) = attach(&net, S2);
    let mut c = client(&net, S1, S2).await;

    net.set_delay(Duration::from_millis(10), Duration::from_millis(20));
    let started = Instant::now();
    c.vote(vote_request(), option(1000)).await.expect("vote");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(20) && took <= Duration::from_millis(40),
        "{took:?}"
    );

    net.set_loss(1.0);
    let err = c.vote(vote_request(), option(1000)).await.unwrap_err();
    assert!(matches!(err, RPCError::Timeout(_)), "{err:?}");
    net.set_loss(0.0);

    net.set_duplication(1.0);
    c.append_entries(append(1, "twice"), option(1000))
        .await
        .expect("append");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h2.appends.lock().len(), 2, "delivered twice");
    assert_eq!(net.stats().duplicated, 1);
}

#[tokio::test(start_paused = true)]
async fn a_server_going_down_resets_its_calls_and_a_restart_is_a_new_endpoint() {
    let net = Net::new(1);
    attach(&net, S1);
    let (h2, _) = attach(&net, S2);
    h2.hang_appends.store(1, Ordering::SeqCst);
    let mut c = client(&net, S1, S2).await;
    let call = tokio::spawn(async move {
        let result = c.append_entries(append(1, "a"), option(10_000)).await;
        (c, result)
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    net.detach(S2);
    let (mut c, result) = call.await.unwrap();
    assert!(matches!(result, Err(RPCError::Network(_))), "{result:?}");

    // A server's own endpoint sends as its incarnation only.
    let old = net.endpoint(S3);
    let mut from_old = old.network::<Bytes>().client(S2);
    attach(&net, S2);
    assert!(c.vote(vote_request(), option(1000)).await.is_ok());
    assert!(from_old.vote(vote_request(), option(1000)).await.is_ok());
    let _new = net.endpoint(S3);
    assert!(old.is_down(), "replaced by the restart");
    let err = from_old
        .vote(vote_request(), option(1000))
        .await
        .unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn snapshots_move_as_bytes_through_both_snapshot_stores() {
    let net = Net::new(1);
    attach(&net, S1);
    let (h2, s2) = attach(&net, S2);
    let mut c = client(&net, S1, S2).await;
    let bytes = Bytes::from(vec![7u8; 3 * 1024 * 1024 + 5]);
    let snapshot = Snapshot {
        meta: SnapshotMeta::default(),
        snapshot: bytes.clone(),
    };
    let cancel = std::future::pending();
    let response = c
        .full_snapshot(vote(), snapshot, cancel, option(100))
        .await
        .expect("installed");
    assert_eq!(response.vote, vote());
    assert_eq!(h2.installed.lock()[0].1, bytes);
    assert!(s2.sink(0).unwrap().finished.load(Ordering::SeqCst));

    // A failed install is reported, and the sink was finished (the bytes were whole).
    h2.fail_installs.store(true, Ordering::SeqCst);
    let snapshot = Snapshot {
        meta: SnapshotMeta::default(),
        snapshot: bytes.clone(),
    };
    let err = c
        .full_snapshot(vote(), snapshot, std::future::pending(), option(100))
        .await
        .unwrap_err();
    assert!(matches!(err, StreamingError::Unreachable(_)), "{err:?}");

    // Cancelled by openraft: Closed.
    net.partition(&[&[S1], &[S2]]);
    let snapshot = Snapshot {
        meta: SnapshotMeta::default(),
        snapshot: bytes,
    };
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        openraft::error::ReplicationClosed::new("test")
    };
    let err = c
        .full_snapshot(vote(), snapshot, cancel, option(100))
        .await
        .unwrap_err();
    assert!(matches!(err, StreamingError::Closed(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn app_requests_answer_fail_and_time_out() {
    let net = Net::new(1);
    attach(&net, S1);
    attach(&net, S2);
    let link = net.app_link(S1, S2);
    assert_eq!(link.target(), S2);
    let answer = link
        .request(Bytes::from_static(b"hi"), Duration::from_secs(1))
        .await
        .expect("answer");
    assert_eq!(&answer[..], b"1 said hi");
    let err = link
        .request(Bytes::from_static(b"fail"), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, PeerError::Remote { peer: S2, .. }), "{err:?}");
    let err = link
        .request(Bytes::from_static(b"hang"), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, PeerError::Timeout(_)), "{err:?}");
    let err = net
        .app_link(S1, S3)
        .request(Bytes::from_static(b"hi"), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
}

fn config_with_idle(idle_ms: u64) -> MemoryNetConfig {
    MemoryNetConfig {
        stream_idle_timeout: Duration::from_millis(idle_ms),
        connect_timeout: Duration::from_millis(300),
        ..MemoryNetConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn streams_keep_order_under_delay_and_wait_out_a_short_cut() {
    let net = Net::with_config(5, config_with_idle(1_000));
    attach(&net, S1);
    let (h2, _) = attach(&net, S2);
    net.set_delay(Duration::from_millis(1), Duration::from_millis(30));
    net.set_loss(1.0); // streams lose nothing
    let stream = net.app_link(S1, S2).open_stream().await.expect("open");
    for i in 0..20 {
        stream
            .send(Bytes::from(format!("m{i}")))
            .await
            .expect("send");
    }
    net.partition(&[&[S1], &[S2]]);
    for i in 20..25 {
        stream
            .send(Bytes::from(format!("m{i}")))
            .await
            .expect("send");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    net.heal();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got: Vec<String> = h2
        .messages
        .lock()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let want: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want);
    assert!(!stream.is_broken());
}

#[tokio::test(start_paused = true)]
async fn streams_break_on_a_long_cut_a_refusal_or_a_dead_receiver() {
    let net = Net::with_config(5, config_with_idle(1_000));
    attach(&net, S1);
    let (h2, _) = attach(&net, S2);
    let link = net.app_link(S1, S2);

    let stream = link.open_stream().await.expect("open");
    net.partition(&[&[S1], &[S2]]);
    stream
        .send(Bytes::from_static(b"stuck"))
        .await
        .expect("queued");
    let reason = stream.closed().await;
    assert!(reason.contains("no progress"), "{reason}");
    assert!(stream.send(Bytes::from_static(b"later")).await.is_err());
    assert!(h2.messages.lock().is_empty());

    // Opening over a cut link fails after the connect timeout.
    let started = Instant::now();
    let Err(err) = link.open_stream().await else {
        panic!("opened")
    };
    assert!(matches!(err, PeerError::ConnectTimeout { .. }), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    net.heal();
    // As over TCP, what the sender had written before giving the stream up still arrives
    // (within the linger time); what it tried to send after did not leave.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        h2.messages.lock().clone(),
        vec![Bytes::from_static(b"stuck")]
    );

    let stream = link.open_stream().await.expect("open");
    stream.send(Bytes::from_static(b"one")).await.expect("send");
    stream
        .send(Bytes::from_static(b"poison"))
        .await
        .expect("send");
    let reason = stream.closed().await;
    assert!(reason.contains("poisoned"), "{reason}");
    let err = stream.send(Bytes::from_static(b"after")).await.unwrap_err();
    assert!(matches!(err, PeerError::StreamBroken { .. }), "{err:?}");
    assert_eq!(h2.messages.lock().len(), 2, "stuck, one");

    let stream = link.open_stream().await.expect("open");
    net.detach(S2);
    let reason = stream.closed().await;
    assert!(reason.contains("closed the connection"), "{reason}");
    let Err(err) = link.open_stream().await else {
        panic!("opened")
    };
    assert!(err.is_unreachable(), "{err:?}");
}

/// Everything random comes from the seed: the same seed, the same fates and times.
#[tokio::test(start_paused = true)]
async fn a_seed_replays_exactly() {
    async fn run(seed: u64) -> Vec<(bool, Duration)> {
        let net = Net::new(seed);
        attach(&net, S1);
        attach(&net, S2);
        net.set_loss(0.3);
        net.set_delay(Duration::from_millis(1), Duration::from_millis(50));
        let mut c = client(&net, S1, S2).await;
        let mut out = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let ok = c.vote(vote_request(), option(400)).await.is_ok();
            out.push((ok, started.elapsed()));
        }
        out
    }
    let a = run(11).await;
    assert_eq!(a, run(11).await);
    assert_ne!(a, run(12).await);
    assert!(a.iter().any(|(ok, _)| *ok) && a.iter().any(|(ok, _)| !*ok));
}

/// Without linger, a stream given up over a cut link delivers nothing more, however soon the
/// link heals.
#[tokio::test(start_paused = true)]
async fn a_stream_given_up_without_linger_delivers_nothing_more() {
    let config = MemoryNetConfig {
        stream_linger: Duration::ZERO,
        ..config_with_idle(1_000)
    };
    let net = Net::with_config(5, config);
    attach(&net, S1);
    let (h2, _) = attach(&net, S2);
    let stream = net.app_link(S1, S2).open_stream().await.expect("open");
    net.partition(&[&[S1], &[S2]]);
    stream
        .send(Bytes::from_static(b"stuck"))
        .await
        .expect("queued");
    let reason = stream.closed().await;
    assert!(reason.contains("no progress"), "{reason}");
    net.heal();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(h2.messages.lock().is_empty());
}

/// A server taken down closes its connections: every server it could reach hears of it, one
/// behind a partition does not.
#[tokio::test(start_paused = true)]
async fn a_server_going_down_is_heard_of_by_those_it_reaches() {
    let net = Net::new(1);
    let (h1, _) = attach(&net, S1);
    let (h3, _) = attach(&net, S3);
    attach(&net, S2);
    net.block(S2, S3);
    net.detach(S2);
    assert_eq!(h1.connections_closed.lock().clone(), vec![S2]);
    assert!(h3.connections_closed.lock().is_empty());
}
