//! The writer half of a connection: drains the outbound queue onto the socket, batching
//! whatever is queued into one write, and closes the socket after `Outbound::Close` — or at
//! once, dropping what is queued, when the connection is aborted.

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
        let next = tokio::select! {
            next = queue.recv() => next,
            () = handle.aborted() => break,
        };
        let Some(first) = next else {
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
        batch.clear();
    }
    let _ = socket.shutdown().await;
}
