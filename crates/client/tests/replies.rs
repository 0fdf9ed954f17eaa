//! Reply matching, notifications and malformed input against a scripted fake server.

mod support;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use corral_client::corral_proto::consts::{event_type, keeper_state, CreateMode};
use corral_client::corral_proto::multi::MultiResult;
use corral_client::corral_proto::records::ReplyHeader;
use corral_client::corral_proto::request::Request;
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::{ErrorCode, Jute, OpCode, Stat};
use corral_client::ops::multi_op;
use corral_client::{Client, ClientError, ConnectOptions, Notification, WireEvent};
use support::{listen, FakeConn};

fn options() -> ConnectOptions {
    ConnectOptions {
        ping: false,
        wire_log: true,
        ..ConnectOptions::default()
    }
}

async fn connected(listener: tokio::net::TcpListener) -> FakeConn {
    let mut conn = FakeConn::accept(&listener).await;
    conn.handshake(30_000).await;
    conn
}

fn stat(version: i32) -> Stat {
    Stat {
        version,
        data_length: 1,
        ..Stat::default()
    }
}

#[tokio::test]
async fn pipelined_requests_are_matched_in_fifo_order() {
    const REQUESTS: i32 = 200;
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = connected(listener).await;
        // Read every request before answering any: they are all in flight at once.
        let mut frames = Vec::new();
        for _ in 0..REQUESTS {
            frames.push(conn.read_request().await);
        }
        for (i, frame) in frames.iter().enumerate() {
            assert_eq!(frame.xid, i as i32 + 1, "xids are sequential from 1");
            let Request::GetData(get) = &frame.request else {
                panic!("{frame:?}")
            };
            let data = Bytes::from(get.path.clone().into_bytes());
            let result = Ok(Response::GetData {
                data: Some(data),
                stat: stat(frame.xid),
            });
            conn.reply(frame.xid, 100 + i64::from(frame.xid), result)
                .await;
        }
        conn
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    let mut calls = Vec::new();
    for i in 0..REQUESTS {
        let client = client.clone();
        calls.push(async move { client.get_data(&format!("/n{i}"), false).await });
    }
    // Issue them in order, then await them all together.
    let mut handles = Vec::new();
    for call in calls {
        handles.push(tokio::spawn(call));
        while client.in_flight() < handles.len() {
            tokio::task::yield_now().await;
        }
    }
    for (i, handle) in handles.into_iter().enumerate() {
        let reply = handle.await.unwrap().unwrap();
        let Ok(Response::GetData { data, stat }) = &reply.result else {
            panic!("{reply:?}")
        };
        assert_eq!(data.as_deref(), Some(format!("/n{i}").as_bytes()));
        assert_eq!(stat.version, reply.xid);
        assert_eq!(reply.zxid, 100 + i64::from(reply.xid));
    }
    assert_eq!(client.last_zxid(), 100 + i64::from(REQUESTS));
    let log = client.take_wire_log();
    assert_eq!(log.len(), REQUESTS as usize);
    let _conn = server.await.unwrap();
}

#[tokio::test]
async fn out_of_order_reply_is_fatal() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = connected(listener).await;
        let first = conn.read_request().await;
        let second = conn.read_request().await;
        conn.reply(second.xid, 3, Ok(Response::Stat(stat(0)))).await;
        let _ = first;
        conn
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.exists("/a", false).await }
    });
    while client.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let second = client.exists("/b", false).await.unwrap_err();
    let first = first.await.unwrap().unwrap_err();
    for err in [first, second] {
        assert!(
            matches!(
                err,
                ClientError::XidOutOfOrder {
                    expected: 1,
                    got: 2
                }
            ),
            "{err}"
        );
    }
    assert!(client.close_reason().is_some());
    let _conn = server.await.unwrap();
}

#[tokio::test]
async fn notifications_keep_their_place_among_replies() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = connected(listener).await;
        let set = conn.read_request().await;
        let get = conn.read_request().await;
        conn.notify(7, event_type::NODE_DATA_CHANGED, "/w").await;
        conn.reply(set.xid, 7, Ok(Response::Stat(stat(1)))).await;
        conn.notify(8, event_type::NODE_DELETED, "/w").await;
        conn.reply(get.xid, 8, Err(ErrorCode::NoNode)).await;
        conn
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    let mut notifications = client.take_notifications().unwrap();
    assert!(client.take_notifications().is_none());
    let set = tokio::spawn({
        let client = client.clone();
        async move { client.set_data("/w", b"x", -1).await }
    });
    while client.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let get = client.get_data("/w", true).await.unwrap();
    let set = set.await.unwrap().unwrap();
    assert_eq!(set.stat().unwrap().version, 1);
    assert_eq!(get.code(), ErrorCode::NoNode);

    let changed = Notification {
        zxid: 7,
        event_type: event_type::NODE_DATA_CHANGED,
        state: keeper_state::SYNC_CONNECTED,
        path: "/w".into(),
    };
    let deleted = Notification {
        zxid: 8,
        event_type: event_type::NODE_DELETED,
        state: keeper_state::SYNC_CONNECTED,
        path: "/w".into(),
    };
    assert_eq!(notifications.recv().await.unwrap(), changed);
    assert_eq!(notifications.recv().await.unwrap(), deleted);
    assert!(notifications.try_recv().is_none());
    assert_eq!(
        client.take_wire_log(),
        vec![
            WireEvent::Notification(changed),
            WireEvent::Reply {
                xid: set.xid,
                zxid: 7,
                err: 0
            },
            WireEvent::Notification(deleted),
            WireEvent::Reply {
                xid: get.xid,
                zxid: 8,
                err: ErrorCode::NoNode.as_i32()
            },
        ]
    );
    let _conn = server.await.unwrap();
}

#[tokio::test]
async fn unread_notifications_are_bounded() {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let mut conn = connected(listener).await;
        for zxid in 0..10 {
            conn.notify(zxid, event_type::NODE_CREATED, "/n").await;
        }
        while conn.read_frame().await.is_some() {}
    });
    let options = ConnectOptions {
        notifications_queued_max: 4,
        ..options()
    };
    let client = Client::connect(&addr, options).await.unwrap();
    let reason = client.closed().await;
    assert!(
        matches!(reason, ClientError::NotificationOverflow { max: 4 }),
        "{reason}"
    );
}

#[tokio::test]
async fn multi_and_create_helpers_send_the_java_opcodes() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = connected(listener).await;
        let create = conn.read_request().await;
        assert_eq!(create.op, OpCode::Create);
        conn.reply(
            create.xid,
            2,
            Ok(Response::Create {
                path: "/a0000000001".into(),
            }),
        )
        .await;
        let container = conn.read_request().await;
        assert_eq!(container.op, OpCode::CreateContainer);
        conn.reply(container.xid, 2, Err(ErrorCode::NodeExists))
            .await;
        let multi = conn.read_request().await;
        let Request::Multi(ops) = &multi.request else {
            panic!("{multi:?}")
        };
        assert_eq!(ops.len(), 2);
        let results = vec![
            MultiResult::Error(ErrorCode::Ok),
            MultiResult::Error(ErrorCode::NoNode),
        ];
        conn.reply(multi.xid, 3, Ok(Response::Multi(results))).await;
        conn
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    let reply = client
        .create("/a", b"", vec![], CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(
        reply.result,
        Ok(Response::Create {
            path: "/a0000000001".into()
        })
    );
    let reply = client
        .create("/c", b"", vec![], CreateMode::Container)
        .await
        .unwrap();
    assert_eq!(reply.result, Err(ErrorCode::NodeExists));
    let reply = client
        .multi(vec![
            multi_op::check("/a", 0),
            multi_op::delete("/missing", -1),
        ])
        .await
        .unwrap();
    let Ok(Response::Multi(results)) = reply.result else {
        panic!("{reply:?}")
    };
    assert_eq!(results[1], MultiResult::Error(ErrorCode::NoNode));
    let _conn = server.await.unwrap();
}

#[tokio::test]
async fn an_undecodable_reply_body_fails_only_its_request() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = connected(listener).await;
        let get = conn.read_request().await;
        let mut out = BytesMut::new();
        ReplyHeader {
            xid: get.xid,
            zxid: 4,
            err: 0,
        }
        .encode(&mut out);
        out.put_i32(1000); // a data length far beyond the frame
        conn.write_frame(&out).await;
        let unknown = conn.read_request().await;
        let mut out = BytesMut::new();
        ReplyHeader {
            xid: unknown.xid,
            zxid: 4,
            err: -9999,
        }
        .encode(&mut out);
        conn.write_frame(&out).await;
        let exists = conn.read_request().await;
        conn.reply(exists.xid, 5, Ok(Response::Stat(stat(2)))).await;
        conn
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    let err = client.get_data("/a", false).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::BadReply {
                xid: 1,
                op_type: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_fatal());
    let err = client.get_data("/a", false).await.unwrap_err();
    assert!(
        matches!(err, ClientError::UnknownErrorCode { err: -9999, .. }),
        "{err}"
    );
    let reply = client.exists("/a", false).await.unwrap();
    assert_eq!(reply.stat().unwrap().version, 2);
    let _conn = server.await.unwrap();
}

#[tokio::test]
async fn oversize_negative_and_short_frames_are_fatal_not_panics() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversize", 0x0010_0000i32.to_be_bytes().to_vec()),
        ("negative", (-5i32).to_be_bytes().to_vec()),
        ("short", vec![0, 0, 0, 3, 1, 2, 3]),
        ("bad notification", {
            let mut frame = vec![0, 0, 0, 18];
            frame.extend_from_slice(&[0xff; 4]); // xid -1
            frame.extend_from_slice(&[0; 12]);
            frame.extend_from_slice(&[0, 1]);
            frame
        }),
        ("unexpected reply", {
            let mut frame = vec![0, 0, 0, 16];
            frame.extend_from_slice(&[0, 0, 0, 9]);
            frame.extend_from_slice(&[0; 12]);
            frame
        }),
    ];
    for (name, bytes) in cases {
        let (listener, addr) = listen().await;
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut conn = connected(listener).await;
            conn.stream.write_all(&bytes).await.unwrap();
            while conn.read_frame().await.is_some() {}
        });
        let client = Client::connect(&addr, options()).await.unwrap();
        let reason = tokio::time::timeout(Duration::from_secs(5), client.closed())
            .await
            .unwrap();
        let expected = match name {
            "oversize" | "negative" => matches!(reason, ClientError::Frame(_)),
            "short" | "bad notification" => matches!(reason, ClientError::Decode { .. }),
            _ => matches!(reason, ClientError::UnexpectedReply { xid: 9 }),
        };
        assert!(expected, "{name}: {reason}");
    }
}

#[tokio::test]
async fn the_frame_limit_is_configurable() {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let mut conn = connected(listener).await;
        let get = conn.read_request().await;
        let data = Bytes::from(vec![1u8; 200]);
        let result = Ok(Response::GetData {
            data: Some(data),
            stat: stat(0),
        });
        conn.reply(get.xid, 1, result).await;
        while conn.read_frame().await.is_some() {}
    });
    let options = ConnectOptions {
        max_frame_bytes: 100,
        ..options()
    };
    let client = Client::connect(&addr, options).await.unwrap();
    let err = client.get_data("/big", false).await.unwrap_err();
    assert!(matches!(err, ClientError::Frame(_)), "{err}");
}

#[tokio::test]
async fn raw_frames_reach_the_server_and_raw_requests_get_their_reply() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let mut conn = connected(listener).await;
        let garbage = conn.read_frame().await.unwrap();
        assert_eq!(&garbage[..], &[1, 2, 3]);
        let raw = conn.read_frame().await.unwrap();
        assert_eq!(&raw[..8], &[0, 0, 0, 77, 0, 0, 0, 4]);
        conn.reply(77, 6, Err(ErrorCode::MarshallingError)).await;
        let raw = conn.read_frame().await.unwrap();
        assert_eq!(&raw[..], &[0, 0, 0, 78, 0, 0, 0, 3]);
        conn.reply(78, 6, Ok(Response::Stat(stat(4)))).await;
        drop(conn);
    });
    let client = Client::connect(&addr, options()).await.unwrap();
    client.send_raw_frame(&[1, 2, 3]).await.unwrap();
    let reply = client
        .raw_request(&[0, 0, 0, 77, 0, 0, 0, 4, 0xff])
        .await
        .unwrap();
    assert_eq!((reply.xid, reply.zxid), (77, 6));
    assert_eq!(reply.result, Err(ErrorCode::MarshallingError));
    let reply = client
        .raw_request(&[0, 0, 0, 78, 0, 0, 0, 3])
        .await
        .unwrap();
    assert_eq!(reply.stat().unwrap().version, 4);
    assert_eq!(reply.body.len(), 68);
    server.await.unwrap();
    let reason = client.closed().await;
    assert!(matches!(reason, ClientError::ConnectionClosed), "{reason}");
}
