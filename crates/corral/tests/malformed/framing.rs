//! Framing and handshake abuse: negative, oversize and truncated frames, garbage where the
//! ConnectRequest belongs, requests before the handshake, the optional readOnly byte, a
//! client ahead of the server, and a re-attach to an unknown session.

use corral_proto::connect::{ConnectRequest, ConnectResponse};
use corral_proto::records::PathWatchRequest;
use corral_proto::request::Request;
use corral_proto::ErrorCode;

use crate::support::*;

#[tokio::test]
async fn bad_frame_lengths_close_the_connection_without_a_reply() {
    let mut target = Target::start().await;
    let addr = target.addr();
    let oversize = (MAX_FRAME as i32 + 1).to_be_bytes();

    // Before the handshake.
    for (case, bytes) in [
        ("negative length", (-1i32).to_be_bytes().to_vec()),
        ("length i32::MIN", i32::MIN.to_be_bytes().to_vec()),
        ("oversize length", oversize.to_vec()),
        (
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "a TLS ClientHello",
            vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00],
        ),
    ] {
        let mut raw = Raw::connect(&addr).await;
        raw.send(&bytes).await;
        raw.expect_silent_close(case).await;
        target.bystander_works(case).await;
    }

    // After the handshake: no reply, the connection is closed.
    for (case, bytes) in [
        ("negative length", (-2i32).to_be_bytes().to_vec()),
        ("oversize length", oversize.to_vec()),
        ("length i32::MAX", i32::MAX.to_be_bytes().to_vec()),
    ] {
        let mut raw = Raw::session(&addr).await;
        raw.send(&bytes).await;
        raw.expect_silent_close(case).await;
        target.bystander_works(case).await;
    }

    // The largest legal frame is read whole (then refused as an unknown opcode).
    let mut raw = Raw::session(&addr).await;
    let mut body = vec![0u8; MAX_FRAME];
    body[..8].copy_from_slice(&[0, 0, 0, 9, 0, 0, 0x03, 0xe7]);
    raw.send_frame(&body).await;
    let reply = raw.read_reply().await.expect("an UNIMPLEMENTED reply");
    assert_eq!(
        (reply.header.xid, reply.header.err),
        (9, ErrorCode::Unimplemented.as_i32())
    );
    raw.expect_silent_close("largest frame").await;
    target.assert_healthy().await;
}

#[tokio::test]
async fn truncated_frames_are_dropped_with_the_connection() {
    let mut target = Target::start().await;
    let addr = target.addr();

    // Half a length prefix, half a ConnectRequest, then the client stops writing.
    let connect = frame(&encode_connect(&connect_request(Some(false))));
    for (case, cut) in [("2 of 4 length bytes", 2), ("half a handshake", 25)] {
        let mut raw = Raw::connect(&addr).await;
        raw.send(&connect[..cut]).await;
        raw.shutdown_write().await;
        raw.expect_silent_close(case).await;
        target.bystander_works(case).await;
    }

    // A request announced as 100 bytes, of which 10 arrive.
    let mut raw = Raw::session(&addr).await;
    let mut partial = 100i32.to_be_bytes().to_vec();
    partial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 4, 0, 0]);
    raw.send(&partial).await;
    raw.shutdown_write().await;
    raw.expect_silent_close("truncated request").await;
    target.bystander_works("truncated request").await;

    // The same, but the connection is just dropped (reset) mid-frame, many times.
    for _ in 0..50 {
        let mut raw = Raw::session(&addr).await;
        raw.send(&partial).await;
        drop(raw);
    }
    target.bystander_works("dropped mid-frame").await;
    target.assert_healthy().await;
}

#[tokio::test]
async fn the_read_only_byte_is_echoed_only_when_sent() {
    let mut target = Target::start().await;
    let addr = target.addr();
    for (read_only, request_bytes, response_bytes) in
        [(None, 44, 36), (Some(false), 45, 37), (Some(true), 45, 37)]
    {
        let request = encode_connect(&connect_request(read_only));
        assert_eq!(request.len(), request_bytes);
        let mut raw = Raw::connect(&addr).await;
        raw.send_frame(&request).await;
        let body = raw.read_frame().await.expect("a ConnectResponse");
        assert_eq!(body.len(), response_bytes, "readOnly {read_only:?}");
        let response = ConnectResponse::decode(&body).unwrap();
        assert_eq!(response.read_only, read_only.map(|_| false));
        assert_eq!(response.protocol_version, 0);
        assert_eq!(response.timeout_ms, 20_000);
        assert_ne!(response.session_id, 0);
        assert_eq!(response.password.as_ref().map(|p| p.len()), Some(16));
        raw.expect_alive("after the handshake").await;
    }
    target.assert_healthy().await;
}

#[tokio::test]
async fn garbage_and_requests_where_the_handshake_belongs() {
    let mut target = Target::start().await;
    let addr = target.addr();
    let ping = request_body(-2, &Request::Ping);
    let get_data = request_body(
        1,
        &Request::GetData(PathWatchRequest {
            path: "/".into(),
            watch: true,
        }),
    );
    let full = encode_connect(&connect_request(Some(false)));
    for (case, body) in [
        ("a ping first", ping),
        ("a getData first", get_data),
        ("an empty frame", Vec::new()),
        ("a truncated ConnectRequest", full[..20].to_vec()),
        ("a ConnectRequest cut in the password", full[..35].to_vec()),
        // The password length reads as a large negative number.
        ("45 bytes of 0xab", vec![0xab; 45]),
        ("a password longer than the frame", {
            let mut body = full.clone();
            body[24..28].copy_from_slice(&1000i32.to_be_bytes());
            body
        }),
    ] {
        let mut raw = Raw::connect(&addr).await;
        raw.send_frame(&body).await;
        raw.expect_silent_close(case).await;
        target.bystander_works(case).await;
    }

    // A client that has seen a later zxid than the server: closed without a response.
    let ahead = ConnectRequest {
        last_zxid_seen: 1 << 40,
        ..connect_request(Some(false))
    };
    let mut raw = Raw::connect(&addr).await;
    raw.send_frame(&encode_connect(&ahead)).await;
    raw.expect_silent_close("client ahead").await;

    // A re-attach to a session that does not exist: the invalid-session response (timeout
    // 0, id 0, 16 zero bytes), sized by the readOnly byte, then the close.
    for (read_only, bytes) in [(None, 36), (Some(false), 37)] {
        let unknown = ConnectRequest {
            session_id: 0x0123_4567_89ab_cdef,
            ..connect_request(read_only)
        };
        let mut raw = Raw::connect(&addr).await;
        raw.send_frame(&encode_connect(&unknown)).await;
        let body = raw.read_frame().await.expect("an invalid-session response");
        assert_eq!(body.len(), bytes);
        let response = ConnectResponse::decode(&body).unwrap();
        assert_eq!((response.timeout_ms, response.session_id), (0, 0));
        assert_eq!(response.password.as_deref(), Some(&[0u8; 16][..]));
        raw.expect_silent_close("unknown session").await;
    }
    target.bystander_works("unknown session").await;

    // Requests pipelined behind the ConnectRequest in one write are answered, in order,
    // after the ConnectResponse.
    let mut burst = frame(&full);
    burst.extend(frame(&request_body(
        5,
        &Request::Exists(PathWatchRequest {
            path: "/zookeeper".into(),
            watch: false,
        }),
    )));
    burst.extend(frame(&request_body(-2, &Request::Ping)));
    burst.extend(frame(&request_body(
        6,
        &Request::GetChildren(PathWatchRequest {
            path: "/".into(),
            watch: false,
        }),
    )));
    let mut raw = Raw::connect(&addr).await;
    raw.send(&burst).await;
    let response = raw.read_frame().await.expect("ConnectResponse");
    assert_eq!(response.len(), 37);
    let xids: Vec<(i32, i32)> = [
        raw.read_reply().await,
        raw.read_reply().await,
        raw.read_reply().await,
    ]
    .into_iter()
    .map(|r| {
        let r = r.expect("a reply");
        (r.header.xid, r.header.err)
    })
    .collect();
    assert_eq!(xids, [(5, 0), (-2, 0), (6, 0)]);
    target.assert_healthy().await;
}
