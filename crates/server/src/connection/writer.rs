//! The writer half of a connection: drains the outbound queue onto the socket, batching
//! whatever is queued into one write, and closes the socket after `Outbound::Close`.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::handle::{ConnectionHandle, Outbound};

/// Largest batch gathered into one socket write.
const WRITE_BATCH_BYTES_MAX: usize = 256 * 1024;

pub async fn run(
    mut socket: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Outbound>,
    handle: Arc<ConnectionHandle>,
) {
    let mut batch = BytesMut::with_capacity(16 * 1024);
    let mut closing = false;
    while !closing {
        let Some(first) = queue.recv().await else {
            break;
        };
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outbound::Frame(frame) => batch.extend_from_slice(&frame),
                Outbound::Close => {
                    closing = true;
                    break;
                }
            }
            if batch.len() >= WRITE_BATCH_BYTES_MAX {
                break;
            }
            next = queue.try_recv().ok();
        }
        if batch.is_empty() {
            continue;
        }
        let written = batch.len();
        if socket.write_all(&batch).await.is_err() {
            handle.close();
            break;
        }
        handle.frame_written(written);
        batch.clear();
    }
    let _ = socket.shutdown().await;
}
