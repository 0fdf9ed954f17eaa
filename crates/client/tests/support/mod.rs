//! A scripted fake server: each test drives one accepted connection byte by byte, so it can
//! produce exactly the interleavings, errors and malformed frames it wants to check.

#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use corral_client::corral_proto::connect::{ConnectRequest, ConnectResponse};
use corral_client::corral_proto::frame::{put_frame, split_frame};
use corral_client::corral_proto::request::{Request, RequestFrame};
use corral_client::corral_proto::response::{encode_notification, encode_reply, Response};
use corral_client::corral_proto::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const SESSION_ID: i64 = 0x0100_0000_0000_0042;
pub const PASSWORD: [u8; 16] = [9; 16];

pub async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

pub struct FakeConn {
    pub stream: TcpStream,
    buffer: BytesMut,
}

impl FakeConn {
    pub async fn accept(listener: &TcpListener) -> FakeConn {
        let (stream, _) = listener.accept().await.unwrap();
        FakeConn {
            stream,
            buffer: BytesMut::new(),
        }
    }

    /// The next frame body; `None` on EOF.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = split_frame(&mut self.buffer, 1 << 20).unwrap() {
                return Some(frame);
            }
            if self.stream.read_buf(&mut self.buffer).await.unwrap() == 0 {
                return None;
            }
        }
    }

    pub async fn write_frame(&mut self, body: &[u8]) {
        let mut out = BytesMut::new();
        put_frame(&mut out, body);
        self.stream.write_all(&out).await.unwrap();
    }

    /// Reads the ConnectRequest and answers it, echoing the readOnly byte's presence as
    /// ZooKeeper 3.9 does. Returns the request and its body length.
    pub async fn handshake(&mut self, timeout_ms: i32) -> (ConnectRequest, usize) {
        let body = self.read_frame().await.unwrap();
        let request = ConnectRequest::decode(&body).unwrap();
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: SESSION_ID,
            password: Some(Bytes::from_static(&PASSWORD)),
            read_only: request.read_only.map(|_| false),
        };
        let mut out = BytesMut::new();
        response.encode(&mut out);
        self.write_frame(&out).await;
        (request, body.len())
    }

    pub async fn read_request(&mut self) -> RequestFrame {
        let body = self.read_frame().await.expect("request");
        Request::decode_frame(&body).unwrap()
    }

    pub async fn reply(&mut self, xid: i32, zxid: i64, result: Result<Response, ErrorCode>) {
        let mut out = BytesMut::new();
        encode_reply(xid, zxid, &result, &mut out);
        self.write_frame(&out).await;
    }

    pub async fn notify(&mut self, zxid: i64, event_type: i32, path: &str) {
        let mut out = BytesMut::new();
        encode_notification(zxid, event_type, path, &mut out);
        self.write_frame(&out).await;
    }
}
