//! Streamed snapshots: the sender reads the snapshot through [`SnapshotIo::open`] and sends
//! it in chunks on a dedicated connection; the receiver writes the chunks to a
//! [`SnapshotSink`], checks length and CRC32C, finishes the sink and installs the result.
//!
//! There is no timeout on the whole transfer, only on progress: every chunk write, and every
//! message the sender waits for, must complete within `snapshot_idle_timeout`. While the
//! receiver writes chunks, finishes and installs (which for a large tree takes a while) it
//! sends keep-alives, so a multi-gigabyte snapshot installs on a slow link and a dead peer (on
//! either side) is still noticed.
//!
//! The caller's I/O (`open`, `receive`, `write`, `finish`) runs on tokio's blocking threads
//! (`spawn_blocking`), one chunk at a time, so plain file writes and fsyncs are fine there.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use openraft::raft::SnapshotResponse;
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::{RaftTypeConfig, Snapshot};
use serde::{Serialize, Serializer};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::task::TaskTracker;

use crate::config::PeerConfig;
use crate::conn::{within, Conn};
use crate::error::{FrameError, PeerError};
use crate::frame::encode_frame;
use crate::handler::InboundHandler;
use crate::handshake::Channel;
use crate::message::{Blob, SnapshotFrame, SnapshotReply};
use crate::pool::PeerSlot;

/// The server's snapshot storage, as the transport needs it.
pub trait SnapshotIo<C: RaftTypeConfig>: Send + Sync + 'static {
    /// Must be the state machine's `SnapshotData`.
    type Data: Send + 'static;

    /// Opens the bytes of a snapshot this server holds, to send them. Called on a blocking
    /// thread.
    fn open(&self, data: &Self::Data) -> io::Result<Box<dyn AsyncRead + Send + Unpin>>;

    /// Starts receiving the snapshot described by `meta`; its chunks arrive in order. Called
    /// on a blocking thread.
    fn receive(&self, meta: &SnapshotMetaOf<C>) -> io::Result<Box<dyn SnapshotSink<Self::Data>>>;
}

/// Where a received snapshot's bytes go. If the transfer fails (short, corrupt, timed out, the
/// sender vanished) the sink is dropped without `finish`: dropping must clean up.
pub trait SnapshotSink<D>: Send {
    /// The next chunk, in order. Called on a blocking thread.
    fn write(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// All bytes arrived and were verified. Called on a blocking thread.
    fn finish(self: Box<Self>) -> io::Result<D>;
}

/// Length and CRC32C of the bytes so far, kept by both sides.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    total_bytes: u64,
    crc32c: u32,
}

impl Tally {
    fn add(&mut self, chunk: &[u8]) {
        self.total_bytes += chunk.len() as u64;
        self.crc32c = crc32c::crc32c_append(self.crc32c, chunk);
    }
}

/// `SnapshotFrame::Chunk` borrowing its bytes: the same encoding as the owned variant
/// (checked in the tests) without copying each chunk once more.
struct ChunkRef<'a>(&'a [u8]);

impl Serialize for ChunkRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_variant("SnapshotFrame", 1, "Chunk", &BytesRef(self.0))
    }
}

struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Sends `snapshot` to the peer of `slot` and waits until it is installed there.
/// Errors: `Storage` (our own snapshot unreadable), connect errors, `Timeout` (no progress for
/// `snapshot_idle_timeout`), `Remote` (the receiver failed it), or a broken connection.
pub(crate) async fn send_snapshot<C, S>(
    config: &PeerConfig,
    slot: &PeerSlot,
    snapshots: &Arc<S>,
    vote: VoteOf<C>,
    snapshot: SnapshotOf<C, S::Data>,
) -> Result<SnapshotResponse<C>, PeerError>
where
    C: RaftTypeConfig,
    S: SnapshotIo<C>,
{
    let Snapshot { meta, snapshot } = snapshot;
    let (_data, reader) = open_blocking::<C, S>(snapshots, snapshot).await?;
    let mut conn = slot.dial(config, Channel::Snapshot).await?;
    tracing::info!("sending snapshot {} to peer {}", meta, slot.id);
    let result = stream_snapshot::<C>(&mut conn, config, vote, meta, reader).await;
    match &result {
        Ok(_) => tracing::info!("peer {} installed the snapshot", slot.id),
        Err(e) => slot.lost(conn, e),
    }
    result
}

/// Opens the snapshot on a blocking thread; the data is handed back to be kept alive until
/// the transfer ends.
async fn open_blocking<C, S>(
    snapshots: &Arc<S>,
    data: S::Data,
) -> Result<(S::Data, Box<dyn AsyncRead + Send + Unpin>), PeerError>
where
    C: RaftTypeConfig,
    S: SnapshotIo<C>,
{
    let snapshots = snapshots.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let reader = snapshots.open(&data);
        (data, reader)
    })
    .await
    .map_err(|e| PeerError::Storage(io::Error::other(e)))?;
    match opened {
        (data, Ok(reader)) => Ok((data, reader)),
        (_, Err(e)) => Err(PeerError::Storage(e)),
    }
}

async fn stream_snapshot<C: RaftTypeConfig>(
    conn: &mut Conn,
    config: &PeerConfig,
    vote: VoteOf<C>,
    meta: SnapshotMetaOf<C>,
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
) -> Result<SnapshotResponse<C>, PeerError> {
    let idle = config.snapshot_idle_timeout;
    within(idle, conn.send(&SnapshotFrame::<C>::Begin { vote, meta })).await?;
    let mut buf = vec![0u8; config.chunk_bytes()];
    let mut tally = Tally::default();
    loop {
        let n = fill(&mut reader, &mut buf)
            .await
            .map_err(PeerError::Storage)?;
        if n == 0 {
            break;
        }
        tally.add(&buf[..n]);
        let frame = encode_frame(&ChunkRef(&buf[..n]), conn.frame_bytes_max())?;
        within(idle, conn.send_frame(&frame)).await?;
    }
    let end = SnapshotFrame::<C>::End {
        total_bytes: tally.total_bytes,
        crc32c: tally.crc32c,
    };
    within(idle, conn.send(&end)).await?;
    await_installed(conn, idle).await
}

/// Reads until `buf` is full or the snapshot ends, so chunks are full-sized.
async fn fill(reader: &mut (dyn AsyncRead + Send + Unpin), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

async fn await_installed<C: RaftTypeConfig>(
    conn: &mut Conn,
    idle: Duration,
) -> Result<SnapshotResponse<C>, PeerError> {
    loop {
        match within(idle, conn.recv::<SnapshotReply<C>>()).await? {
            SnapshotReply::Working => continue,
            SnapshotReply::Installed(response) => return Ok(response),
            SnapshotReply::Failed(reason) => {
                return Err(PeerError::Remote {
                    peer: conn.peer_id,
                    reason,
                })
            }
        }
    }
}

/// What the receiving side needs besides the connection.
pub(crate) struct Receiver<'a, H, S> {
    pub(crate) config: &'a PeerConfig,
    pub(crate) handler: &'a H,
    pub(crate) snapshots: &'a Arc<S>,
    pub(crate) tracker: &'a TaskTracker,
}

impl<H, S> Receiver<'_, H, S> {
    /// Receives one snapshot on `conn`, installs it and answers; the connection then closes.
    /// The sender is told why a snapshot failed, best effort.
    pub(crate) async fn run<C>(&self, conn: &mut Conn) -> Result<(), PeerError>
    where
        C: RaftTypeConfig,
        S: SnapshotIo<C>,
        H: InboundHandler<C, SnapshotData = S::Data>,
    {
        let idle = self.config.snapshot_idle_timeout;
        let SnapshotFrame::<C>::Begin { vote, meta } = within(idle, conn.recv()).await? else {
            return Err(PeerError::Protocol(
                "snapshot did not begin with Begin".into(),
            ));
        };
        tracing::info!("receiving snapshot {} from peer {}", meta, conn.peer_id);
        match self.receive_and_install::<C>(conn, vote, meta).await {
            Ok(response) => within(idle, conn.send(&SnapshotReply::<C>::Installed(response))).await,
            Err(e) => {
                let failed = SnapshotReply::<C>::Failed(e.to_string());
                let _ = within(idle, conn.send(&failed)).await;
                Err(e)
            }
        }
    }

    async fn receive_and_install<C>(
        &self,
        conn: &mut Conn,
        vote: VoteOf<C>,
        meta: SnapshotMetaOf<C>,
    ) -> Result<SnapshotResponse<C>, PeerError>
    where
        C: RaftTypeConfig,
        S: SnapshotIo<C>,
        H: InboundHandler<C, SnapshotData = S::Data>,
    {
        let mut due = KeepAlive::new(self.config.keepalive_interval());
        let sink = self.open_sink::<C>(&meta).await?;
        let sink = self.receive_chunks::<C>(conn, sink, &mut due).await?;
        let finish = self.blocking(move || sink.finish());
        let data = self.keep_alive::<C, _>(conn, &mut due, finish).await??;
        tracing::info!("snapshot {} from peer {} received", meta, conn.peer_id);
        let install = self.handler.install_snapshot(
            vote,
            Snapshot {
                meta,
                snapshot: data,
            },
        );
        self.keep_alive::<C, _>(conn, &mut due, install)
            .await?
            .map_err(|reason| {
                PeerError::Storage(io::Error::other(format!(
                    "installing the snapshot failed: {reason}"
                )))
            })
    }

    async fn open_sink<C>(
        &self,
        meta: &SnapshotMetaOf<C>,
    ) -> Result<Box<dyn SnapshotSink<S::Data>>, PeerError>
    where
        C: RaftTypeConfig,
        S: SnapshotIo<C>,
    {
        let snapshots = self.snapshots.clone();
        let meta = meta.clone();
        self.blocking(move || snapshots.receive(&meta)).await
    }

    /// Writes chunks to `sink` until `End`, then checks length and checksum. On any error the
    /// sink is dropped unfinished.
    async fn receive_chunks<C: RaftTypeConfig>(
        &self,
        conn: &mut Conn,
        mut sink: Box<dyn SnapshotSink<S::Data>>,
        due: &mut KeepAlive,
    ) -> Result<Box<dyn SnapshotSink<S::Data>>, PeerError>
    where
        S: SnapshotIo<C>,
    {
        let idle = self.config.snapshot_idle_timeout;
        let mut tally = Tally::default();
        loop {
            match within(idle, conn.recv::<SnapshotFrame<C>>())
                .await
                .map_err(truncated)?
            {
                SnapshotFrame::Chunk(Blob(chunk)) => {
                    tally.add(&chunk);
                    let write = self.write_blocking(sink, chunk);
                    sink = self.keep_alive::<C, _>(conn, due, write).await??;
                }
                SnapshotFrame::End {
                    total_bytes,
                    crc32c,
                } => {
                    let sent = Tally {
                        total_bytes,
                        crc32c,
                    };
                    return verify(tally, sent).map(|()| sink);
                }
                SnapshotFrame::Begin { .. } => {
                    return Err(PeerError::Protocol(
                        "a second Begin inside a snapshot".into(),
                    ))
                }
            }
        }
    }

    async fn write_blocking<D: Send + 'static>(
        &self,
        mut sink: Box<dyn SnapshotSink<D>>,
        chunk: bytes::Bytes,
    ) -> Result<Box<dyn SnapshotSink<D>>, PeerError> {
        self.blocking(move || sink.write(&chunk).map(|()| sink))
            .await
    }

    /// Runs the caller's blocking I/O on a tracked blocking thread (so `serve` waits for it
    /// on shutdown); its errors are storage errors.
    async fn blocking<T, F>(&self, f: F) -> Result<T, PeerError>
    where
        F: FnOnce() -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        match self.tracker.spawn_blocking(f).await {
            Ok(result) => result.map_err(PeerError::Storage),
            Err(e) => Err(PeerError::Storage(io::Error::other(e))),
        }
    }

    /// Awaits `fut`, sending `Working` whenever a keep-alive is due meanwhile. Fails (dropping
    /// `fut`) if the sender stops reading.
    async fn keep_alive<C: RaftTypeConfig, T>(
        &self,
        conn: &mut Conn,
        due: &mut KeepAlive,
        fut: impl Future<Output = T>,
    ) -> Result<T, PeerError> {
        let mut fut = pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                _ = tokio::time::sleep_until(due.next) => {
                    let working = SnapshotReply::<C>::Working;
                    within(self.config.snapshot_idle_timeout, conn.send(&working)).await?;
                    due.sent();
                }
            }
        }
    }
}

/// When the receiver's next keep-alive is due. One schedule runs through the whole transfer
/// (chunk writes, finish, install): once the sender has handed all its chunks to the kernel
/// it waits for a reply, while the receiver may still be writing buffered chunks; keep-alives
/// at a steady pace (a quarter of the idle timeout) show it progress, however short each
/// write. The sender reads them only at the end; at that pace they are a few bytes a minute.
struct KeepAlive {
    next: tokio::time::Instant,
    interval: Duration,
}

impl KeepAlive {
    fn new(interval: Duration) -> Self {
        KeepAlive {
            next: tokio::time::Instant::now() + interval,
            interval,
        }
    }

    fn sent(&mut self) {
        self.next = tokio::time::Instant::now() + self.interval;
    }
}

/// A connection closed between frames is, inside a snapshot, a truncated transfer.
fn truncated(e: PeerError) -> PeerError {
    match e {
        PeerError::Frame(FrameError::Closed) => PeerError::Frame(FrameError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the sender closed the connection before the end of the snapshot",
        ))),
        e => e,
    }
}

fn verify(received: Tally, sent: Tally) -> Result<(), PeerError> {
    if received == sent {
        return Ok(());
    }
    Err(PeerError::Protocol(format!(
        "snapshot corrupted in transit: received {} bytes with crc32c {:08x}, sender sent {} \
         bytes with crc32c {:08x}",
        received.total_bytes, received.crc32c, sent.total_bytes, sent.crc32c
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    openraft::declare_raft_types!(T);

    #[test]
    fn a_borrowed_chunk_encodes_like_an_owned_one() {
        let bytes = b"some snapshot bytes";
        let owned = SnapshotFrame::<T>::Chunk(Blob(Bytes::from_static(bytes)));
        assert_eq!(
            postcard::to_allocvec(&ChunkRef(bytes)).expect("encodes"),
            postcard::to_allocvec(&owned).expect("encodes")
        );
    }

    #[test]
    fn the_tally_checks_length_and_content() {
        let mut a = Tally::default();
        a.add(b"abc");
        let mut b = Tally::default();
        b.add(b"abd");
        assert!(verify(a, a).is_ok());
        assert!(verify(a, b).is_err());
        let mut short = Tally::default();
        short.add(b"ab");
        assert!(verify(short, a).is_err());
    }
}
