//! The writer half of a connection: takes whatever frames are queued in the connection's
//! outbound buffer (all of them, in one swap) and writes them in one go; closes the socket
//! once the frames queued before a close are written — or at once, dropping what is queued,
//! when the connection is aborted.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;

use crate::clients::ConnectionHandle;

/// Capacity the writer's spare buffer starts with and keeps: a batch that grew the buffer past
/// [`SPARE_BYTES_KEPT_MAX`] (a burst of watch events, a large getChildren) is not kept for the
/// connection's lifetime.
const SPARE_BYTES_INITIAL: usize = 16 * 1024;
const SPARE_BYTES_KEPT_MAX: usize = 1024 * 1024;

pub(crate) async fn run<W: AsyncWrite + Unpin>(mut socket: W, handle: Arc<ConnectionHandle>) {
    let mut batch = BytesMut::with_capacity(SPARE_BYTES_INITIAL);
    loop {
        let closing = tokio::select! {
            closing = handle.take_outbound(&mut batch) => closing,
            () = handle.aborted() => break,
        };
        if !batch.is_empty() {
            let written = batch.len();
            // A client that stops reading blocks this write; an abort must still end it.
            let result = tokio::select! {
                result = socket.write_all(&batch) => result,
                () = handle.aborted() => break,
            };
            if result.is_err() {
                handle.close();
                break;
            }
            handle.frame_written(written);
            if batch.capacity() > SPARE_BYTES_KEPT_MAX {
                batch = BytesMut::with_capacity(SPARE_BYTES_INITIAL);
            } else {
                batch.clear();
            }
        }
        if closing {
            break;
        }
    }
    let _ = socket.shutdown().await;
}
