//! openraft's RPCs over the transport: round trips, timeouts, reconnects, error mapping.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use openraft::error::RPCError;
use openraft::network::{RPCOption, RaftNetworkV2};
use openraft::raft::{AppendEntriesResponse, TransferLeaderRequest};
use openraft::BasicNode;
use tokio::net::TcpListener;

use crate::common::*;

fn option(hard_ttl_ms: u64) -> RPCOption {
    RPCOption::new(Duration::from_millis(hard_ttl_ms))
}

#[tokio::test]
async fn append_vote_pre_vote_and_transfer_round_trip() {
    let server = TestServer::start().await;
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let rpc = append(3, "hello");
    let sent = rpc.entries.clone();
    let response = client
        .append_entries(rpc, option(2000))
        .await
        .expect("append");
    assert_eq!(response, AppendEntriesResponse::Success);
    assert_eq!(server.handler.appends.lock()[0].entries, sent);

    let granted = client
        .vote(vote_request(), option(2000))
        .await
        .expect("vote");
    assert!(granted.vote_granted);
    assert_eq!(server.handler.votes.lock().len(), 1);

    let pre = client
        .pre_vote(vote_request(), option(2000))
        .await
        .expect("pre_vote");
    assert!(
        !pre.vote_granted,
        "the handler's answer, not the default grant"
    );

    let transfer = TransferLeaderRequest::new(vote(), SERVER_ID, None);
    let answer = client
        .transfer_leader(transfer, option(2000))
        .await
        .expect("transfer");
    assert_eq!(answer, Ok(()));
    server.stop().await;
}

/// `new_client` does not connect; the first RPC does.
#[tokio::test]
async fn new_client_does_not_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let node = BasicNode::new(listener.local_addr().expect("addr"));
    let mut net = network(config(CLIENT_ID));
    let _client = client_to(&mut net, SERVER_ID, &node).await;
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "new_client connected");
}

/// A server whose handler never answers: the RPC times out within soft_ttl (well before
/// hard_ttl), and the next RPC works on a new connection.
#[tokio::test]
async fn an_unanswered_rpc_times_out_within_soft_ttl_and_the_next_reconnects() {
    let server = TestServer::start().await;
    server.handler.hang_appends.store(1, Ordering::SeqCst);
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let started = Instant::now();
    let err = client
        .append_entries(append(1, "a"), option(800))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, RPCError::Timeout(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(600),
        "before soft_ttl: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(800),
        "past hard_ttl: {elapsed:?}"
    );

    let ok = client.append_entries(append(1, "b"), option(2000)).await;
    assert_eq!(ok.expect("reconnected"), AppendEntriesResponse::Success);
    server.stop().await;
}

/// A listener that accepts and never says anything (not even the hello reply).
#[tokio::test]
async fn a_silent_listener_times_out_and_the_next_call_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let node = BasicNode::new(listener.local_addr().expect("addr"));
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &node).await;

    let started = Instant::now();
    let err = client.vote(vote_request(), option(400)).await.unwrap_err();
    assert!(matches!(err, RPCError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(400));
    let (_first, _) = listener.accept().await.expect("first connection");

    let err = client.vote(vote_request(), option(400)).await.unwrap_err();
    assert!(matches!(err, RPCError::Timeout(_)), "{err:?}");
    let second = tokio::time::timeout(Duration::from_secs(1), listener.accept()).await;
    assert!(second.is_ok(), "the second call did not reconnect");
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("addr")
    };
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &BasicNode::new(addr)).await;
    let err = client
        .append_entries(append(1, "a"), option(2000))
        .await
        .unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    let err = client.vote(vote_request(), option(2000)).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
}

/// The server stops and comes back on the same port: the client's kept connection is seen
/// closed, the RPC meanwhile is unreachable, and the client recovers by itself.
#[tokio::test]
async fn a_restarted_server_is_reached_again() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    client
        .vote(vote_request(), option(2000))
        .await
        .expect("before");

    let (handler, snapshots) = server.stop().await;
    let err = client.vote(vote_request(), option(2000)).await.unwrap_err();
    assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");

    let server = TestServer::restart_at(addr, config(SERVER_ID), handler, snapshots).await;
    let after = client.vote(vote_request(), option(2000)).await;
    assert!(after.expect("after restart").vote_granted);
    assert_eq!(server.handler.votes.lock().len(), 2);
    server.stop().await;
}

/// The server restarts between two RPCs while the client holds its connection: the client
/// notices the old connection closed and uses a new one, without failing an RPC.
#[tokio::test]
async fn a_quick_restart_costs_no_failed_rpc() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    client
        .vote(vote_request(), option(2000))
        .await
        .expect("before");
    let (handler, snapshots) = server.stop().await;
    let server = TestServer::restart_at(addr, config(SERVER_ID), handler, snapshots).await;
    // Let the old connection's FIN arrive.
    tokio::time::sleep(Duration::from_millis(50)).await;
    client
        .vote(vote_request(), option(2000))
        .await
        .expect("after restart");
    server.stop().await;
}

/// A dropped client's connection is reused by the next client (openraft makes one per
/// election per voter).
#[tokio::test]
async fn clients_reuse_connections() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut net = network(config(CLIENT_ID));
    for _ in 0..3 {
        let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
        client
            .vote(vote_request(), option(2000))
            .await
            .expect("vote");
    }
    let connects = logs.lines("INFO", &["connected to peer 2", "(Raft)"]);
    assert_eq!(connects.len(), 1, "{}", logs.text());
    server.stop().await;
}

/// The remote handler's error comes back as Unreachable (openraft backs off).
#[tokio::test]
async fn a_remote_error_is_unreachable() {
    let server = TestServer::start().await;
    server.handler.fail_votes.store(true, Ordering::SeqCst);
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let err = client.vote(vote_request(), option(2000)).await.unwrap_err();
    match err {
        RPCError::Unreachable(e) => assert!(e.to_string().contains("shutting down"), "{e}"),
        other => panic!("{other:?}"),
    }
    server.handler.fail_votes.store(false, Ordering::SeqCst);
    client
        .vote(vote_request(), option(2000))
        .await
        .expect("works again");
    server.stop().await;
}

/// A batch over frame_bytes_max is cut: a prefix is sent and PartialSuccess names its last
/// entry.
#[tokio::test]
async fn an_oversize_batch_is_sent_in_part() {
    let mut small = config(SERVER_ID);
    small.frame_bytes_max = 8 * 1024;
    let server = TestServer::start_with(small.clone()).await;
    let mut client_config = config(CLIENT_ID);
    client_config.frame_bytes_max = small.frame_bytes_max;
    let mut net = network(client_config);
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let rpc = append(16, &"x".repeat(1000));
    let response = client
        .append_entries(rpc, option(2000))
        .await
        .expect("append");
    let received = server.handler.appends.lock()[0].entries.len();
    assert!((1..16).contains(&received), "{received}");
    let last = openraft::testing::log_id::<TestConfig>(1, CLIENT_ID, received as u64);
    assert_eq!(response, AppendEntriesResponse::PartialSuccess(Some(last)));
    server.stop().await;
}

/// A batch over `append_bytes_target` (but within the frame limit) is cut the same way, so
/// that no AppendEntries outlasts its timeout on the follower's append and fsync.
#[tokio::test]
async fn a_batch_over_the_byte_target_is_sent_in_part() {
    let server = TestServer::start().await;
    let mut client_config = config(CLIENT_ID);
    client_config.append_bytes_target = 4 * 1024;
    let mut net = network(client_config);
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;

    let response = client
        .append_entries(append(16, &"x".repeat(1000)), option(2000))
        .await
        .expect("append");
    let received = server.handler.appends.lock()[0].entries.len();
    assert!((1..=4).contains(&received), "{received}");
    let last = openraft::testing::log_id::<TestConfig>(1, CLIENT_ID, received as u64);
    assert_eq!(response, AppendEntriesResponse::PartialSuccess(Some(last)));
    server.stop().await;
}

/// openraft's budget (3/4 of a heartbeat) is raised to `rpc_timeout_min`.
#[tokio::test]
async fn an_rpc_is_given_at_least_the_minimum_timeout() {
    let server = TestServer::start().await;
    server.handler.hang_appends.store(1, Ordering::SeqCst);
    let mut client_config = config(CLIENT_ID);
    client_config.rpc_timeout_min = Duration::from_millis(700);
    let mut net = network(client_config);
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let started = Instant::now();
    let err = client
        .append_entries(append(1, "a"), option(200))
        .await
        .unwrap_err();
    assert!(matches!(err, RPCError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}
