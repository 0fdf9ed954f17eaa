//! Ordered one-way streams of app messages: [`AppStream`] (sending side) and [`serve_stream`]
//! (receiving side).
//!
//! A stream is one TCP connection; order is TCP's order, and the receiver handles messages one
//! at a time. A stream never reconnects: once broken (the connection failed, a write made no
//! progress for `stream_idle_timeout`, or the receiver's handler refused a message) it stays
//! broken, every later `send` fails, and [`AppStream::closed`] tells the caller, who must treat
//! everything it sent on it as possibly lost and open a new stream. Reconnecting silently
//! would let messages after a gap arrive as if nothing were missing.

use std::pin::pin;

use bytes::Bytes;
use openraft::RaftTypeConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

use crate::config::{PeerConfig, STREAM_WRITE_BATCH_BYTES_MAX};
use crate::conn::{within, Conn};
use crate::error::{FrameError, PeerError};
use crate::frame::{decode, encode_frame, read_frame};
use crate::handler::InboundHandler;
use crate::message::{Blob, StreamFrame, StreamReply};

/// The sending side of one ordered stream. Messages are encoded by the caller's `send` and
/// queued (at most `stream_queue_max`) for a writer task that owns the connection. The task
/// ends when the stream breaks or when this handle is dropped (after writing what was queued).
pub struct AppStream {
    queue: mpsc::Sender<Vec<u8>>,
    broken: watch::Receiver<Option<String>>,
    peer: u64,
    frame_bytes_max: usize,
}

impl AppStream {
    pub(crate) fn start(conn: Conn, config: &PeerConfig) -> Result<AppStream, PeerError> {
        let peer = conn.peer_id;
        let addr = conn.addr.clone();
        let frame_bytes_max = conn.frame_bytes_max();
        let (read, write) = conn.into_split()?;
        let (queue, queued) = mpsc::channel(config.queue_len());
        let (broken_tx, broken) = watch::channel(None);
        let writer = Writer {
            read,
            write,
            queued,
            config: config.clone(),
            peer,
            addr,
        };
        tokio::spawn(writer.run(broken_tx));
        Ok(AppStream {
            queue,
            broken,
            peer,
            frame_bytes_max,
        })
    }

    /// A stream whose writer the caller provides (the memory net's): it reads the encoded
    /// frames from the receiver, and must set the reason in the sender before dropping the
    /// receiver when the stream breaks (as [`Writer::run`] does).
    pub(crate) fn with_writer(
        peer: u64,
        frame_bytes_max: usize,
        queue_len: usize,
    ) -> (
        AppStream,
        mpsc::Receiver<Vec<u8>>,
        watch::Sender<Option<String>>,
    ) {
        let (queue, queued) = mpsc::channel(queue_len.max(1));
        let (broken_tx, broken) = watch::channel(None);
        let stream = AppStream {
            queue,
            broken,
            peer,
            frame_bytes_max,
        };
        (stream, queued, broken_tx)
    }

    /// The peer's server id.
    pub fn target(&self) -> u64 {
        self.peer
    }

    /// Queues `body` after everything sent before, waiting while the queue is full (the
    /// caller is slowed down to the pace of the peer, never allowed to queue without bound).
    /// Fails if the stream is broken (also while waiting), or without breaking it if `body`
    /// alone is over `frame_bytes_max`.
    pub async fn send(&self, body: Bytes) -> Result<(), PeerError> {
        let frame = self.encode(body)?;
        self.check()?;
        self.queue
            .send(frame)
            .await
            .map_err(|_| self.broken_error())
    }

    /// Like [`AppStream::send`] but never waits: a full queue is [`PeerError::QueueFull`] (the
    /// message is not queued; the stream is not broken).
    pub fn try_send(&self, body: Bytes) -> Result<(), PeerError> {
        let frame = self.encode(body)?;
        self.check()?;
        self.queue.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PeerError::QueueFull { peer: self.peer },
            mpsc::error::TrySendError::Closed(_) => self.broken_error(),
        })
    }

    /// Resolves when the stream breaks, with the reason.
    pub async fn closed(&self) -> String {
        let mut broken = self.broken.clone();
        let reason = match broken.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        reason.unwrap_or_else(|| "the stream's writer ended".to_string())
    }

    pub fn is_broken(&self) -> bool {
        self.broken.borrow().is_some() || self.queue.is_closed()
    }

    fn encode(&self, body: Bytes) -> Result<Vec<u8>, PeerError> {
        encode_frame(&StreamFrame::Message(Blob(body)), self.frame_bytes_max)
    }

    fn check(&self) -> Result<(), PeerError> {
        if self.is_broken() {
            return Err(self.broken_error());
        }
        Ok(())
    }

    fn broken_error(&self) -> PeerError {
        let reason = self.broken.borrow().clone();
        PeerError::StreamBroken {
            peer: self.peer,
            reason: reason.unwrap_or_else(|| "the stream's writer ended".to_string()),
        }
    }
}

/// The task that owns a stream's connection.
struct Writer {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    queued: mpsc::Receiver<Vec<u8>>,
    config: PeerConfig,
    peer: u64,
    addr: String,
}

impl Writer {
    async fn run(mut self, broken: watch::Sender<Option<String>>) {
        match self.pump().await {
            None => tracing::info!(
                "stream to peer {} at {} closed by this server",
                self.peer,
                self.addr
            ),
            Some(reason) => {
                tracing::info!(
                    "stream to peer {} at {} broken: {reason}",
                    self.peer,
                    self.addr
                );
                // Before the queue's receiver is dropped, so a failed `send` finds the reason.
                broken.send_replace(Some(reason));
            }
        }
    }

    /// Writes queued frames in batches until the handle is dropped (`None`) or the stream
    /// breaks (the reason). Meanwhile it listens for the receiver closing the stream.
    async fn pump(&mut self) -> Option<String> {
        let mut peer_closed = pin!(read_closing(&mut self.read, self.config.frame_bytes_max));
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                biased;
                reason = &mut peer_closed => return Some(reason),
                next = self.queued.recv() => {
                    let Some(frame) = next else {
                        let _ = self.write.shutdown().await;
                        return None;
                    };
                    fill_batch(&mut batch, frame, &mut self.queued);
                    let write = async { Ok(self.write.write_all(&batch).await?) };
                    if let Err(e) = within(self.config.stream_idle_timeout, write).await {
                        return Some(format!("write failed: {e}"));
                    }
                }
            }
        }
    }
}

/// `first` and whatever else is queued, up to `STREAM_WRITE_BATCH_BYTES_MAX`, in order.
fn fill_batch(batch: &mut Vec<u8>, first: Vec<u8>, queued: &mut mpsc::Receiver<Vec<u8>>) {
    batch.clear();
    batch.extend_from_slice(&first);
    while batch.len() < STREAM_WRITE_BATCH_BYTES_MAX {
        match queued.try_recv() {
            Ok(frame) => batch.extend_from_slice(&frame),
            Err(_) => break,
        }
    }
}

/// Resolves when the receiver closes the stream (its only message says why) or the
/// connection fails.
async fn read_closing(read: &mut OwnedReadHalf, frame_bytes_max: usize) -> String {
    match read_frame(read, frame_bytes_max).await {
        Ok(payload) => match decode::<StreamReply>(&payload) {
            Ok(StreamReply::Closed { reason }) => format!("peer closed the stream: {reason}"),
            Err(e) => format!("peer sent garbage on the stream: {e}"),
        },
        Err(FrameError::Closed) => "peer closed the connection".to_string(),
        Err(e) => e.to_string(),
    }
}

/// The receiving side: hands each message to the handler, in order, one at a time. A
/// handler error closes the stream, after telling the sender why.
pub(crate) async fn serve_stream<C, H>(
    conn: &mut Conn,
    config: &PeerConfig,
    handler: &H,
) -> Result<(), PeerError>
where
    C: RaftTypeConfig,
    H: InboundHandler<C>,
{
    loop {
        let StreamFrame::Message(Blob(body)) = match conn.recv::<StreamFrame>().await {
            Err(PeerError::Frame(FrameError::Closed)) => return Ok(()),
            other => other?,
        };
        if let Err(reason) = handler.app_message(conn.peer_id, body).await {
            let closing = StreamReply::Closed {
                reason: reason.clone(),
            };
            let _ = within(config.stream_idle_timeout, conn.send(&closing)).await;
            return Err(PeerError::StreamBroken {
                peer: conn.peer_id,
                reason: format!("the handler refused a message: {reason}"),
            });
        }
    }
}
