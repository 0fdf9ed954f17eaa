//! One client connection: the reader task (this module) decodes frames in order and hands
//! them to the [`requests`] pipeline; the [`writer`] task owns the socket's write half. The
//! [`handle`] is what the rest of the server sees of a connection.
//!
//! Life of a connection: the first four bytes may be a four-letter word (answered, then
//! closed); otherwise the first frame is the handshake ([`handshake`]), then requests follow
//! until the client closes, the session ends, or the client sends something ZooKeeper would
//! close the connection for.

pub mod handle;
pub mod handshake;
pub mod registry;
pub mod requests;
pub mod writer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use corral_proto::frame::split_frame;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;

use crate::four_letter;
use crate::server::Context;
use handle::ConnectionHandle;

/// Connection ids are unique across restarts (they start from the start time), because log
/// entries replayed after a restart carry the connection id of the client that sent them, and
/// a new connection must never be answered a reply meant for an old one.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(0);

fn next_connection_id() -> u64 {
    if NEXT_CONNECTION_ID.load(Ordering::Relaxed) == 0 {
        let start = (crate::core::wall_clock_ms() as u64) << 20;
        let _ = NEXT_CONNECTION_ID.compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed);
    }
    NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed)
}

/// Why the reader stopped; every variant ends the connection.
#[derive(Debug)]
pub enum Closed {
    /// The peer closed or the socket failed.
    Eof,
    /// The server decided to close (bad frame, failed handshake, session gone...).
    Server(&'static str),
}

/// The receive side: a socket and what has arrived but not been consumed.
struct Inbox {
    socket: OwnedReadHalf,
    buffer: BytesMut,
    max_frame_bytes: usize,
}

impl Inbox {
    async fn fill(&mut self) -> Result<(), Closed> {
        self.buffer.reserve(16 * 1024);
        match self.socket.read_buf(&mut self.buffer).await {
            Ok(0) | Err(_) => Err(Closed::Eof),
            Ok(_) => Ok(()),
        }
    }

    /// Waits for at least `bytes` buffered bytes.
    async fn fill_to(&mut self, bytes: usize) -> Result<(), Closed> {
        while self.buffer.len() < bytes {
            self.fill().await?;
        }
        Ok(())
    }

    /// The next complete frame, if one is buffered.
    fn next_frame(&mut self) -> Result<Option<Bytes>, Closed> {
        split_frame(&mut self.buffer, self.max_frame_bytes)
            .map_err(|_| Closed::Server("frame length out of range"))
    }

    async fn read_frame(&mut self) -> Result<Bytes, Closed> {
        loop {
            if let Some(frame) = self.next_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }
}

/// Serves one accepted socket until it closes.
pub async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Context) {
    let _ = stream.set_nodelay(true);
    let id = next_connection_id();
    let (read_half, write_half) = stream.into_split();
    let handle = Arc::new(ConnectionHandle::new(id, peer, ctx.core.stats.clone()));
    let max_per_ip = ctx.core.config.max_client_cnxns;
    if !ctx.core.connections.register(handle.clone(), max_per_ip) {
        tracing::warn!(%peer, max_per_ip, "too many connections from this address; closing");
        ctx.core
            .stats
            .connections_rejected
            .fetch_add(1, Ordering::Relaxed);
        return;
    }
    let writer = tokio::spawn(writer::run(write_half, handle.clone()));
    let mut inbox = Inbox {
        socket: read_half,
        buffer: BytesMut::with_capacity(16 * 1024),
        max_frame_bytes: ctx.core.config.jute_max_buffer_bytes,
    };
    handle.set_queued_bytes_max(ctx.core.config.outbound_queued_bytes_max);
    // An aborted connection (its client stopped reading) ends now, whatever the reader waits for.
    let outcome = tokio::select! {
        outcome = run(&mut inbox, &handle, &ctx) => outcome,
        () = handle.aborted() => Err(Closed::Server("outbound queue over its limit")),
    };
    if let Err(Closed::Server(reason)) = &outcome {
        tracing::debug!(connection = id, %peer, reason, "closing connection");
    }
    ctx.core.watches.lock().remove_connection(id);
    ctx.core.connections.unregister(id);
    handle.close();
    // A client that does not read cannot hold the task forever by blocking the final flush.
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, &mut writer)
        .await
        .is_err()
    {
        handle.abort();
        let _ = writer.await;
    }
}

/// How long a closing connection may take to flush what it has queued.
const CLOSE_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn run(
    inbox: &mut Inbox,
    handle: &Arc<ConnectionHandle>,
    ctx: &Context,
) -> Result<(), Closed> {
    inbox.fill_to(4).await?;
    if let Some(word) = four_letter::recognise(&inbox.buffer[..4]) {
        let argument = if word == "stmk" {
            inbox.fill_to(12).await?;
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&inbox.buffer[4..12]);
            Some(i64::from_be_bytes(raw))
        } else {
            None
        };
        let text = four_letter::answer(word, argument, ctx).await;
        handle.send_raw(text.as_bytes());
        return Err(Closed::Server("four-letter word answered"));
    }
    let connect = inbox.read_frame().await?;
    handshake::run(&connect, handle, ctx).await?;
    let mut pipeline = requests::Pipeline::new(handle.clone(), ctx.clone());
    loop {
        while let Some(frame) = inbox.next_frame()? {
            pipeline.handle_frame(frame).await?;
        }
        inbox.fill().await?;
    }
}
