//! The pieces every hostile-input test uses: a `corral server` process of its own, a healthy
//! bystander session that must keep working after each case, and a raw TCP connection that
//! writes exactly the bytes a case needs and reads frames (or the close) back.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use corral_proto::connect::{ConnectRequest, ConnectResponse};
use corral_proto::records::ReplyHeader;
use corral_proto::request::Request;
use corral_proto::Jute;
use corral_testkit::CorralProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeper_client as zk;

#[path = "../common/wait.rs"]
mod wait;
pub use wait::{eventually, within, STEP};

/// `jute.maxbuffer`'s default: the largest frame the server accepts.
pub const MAX_FRAME: usize = 0xfffff;

/// A server under attack and the session that must not notice.
pub struct Target {
    process: CorralProcess,
    bystander: zk::Client,
    checks: AtomicU32,
    _data: tempfile::TempDir,
}

impl Target {
    pub async fn start() -> Target {
        Target::with_cfg(&[]).await
    }

    pub async fn with_cfg(extra: &[(&str, &str)]) -> Target {
        let data = tempfile::Builder::new()
            .prefix("corral-malformed-")
            .tempdir()
            .expect("temporary data directory");
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let binary = Path::new(env!("CARGO_BIN_EXE_corral"));
        let (process, _port) = CorralProcess::standalone(binary, data.path(), &extra)
            .unwrap_or_else(|e| panic!("corral server did not start: {e:#}"));
        let bystander = within(
            "bystander connect",
            zk::Client::connector()
                .with_session_timeout(Duration::from_secs(20))
                .connect(&process.connect_string()),
        )
        .await
        .expect("bystander connects");
        let target = Target {
            process,
            bystander,
            checks: AtomicU32::new(0),
            _data: data,
        };
        target.bystander_works("startup").await;
        target
    }

    pub fn addr(&self) -> String {
        self.process.connect_string()
    }

    pub fn bystander(&self) -> &zk::Client {
        &self.bystander
    }

    /// The bystander session writes, reads and deletes a node of its own: the server kept
    /// serving everyone else through `case`.
    pub async fn bystander_works(&self, case: &str) {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        let path = format!("/bystander-{n}");
        let client = &self.bystander;
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let body = case.as_bytes();
        let result = async {
            client.create(&path, body, &options).await?;
            let (data, stat) = client.get_data(&path).await?;
            assert_eq!(data, body);
            client.delete(&path, Some(stat.version)).await
        };
        match tokio::time::timeout(STEP, result).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("after {case}: the bystander failed: {e}"),
            Err(_) => panic!("after {case}: the bystander got no answer within {STEP:?}"),
        }
    }

    /// Sends a four-letter word and returns the whole answer.
    pub async fn four_letter(&self, word: &[u8]) -> String {
        let mut raw = Raw::connect(&self.addr()).await;
        raw.send(word).await;
        String::from_utf8_lossy(&raw.read_to_close().await).into_owned()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }

    /// The process is alive, answers `ruok`, logged no panic, and the bystander still works.
    pub async fn assert_healthy(&mut self) {
        assert!(self.process.is_running(), "corral server exited");
        assert_eq!(self.four_letter(b"ruok").await, "imok");
        let log = self.log();
        assert!(!log.contains("panicked"), "the server panicked:\n{log}");
        self.bystander_works("the end").await;
    }
}

/// One raw TCP connection.
pub struct Raw {
    stream: TcpStream,
    buffer: BytesMut,
}

/// A frame body with its length prefix.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.put_i32(body.len() as i32);
    out.put_slice(body);
    out
}

/// A ConnectRequest for a new session, with or without the trailing readOnly byte.
pub fn connect_request(read_only: Option<bool>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 20_000,
        session_id: 0,
        password: Some(bytes::Bytes::from_static(&[0; 16])),
        read_only,
    }
}

pub fn encode_connect(request: &ConnectRequest) -> Vec<u8> {
    let mut body = BytesMut::new();
    request.encode(&mut body);
    body.to_vec()
}

/// Header + record, as a client sends it (without the length).
pub fn request_body(xid: i32, request: &Request) -> Vec<u8> {
    let mut body = BytesMut::new();
    request.encode_frame(xid, &mut body);
    body.to_vec()
}

/// A reply: header, then the body bytes.
#[derive(Debug)]
pub struct RawReply {
    pub header: ReplyHeader,
    pub body: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: &str) -> Raw {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("tcp connect");
        Raw::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Raw {
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buffer: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// A connection with a session (readOnly byte sent).
    pub async fn session(addr: &str) -> Raw {
        Raw::try_session(addr)
            .await
            .expect("the server closed the connection during the handshake")
    }

    /// A connection with a session, or `None` if the server closed it instead of answering.
    pub async fn try_session(addr: &str) -> Option<Raw> {
        let mut raw = Raw::connect(addr).await;
        raw.send_frame(&encode_connect(&connect_request(Some(false))))
            .await;
        let response = raw.read_frame().await?;
        let response = ConnectResponse::decode(&response).expect("a valid ConnectResponse");
        assert!(response.timeout_ms > 0 && response.session_id != 0);
        Some(raw)
    }

    /// Writes `bytes`; a write the server already refused (reset, broken pipe) is ignored,
    /// since what matters is what the server does, which the reads observe.
    pub async fn send(&mut self, bytes: &[u8]) {
        let _ = within("write", self.stream.write_all(bytes)).await;
    }

    pub async fn send_frame(&mut self, body: &[u8]) {
        self.send(&frame(body)).await;
    }

    pub async fn send_request(&mut self, xid: i32, request: &Request) {
        self.send_frame(&request_body(xid, request)).await;
    }

    /// Stops writing: the server reads end-of-stream.
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Reads more bytes; false at end of stream (or reset).
    async fn fill(&mut self) -> bool {
        match within("read", self.stream.read_buf(&mut self.buffer)).await {
            Ok(0) | Err(_) => false,
            Ok(_) => true,
        }
    }

    /// The next frame body, or `None` once the server has closed the connection.
    pub async fn read_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.buffer.len() >= 4 {
                let length = i32::from_be_bytes(self.buffer[..4].try_into().unwrap());
                let length = usize::try_from(length).expect("the server sent a negative length");
                assert!(length <= MAX_FRAME, "the server sent a {length}-byte frame");
                if self.buffer.len() >= 4 + length {
                    self.buffer.advance(4);
                    return Some(self.buffer.split_to(length).to_vec());
                }
            }
            if !self.fill().await {
                assert!(
                    self.buffer.is_empty(),
                    "the connection closed mid-frame: {:?}",
                    &self.buffer[..]
                );
                return None;
            }
        }
    }

    /// The next reply that is not a notification.
    pub async fn read_reply(&mut self) -> Option<RawReply> {
        loop {
            let body = self.read_frame().await?;
            let mut reader = corral_proto::Reader::new(&body);
            let header = ReplyHeader::decode(&mut reader).expect("a reply header");
            if header.xid == -1 {
                continue;
            }
            let body = reader.rest().to_vec();
            return Some(RawReply { header, body });
        }
    }

    /// Sends `request` and returns its reply.
    pub async fn call(&mut self, xid: i32, request: &Request) -> RawReply {
        self.send_request(xid, request).await;
        let reply = self.read_reply().await.expect("a reply, not a close");
        assert_eq!(reply.header.xid, xid, "{reply:?}");
        reply
    }

    /// Everything the server still sends until it closes the connection.
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buffer).to_vec()
    }

    /// Asserts the server closes the connection without sending anything (more).
    pub async fn expect_silent_close(&mut self, case: &str) {
        let rest = self.read_to_close().await;
        assert!(
            rest.is_empty(),
            "{case}: the server sent {rest:?} before closing"
        );
    }

    /// Asserts that the connection still works: a ping is answered.
    pub async fn expect_alive(&mut self, case: &str) {
        self.send_request(-2, &Request::Ping).await;
        let reply = self.read_reply().await;
        assert!(
            matches!(&reply, Some(r) if r.header.xid == -2 && r.header.err == 0),
            "{case}: no ping reply, got {reply:?}"
        );
    }
}
