//! One established peer connection, and the two halves of the handshake that establish it:
//! [`dial`] (connecting side) and [`accept`] (accepting side).
//!
//! A [`Conn`] only exists after a successful handshake, so everything above this file knows
//! which server is at the other end and what the connection carries.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::{PeerConfig, HELLO_BYTES_MAX, TCP_KEEPALIVE_IDLE, TCP_KEEPALIVE_INTERVAL};
use crate::error::{FrameError, PeerError};
use crate::frame::{decode, encode_frame, frame_bytes, read_frame};
use crate::handshake::{
    check_hello, version_mismatch, Channel, Hello, HelloReply, ParsedHello, ParsedReply, Verdict,
    PEER_PROTOCOL_VERSION,
};

/// The read half of [`Conn::into_buffered_split`].
pub(crate) type BufferedRead = BufReader<tokio::io::Chain<std::io::Cursor<Vec<u8>>, OwnedReadHalf>>;

/// A connection past its handshake.
pub(crate) struct Conn {
    io: BufReader<TcpStream>,
    frame_bytes_max: usize,
    /// The server at the other end.
    pub(crate) peer_id: u64,
    /// Its address, for logs.
    pub(crate) addr: String,
    pub(crate) channel: Channel,
}

impl Conn {
    /// Encodes and sends one message.
    pub(crate) async fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), PeerError> {
        let frame = encode_frame(msg, self.frame_bytes_max)?;
        self.send_frame(&frame).await
    }

    /// Sends an already encoded frame.
    pub(crate) async fn send_frame(&mut self, frame: &[u8]) -> Result<(), PeerError> {
        self.io.get_mut().write_all(frame).await?;
        Ok(())
    }

    /// Receives and decodes one message. An oversize frame is logged here, once, at warn:
    /// it means a misbehaving peer or mismatched limits, which an operator must see.
    pub(crate) async fn recv<T: DeserializeOwned>(&mut self) -> Result<T, PeerError> {
        let payload = match read_frame(&mut self.io, self.frame_bytes_max).await {
            Ok(payload) => payload,
            Err(e @ FrameError::TooLarge { .. }) => {
                tracing::warn!(
                    "closing {:?} connection with peer {} at {}: {e} (frame_bytes_max)",
                    self.channel,
                    self.peer_id,
                    self.addr
                );
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        decode(&payload)
    }

    /// True if this idle connection can carry another request: nothing unread is buffered and
    /// the peer has not closed it (a restarted peer's old connections read as closed).
    pub(crate) fn is_reusable(&self) -> bool {
        if !self.io.buffer().is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(
            self.io.get_ref().try_read(&mut probe),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// The raw halves, for a connection that reads and writes at once (an ordered stream,
    /// whose receiver may close it at any time). Bytes already buffered would be lost, so a
    /// connection with any is refused.
    pub(crate) fn into_split(self) -> Result<(OwnedReadHalf, OwnedWriteHalf), PeerError> {
        if !self.io.buffer().is_empty() {
            return Err(PeerError::Protocol(
                "peer sent data before the stream began".into(),
            ));
        }
        Ok(self.io.into_inner().into_split())
    }

    /// The halves of a connection that reads and writes at once, keeping whatever the read
    /// side had buffered (the peer may send right after the handshake).
    pub(crate) fn into_buffered_split(self) -> (BufferedRead, OwnedWriteHalf) {
        let buffered = std::io::Cursor::new(self.io.buffer().to_vec());
        let (read, write) = self.io.into_inner().into_split();
        (BufReader::new(buffered.chain(read)), write)
    }

    pub(crate) fn frame_bytes_max(&self) -> usize {
        self.frame_bytes_max
    }
}

/// Connects to server `target` at `addr` and runs the connecting half of the handshake.
/// Refusals (ours or the peer's) come back as [`PeerError::Refused`] with a message naming the
/// peer and both protocol versions; logging them is the caller's (see `pool.rs`).
pub(crate) async fn dial(
    config: &PeerConfig,
    target: u64,
    addr: &str,
    channel: Channel,
) -> Result<Conn, PeerError> {
    let stream = match timeout(config.connect_timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(PeerError::ConnectTimeout {
                addr: addr.to_string(),
                after: config.connect_timeout,
            })
        }
        Ok(Err(source)) => {
            return Err(PeerError::Unreachable {
                addr: addr.to_string(),
                source,
            })
        }
        Ok(Ok(stream)) => stream,
    };
    tune(&stream)?;
    let mut conn = Conn {
        io: BufReader::new(stream),
        frame_bytes_max: config.frame_bytes_max,
        peer_id: target,
        addr: addr.to_string(),
        channel,
    };
    let hello = Hello::new(config, target, channel).encode()?;
    match timeout(config.handshake_timeout, exchange_hello(&mut conn, &hello)).await {
        Err(_) => Err(PeerError::HandshakeTimeout(config.handshake_timeout)),
        Ok(Err(e)) => Err(e),
        Ok(Ok(reply)) => judge_reply(reply, target, addr).map(|()| conn),
    }
}

/// Sends our hello and reads the answer.
async fn exchange_hello(conn: &mut Conn, hello: &[u8]) -> Result<ParsedReply, PeerError> {
    conn.send_frame(&frame_bytes(hello, HELLO_BYTES_MAX)?)
        .await?;
    match read_frame(&mut conn.io, HELLO_BYTES_MAX).await {
        Ok(payload) => HelloReply::decode(&payload),
        Err(FrameError::Closed) => Err(PeerError::Refused(format!(
            "server {} at {} closed the connection without answering the hello",
            conn.peer_id, conn.addr
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Accepts a welcome from the server we meant to reach, at our version; refuses anything else.
fn judge_reply(reply: ParsedReply, target: u64, addr: &str) -> Result<(), PeerError> {
    let reply = match reply {
        ParsedReply::OtherVersion { protocol_version } => {
            return Err(PeerError::Refused(format!(
                "server {target} at {addr} answered in another protocol: {} (peer protocol \
                 version {protocol_version}, ours {PEER_PROTOCOL_VERSION})",
                version_mismatch(protocol_version)
            )))
        }
        ParsedReply::Reply(reply) => reply,
    };
    let versions = format!(
        "peer protocol version {}, ours {PEER_PROTOCOL_VERSION}",
        reply.protocol_version
    );
    match reply.verdict {
        Verdict::Refused { reason } => Err(PeerError::Refused(format!(
            "server {} at {addr} refused our hello: {reason} ({versions})",
            reply.server_id
        ))),
        Verdict::Welcome if reply.protocol_version != PEER_PROTOCOL_VERSION => {
            Err(PeerError::Refused(format!(
                "server {target} at {addr} welcomed us at another version ({versions})"
            )))
        }
        Verdict::Welcome if reply.server_id != target => Err(PeerError::Refused(format!(
            "{addr} is server {}, not server {target} ({versions})",
            reply.server_id
        ))),
        Verdict::Welcome => Ok(()),
    }
}

/// Runs the accepting half of the handshake on a new inbound connection. Every refusal is
/// answered (so the other side can log why), logged here at warn naming the peer and both
/// versions, and the connection is then closed by dropping it.
pub(crate) async fn accept(
    stream: TcpStream,
    addr: SocketAddr,
    config: &PeerConfig,
) -> Result<Conn, PeerError> {
    tune(&stream)?;
    let mut io = BufReader::new(stream);
    let hello = match timeout(
        config.handshake_timeout,
        read_frame(&mut io, HELLO_BYTES_MAX),
    )
    .await
    {
        Err(_) => Err(format!("no hello within {:?}", config.handshake_timeout)),
        Ok(Err(FrameError::Closed)) => {
            // Connected and closed without a byte: a liveness probe (a follower knocking on
            // its leader's port, a load balancer's check), not a misbehaving peer.
            tracing::debug!("connection from {addr} closed before its hello (a probe)");
            return Err(PeerError::Frame(FrameError::Closed));
        }
        Ok(Err(e)) => Err(format!("unreadable hello: {e}")),
        Ok(Ok(payload)) => Hello::decode(&payload).map_err(|e| e.to_string()),
    };
    let verdict = match hello {
        Ok(parsed) => judge_hello(parsed, config, addr),
        Err(reason) => {
            tracing::warn!(
                "refused peer connection from {addr}: {reason} (peer protocol version \
                 unknown, ours {PEER_PROTOCOL_VERSION})"
            );
            Err(reason)
        }
    };
    match verdict {
        Ok(hello) => welcome(io, addr, config, hello).await,
        Err(reason) => {
            refuse(&mut io, config, &reason).await;
            Err(PeerError::Refused(reason))
        }
    }
}

/// The hello if we accept it, else the refusal (already logged at warn).
fn judge_hello(
    parsed: ParsedHello,
    config: &PeerConfig,
    addr: SocketAddr,
) -> Result<Hello, String> {
    let hello = match parsed {
        ParsedHello::OtherVersion { protocol_version } => {
            let reason = version_mismatch(protocol_version);
            tracing::warn!(
                "refused peer connection from {addr} (peer id unknown): {reason} (peer \
                 protocol version {protocol_version}, ours {PEER_PROTOCOL_VERSION})"
            );
            return Err(reason);
        }
        ParsedHello::Hello(hello) => hello,
    };
    check_hello(&hello, config).map_err(|reason| {
        tracing::warn!(
            "refused {:?} connection from peer {} at {addr}: {reason} (peer protocol version \
             {}, ours {PEER_PROTOCOL_VERSION})",
            hello.channel,
            hello.from,
            hello.protocol_version
        );
        reason
    })?;
    Ok(hello)
}

async fn welcome(
    mut io: BufReader<TcpStream>,
    addr: SocketAddr,
    config: &PeerConfig,
    hello: Hello,
) -> Result<Conn, PeerError> {
    let reply = HelloReply::new(config.my_id, Verdict::Welcome).encode()?;
    let frame = frame_bytes(&reply, HELLO_BYTES_MAX)?;
    match timeout(config.handshake_timeout, io.get_mut().write_all(&frame)).await {
        Err(_) => return Err(PeerError::HandshakeTimeout(config.handshake_timeout)),
        Ok(result) => result?,
    }
    if hello.channel == Channel::RaftAppend {
        // openraft opens one per replication stream: routine.
        tracing::debug!(
            "peer {} at {addr} connected ({:?})",
            hello.from,
            hello.channel
        );
    } else {
        tracing::info!(
            "peer {} at {addr} connected ({:?})",
            hello.from,
            hello.channel
        );
    }
    Ok(Conn {
        io,
        frame_bytes_max: config.frame_bytes_max,
        peer_id: hello.from,
        addr: addr.to_string(),
        channel: hello.channel,
    })
}

/// Answers a refusal, best effort and bounded in time: the connection closes either way.
async fn refuse(io: &mut BufReader<TcpStream>, config: &PeerConfig, reason: &str) {
    let Ok(payload) = HelloReply::new(
        config.my_id,
        Verdict::Refused {
            reason: reason.to_string(),
        },
    )
    .encode() else {
        return;
    };
    if let Ok(frame) = frame_bytes(&payload, HELLO_BYTES_MAX) {
        let write = async {
            io.get_mut().write_all(&frame).await?;
            io.get_mut().shutdown().await
        };
        let _ = timeout(config.handshake_timeout, write).await;
    }
}

/// Latency over throughput for small RPCs (no Nagle delay), and kernel keep-alives so that a
/// vanished peer's connection dies.
fn tune(stream: &TcpStream) -> Result<(), PeerError> {
    stream.set_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(TCP_KEEPALIVE_IDLE)
        .with_interval(TCP_KEEPALIVE_INTERVAL);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
    Ok(())
}

/// `fut` within `after`, else [`PeerError::Timeout`].
pub(crate) async fn within<T>(
    after: Duration,
    fut: impl std::future::Future<Output = Result<T, PeerError>>,
) -> Result<T, PeerError> {
    timeout(after, fut)
        .await
        .map_err(|_| PeerError::Timeout(after))?
}
