//! Pipelined AppendEntries (`Channel::RaftAppend`): requests sent ahead of their answers,
//! answers in order, and every way a pipeline ends (timeout, cut request, error answer,
//! garbage).

use std::sync::atomic::Ordering;
use std::time::Duration;

use corral_peer::frame::{decode, encode_frame, frame_bytes, read_frame};
use corral_peer::handshake::{Channel, Hello, HelloReply, ParsedHello, Verdict};
use corral_peer::message::AppendReply;
use futures::StreamExt;
use openraft::error::RPCError;
use openraft::network::{RPCOption, RaftNetworkV2};
use openraft::raft::{AppendEntriesRequest, StreamAppendError};
use openraft::type_config::alias::LogIdOf;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

fn option(hard_ttl_ms: u64) -> RPCOption {
    RPCOption::new(Duration::from_millis(hard_ttl_ms))
}

fn log_id(index: u64) -> LogIdOf<TestConfig> {
    openraft::testing::log_id::<TestConfig>(1, CLIENT_ID, index)
}

/// One entry at `index`, after `index - 1`.
fn append_at(index: u64, text: &str) -> AppendEntriesRequest<TestConfig> {
    let mut rpc = append(1, text);
    rpc.prev_log_id = (index > 1).then(|| log_id(index - 1));
    rpc.entries = vec![<Entry as openraft::entry::RaftEntry>::new_normal(
        log_id(index),
        Payload {
            n: index,
            text: text.to_string(),
        },
    )];
    rpc
}

fn requests(
    count: u64,
) -> futures::stream::Iter<std::vec::IntoIter<AppendEntriesRequest<TestConfig>>> {
    futures::stream::iter((1..=count).map(|i| append_at(i, "x")).collect::<Vec<_>>())
}

/// A peer played by the test: accepts one `RaftAppend` connection and hands it over.
async fn fake_follower(listener: &TcpListener) -> TcpStream {
    let (mut stream, _) = listener.accept().await.expect("accept");
    let payload = read_frame(&mut stream, 4096).await.expect("hello");
    match Hello::decode(&payload).expect("decodes") {
        ParsedHello::Hello(hello) => assert_eq!(hello.channel, Channel::RaftAppend),
        other => panic!("{other:?}"),
    }
    let reply = HelloReply::new(SERVER_ID, Verdict::Welcome)
        .encode()
        .expect("encodes");
    let frame = frame_bytes(&reply, 4096).expect("frames");
    stream.write_all(&frame).await.expect("welcome");
    stream
}

async fn read_request(stream: &mut TcpStream) -> AppendEntriesRequest<TestConfig> {
    let payload = read_frame(stream, 1 << 20).await.expect("a request");
    decode(&payload).expect("an AppendEntriesRequest")
}

async fn answer(stream: &mut TcpStream, reply: AppendReply<TestConfig>) {
    let frame = encode_frame(&reply, 1 << 20).expect("encodes");
    stream.write_all(&frame).await.expect("answer");
}

/// With three in flight allowed, three requests leave before any answer, the fourth only
/// after the first answer; the answers come out in order.
#[tokio::test]
async fn a_pipeline_sends_ahead_of_the_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let node = openraft::BasicNode::new(listener.local_addr().expect("addr"));
    let mut client_config = config(CLIENT_ID);
    client_config.append_inflight_max = 3;
    let mut net = network(client_config);
    let mut client = client_to(&mut net, SERVER_ID, &node).await;

    let follower = async {
        let mut stream = fake_follower(&listener).await;
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(read_request(&mut stream).await);
        }
        let fourth = tokio::time::timeout(Duration::from_millis(200), read_request(&mut stream));
        assert!(
            fourth.await.is_err(),
            "a fourth request left before an answer"
        );
        for (i, rpc) in seen.iter().enumerate() {
            assert_eq!(rpc.entries[0].log_id, log_id(i as u64 + 1));
        }
        answer(&mut stream, AppendReply::Appended(Ok(Some(log_id(1))))).await;
        let fourth = read_request(&mut stream).await;
        assert_eq!(fourth.entries[0].log_id, log_id(4));
        for i in 2..=4 {
            answer(&mut stream, AppendReply::Appended(Ok(Some(log_id(i))))).await;
        }
        stream
    };
    let leader = async {
        let mut answers = client
            .stream_append(requests(4), option(2000))
            .await
            .expect("opens");
        let mut got = Vec::new();
        while let Some(answer) = answers.next().await {
            got.push(answer.expect("no RPC error").expect("appended"));
        }
        got
    };
    let (_stream, got) = tokio::join!(follower, leader);
    assert_eq!(got, (1..=4).map(|i| Some(log_id(i))).collect::<Vec<_>>());
}

/// Against the real inbound side (the handler's default `stream_append`), every request
/// reaches the handler in order and is answered. A stream that ended cleanly leaves its
/// connection to the client's next stream (openraft sends each heartbeat as a stream of
/// one): the follower sees one connection, closed only when the client goes.
#[tokio::test]
async fn pipelined_appends_reach_the_handler_in_order_on_one_connection() {
    let server = TestServer::start().await;
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    for round in 0..3u64 {
        let first = round * 20 + 1;
        let input: Vec<_> = (first..first + 20).map(|i| append_at(i, "x")).collect();
        let mut answers = client
            .stream_append(futures::stream::iter(input), option(2000))
            .await
            .expect("opens");
        let mut next = first;
        while let Some(answer) = answers.next().await {
            assert_eq!(answer.expect("no RPC error"), Ok(Some(log_id(next))));
            next += 1;
        }
        assert_eq!(next, first + 20);
    }
    let indexes: Vec<u64> = server
        .handler
        .appends
        .lock()
        .iter()
        .map(|rpc| rpc.entries[0].log_id.index)
        .collect();
    assert_eq!(indexes, (1..=60).collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        server.handler.connections_closed.lock().is_empty(),
        "the connection was closed between streams"
    );
    drop(client);
    let handler = server.handler.clone();
    assert!(
        eventually(Duration::from_secs(5), || handler
            .connections_closed
            .lock()
            .contains(&CLIENT_ID))
        .await
    );
    server.stop().await;
}

/// An answer that does not come within the budget ends the pipeline with a timeout.
#[tokio::test]
async fn an_unanswered_pipeline_times_out() {
    let server = TestServer::start().await;
    server.handler.hang_appends.store(1, Ordering::SeqCst);
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let mut answers = client
        .stream_append(requests(3), option(300))
        .await
        .expect("opens");
    let first = tokio::time::timeout(Duration::from_secs(5), answers.next())
        .await
        .expect("the budget, not the test's limit");
    assert!(
        matches!(first, Some(Err(RPCError::Timeout(_)))),
        "{first:?}"
    );
    assert!(answers.next().await.is_none(), "the pipeline ended");
    drop(answers);
    server.stop().await;
}

/// A request cut to fit `append_bytes_target` is the pipeline's last: its answer is the
/// progress openraft resumes from, and nothing after it is sent.
#[tokio::test]
async fn a_cut_request_ends_the_pipeline() {
    let server = TestServer::start().await;
    let mut client_config = config(CLIENT_ID);
    client_config.append_bytes_target = 4 * 1024;
    let mut net = network(client_config);
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let big = append(16, &"x".repeat(1000));
    let after = append_at(17, "after");
    let input = futures::stream::iter(vec![big, after]);
    let mut answers = client
        .stream_append(input, option(2000))
        .await
        .expect("opens");
    let first = answers
        .next()
        .await
        .expect("an answer")
        .expect("no RPC error");
    let received = server.handler.appends.lock()[0].entries.len() as u64;
    assert!((1..=4).contains(&received), "{received}");
    assert_eq!(first, Ok(Some(log_id(received))));
    assert!(answers.next().await.is_none(), "the pipeline ended");
    drop(answers);
    assert_eq!(
        server.handler.appends.lock().len(),
        1,
        "nothing sent after the cut"
    );
    server.stop().await;
}

/// An error answer (here a conflict) is passed on and ends the pipeline.
#[tokio::test]
async fn an_error_answer_ends_the_pipeline() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let node = openraft::BasicNode::new(listener.local_addr().expect("addr"));
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &node).await;
    let follower = async {
        let mut stream = fake_follower(&listener).await;
        let _ = read_request(&mut stream).await;
        let conflict = StreamAppendError::Conflict(log_id(1));
        answer(&mut stream, AppendReply::Appended(Err(conflict))).await;
        stream
    };
    let leader = async {
        let mut answers = client
            .stream_append(requests(2), option(2000))
            .await
            .expect("opens");
        let mut got = Vec::new();
        while let Some(answer) = answers.next().await {
            got.push(answer);
        }
        got
    };
    let (_stream, got) = tokio::join!(follower, leader);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        matches!(&got[0], Ok(Err(StreamAppendError::Conflict(at))) if *at == log_id(1)),
        "{got:?}"
    );
}

/// Garbage where an AppendEntries should be closes the pipeline's connection with a warning.
#[tokio::test]
async fn garbage_on_a_pipeline_closes_it() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    let mut stream = raw_peer(server.addr, Channel::RaftAppend).await;
    stream
        .write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
        .await
        .expect("write");
    assert!(closes_within(&mut stream, Duration::from_secs(2)).await);
    assert_eq!(
        logs.lines("WARN", &["RaftAppend", "sent a bad message"])
            .len(),
        1,
        "{}",
        logs.text()
    );
    server.stop().await;
}

/// A pipeline with nothing in flight still notices its connection closing (here the follower
/// stops): openraft must hear of it, or it waits on that stream for entries that may never
/// come and never catches up a follower that restarted.
#[tokio::test]
async fn an_idle_pipeline_notices_its_connection_closing() {
    let server = TestServer::start().await;
    let mut net = network(config(CLIENT_ID));
    let mut client = client_to(&mut net, SERVER_ID, &server.node()).await;
    let input = futures::stream::iter(vec![append_at(1, "x")]).chain(futures::stream::pending());
    let mut answers = client
        .stream_append(input, option(2000))
        .await
        .expect("opens");
    let first = answers
        .next()
        .await
        .expect("an answer")
        .expect("no RPC error");
    assert_eq!(first, Ok(Some(log_id(1))));
    server.stop().await;
    let next = tokio::time::timeout(Duration::from_secs(5), answers.next())
        .await
        .expect("the closed connection is noticed while idle");
    assert!(matches!(next, Some(Err(_))), "{next:?}");
}

/// A connection that closes before sending anything is a liveness probe (a follower knocking
/// on its leader's port), not a misbehaving peer: no warning.
#[tokio::test]
async fn a_connect_and_close_probe_is_not_warned_about() {
    let (logs, _guard) = Logs::capture();
    let server = TestServer::start().await;
    for _ in 0..3 {
        let stream = TcpStream::connect(server.addr).await.expect("connect");
        drop(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(logs.lines("WARN", &[]).is_empty(), "{}", logs.text());
    server.stop().await;
}
