//! Abuse by volume: thousands of connections opened and dropped, a client that never reads
//! while its watches fire (closed once its outbound queue passes the limit), and the
//! per-address connection limit `maxClientCnxns`.

use std::time::Duration;

use corral_proto::connect::ConnectResponse;
use corral_proto::consts::add_watch_mode;
use corral_proto::records::AddWatchRequest;
use corral_proto::request::Request;
use corral_proto::{Jute, Reader};
use tokio::net::TcpSocket;
use zookeeper_client as zk;

use crate::support::*;

/// The `Connections:` figure of `srvr` (which counts the 4lw connection itself).
async fn connection_count(target: &Target) -> usize {
    let srvr = target.four_letter(b"srvr").await;
    srvr.lines()
        .find_map(|l| l.strip_prefix("Connections: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("srvr answered {srvr:?}"))
}

#[tokio::test]
async fn thousands_of_connections_opened_and_dropped() {
    let mut target = Target::start().await;
    let addr = target.addr();
    // New sessions with the shortest timeout the default tickTime allows, so the abandoned
    // ones expire soon.
    let short = corral_proto::connect::ConnectRequest {
        timeout_ms: 4000,
        ..connect_request(Some(false))
    };
    let handshake = frame(&encode_connect(&short));
    for round in 0..10 {
        let mut tasks = Vec::new();
        for i in 0..200usize {
            let addr = addr.clone();
            let handshake = handshake.clone();
            tasks.push(tokio::spawn(async move {
                let mut raw = Raw::connect(&addr).await;
                match i % 5 {
                    // Connect and vanish.
                    0 => {}
                    // A few bytes of a handshake, then vanish.
                    1 => raw.send(&handshake[..7]).await,
                    // A whole handshake, then vanish without closing the session.
                    2 => {
                        raw.send(&handshake).await;
                        raw.read_frame().await.expect("ConnectResponse");
                    }
                    // A session closed properly.
                    3 => {
                        raw.send(&handshake).await;
                        raw.read_frame().await.expect("ConnectResponse");
                        raw.send_request(1, &Request::CloseSession).await;
                        let reply = raw.read_reply().await.expect("closeSession reply");
                        assert_eq!((reply.header.xid, reply.header.err), (1, 0));
                        raw.expect_silent_close("closeSession").await;
                    }
                    // The handshake and a request sent, the reply never read.
                    _ => {
                        raw.send(&handshake).await;
                        raw.send_request(1, &Request::Ping).await;
                    }
                }
            }));
        }
        for task in tasks {
            within("connection task", task)
                .await
                .expect("a connection task panicked");
        }
        target.bystander_works(&format!("round {round}")).await;
    }
    // Every dropped connection is eventually forgotten: the bystander's and srvr's own remain.
    eventually("connections released", Duration::from_secs(20), || async {
        (connection_count(&target).await <= 2).then_some(())
    })
    .await;
    target.assert_healthy().await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected() {
    // A small outbound limit (the server takes no less than a largest frame), so the
    // kernel's socket buffers (a few MiB) plus the limit are passed after a few MiB of events.
    let limit = 1_100_000;
    let mut target = Target::with_cfg(&[(
        "corral.connection.outboundQueuedBytesMax",
        &limit.to_string(),
    )])
    .await;

    // The slow client: a tiny receive buffer, a recursive watch, then it stops reading.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = within("connect", socket.connect(target.addr().parse().unwrap()))
        .await
        .unwrap();
    let slow_addr = stream.local_addr().unwrap();
    let mut slow = Raw::from_stream(stream);
    slow.send_frame(&encode_connect(&connect_request(Some(false))))
        .await;
    let response = slow.read_frame().await.expect("ConnectResponse");
    assert!(ConnectResponse::decode(&response).unwrap().timeout_ms > 0);
    let reply = slow
        .call(
            1,
            &Request::AddWatch(AddWatchRequest {
                path: "/flood".into(),
                mode: add_watch_mode::PERSISTENT_RECURSIVE,
            }),
        )
        .await;
    assert_eq!(reply.header.err, 0);

    // The bystander changes the watched node in big multis: each op fires one event.
    let writer = target.bystander();
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    writer.create("/flood", b"", &options).await.unwrap();
    // 10,000 setData ops: a 770 KB reply (each result carries a Stat), 380 KB of events.
    let ops_per_multi = 10_000;
    let event_bytes = 4 + 16 + 12 + "/flood".len();
    let mut sent_bytes = 0;
    let listed = format!("/{slow_addr}[");
    let mut cut = false;
    for _ in 0..100 {
        let mut multi = writer.new_multi_writer();
        for _ in 0..ops_per_multi {
            multi.add_set_data("/flood", b"", None).unwrap();
        }
        within("flood multi", multi.commit()).await.unwrap();
        sent_bytes += ops_per_multi * event_bytes;
        if !target.four_letter(b"cons").await.contains(&listed) {
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "the server kept a client that read nothing after {sent_bytes} bytes"
    );
    target.bystander_works("flood").await;

    // What the slow client finds when it finally reads: whole event frames, possibly a frame
    // cut where the server stopped writing, then the close; far short of what was fired.
    let bytes = slow.read_to_close().await;
    let received = bytes.len();
    let mut rest = &bytes[..];
    while rest.len() >= 4 {
        let length = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        if rest.len() < 4 + length {
            break;
        }
        let mut reader = Reader::new(&rest[4..4 + length]);
        let header = corral_proto::records::ReplyHeader::decode(&mut reader).unwrap();
        assert_eq!(header.xid, -1, "only notifications were pending");
        rest = &rest[4 + length..];
    }
    assert!(
        received < sent_bytes,
        "received {received} of {sent_bytes} bytes: nothing was cut"
    );
    let log = target.log();
    assert!(
        log.contains("does not read its replies"),
        "the server did not say why it closed the connection"
    );

    // Replies count as much as events: big reads pipelined and never read.
    let big = vec![7u8; 900_000];
    writer.create("/big", &big, &options).await.unwrap();
    let mut greedy = Raw::session(&target.addr()).await;
    let get = Request::GetData(corral_proto::records::PathWatchRequest {
        path: "/big".into(),
        watch: false,
    });
    let mut burst = Vec::new();
    for xid in 1..=40 {
        burst.extend(frame(&request_body(xid, &get)));
    }
    greedy.send(&burst).await;
    // As ZooKeeper: the server stops reading a connection whose replies back up, and drops
    // it once it has not read for a whole session timeout (20 s for this session).
    let session_timeout = Duration::from_millis(connect_request(None).timeout_ms as u64);
    eventually("greedy reader dropped", session_timeout + STEP, || async {
        let cons = target.four_letter(b"cons").await;
        (cons.matches("/127.0.0.1:").count() <= 2).then_some(())
    })
    .await;
    let received = greedy.read_to_close().await.len();
    assert!(
        received < 40 * 900_000,
        "all {received} bytes of replies were sent"
    );
    target.assert_healthy().await;
}

#[tokio::test]
async fn max_client_cnxns_is_enforced_per_address() {
    // The bystander holds one of the four.
    let mut target = Target::with_cfg(&[("maxClientCnxns", "4")]).await;
    let addr = target.addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Raw::session(&addr).await);
    }
    // The fifth connection from 127.0.0.1 is closed before its handshake is answered.
    for _ in 0..3 {
        let mut refused = Raw::connect(&addr).await;
        refused
            .send_frame(&encode_connect(&connect_request(Some(false))))
            .await;
        refused.expect_silent_close("over maxClientCnxns").await;
    }
    target.bystander_works("over the limit").await;
    for raw in &mut held {
        raw.expect_alive("held connection").await;
    }
    // Releasing one makes room for one.
    held.pop();
    let mut admitted = eventually("a slot is freed", STEP, || {
        let addr = addr.clone();
        async move { Raw::try_session(&addr).await }
    })
    .await;
    admitted.expect_alive("admitted").await;
    drop(admitted);
    drop(held);
    // A four-letter word is a connection too: wait for room before the final checks.
    eventually("connections released", STEP, || {
        let addr = addr.clone();
        async move { Raw::try_session(&addr).await.map(drop) }
    })
    .await;
    target.assert_healthy().await;
}
