//! The receive side of a connection: the socket's read half and what has arrived but not been
//! consumed, cut into frames of at most `jute.maxbuffer` bytes.

use bytes::{Bytes, BytesMut};
use corral_proto::frame::split_frame;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::Closed;

/// Bytes asked of the socket at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

pub(crate) struct Inbox<R> {
    socket: R,
    pub(super) buffer: BytesMut,
    frame_bytes_max: usize,
}

impl<R: AsyncRead + Unpin> Inbox<R> {
    pub(crate) fn new(socket: R, frame_bytes_max: usize) -> Inbox<R> {
        Inbox {
            socket,
            buffer: BytesMut::with_capacity(READ_CHUNK_BYTES),
            frame_bytes_max,
        }
    }

    pub(crate) async fn fill(&mut self) -> Result<(), Closed> {
        self.buffer.reserve(READ_CHUNK_BYTES);
        match self.socket.read_buf(&mut self.buffer).await {
            Ok(0) | Err(_) => Err(Closed::Eof),
            Ok(_) => Ok(()),
        }
    }

    /// Waits for at least `bytes` buffered bytes.
    pub(crate) async fn fill_to(&mut self, bytes: usize) -> Result<(), Closed> {
        while self.buffer.len() < bytes {
            self.fill().await?;
        }
        Ok(())
    }

    /// The next complete frame, if one is buffered.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Bytes>, Closed> {
        split_frame(&mut self.buffer, self.frame_bytes_max)
            .map_err(|_| Closed::Server("frame length out of range"))
    }

    pub(crate) async fn read_frame(&mut self) -> Result<Bytes, Closed> {
        loop {
            if let Some(frame) = self.next_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }
}
