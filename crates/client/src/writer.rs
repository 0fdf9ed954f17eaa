//! The writer task: the only place that assigns xids and writes to the socket.
//!
//! Because one task does both, the order of entries in the pending queues is the order of
//! requests on the wire, which is what FIFO reply matching relies on. Requests that queued up
//! while a write was in progress are coalesced into one write (up to `WRITE_BATCH_BYTES`), which
//! is what makes pipelining cheap.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use corral_proto::consts::xid;
use corral_proto::frame::{begin_frame, finish_frame};
use corral_proto::request::Request;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use crate::error::ClientError;
use crate::pending::{Lane, Pending, Waiter};
use crate::shared::Shared;

/// Stop coalescing queued requests into one write beyond this many bytes.
const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// What the handles and the ping task ask the writer to send.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A request; the writer picks its xid (ping -2, auth -4, otherwise the next counter).
    Request {
        request: Request,
        waiter: Option<Waiter>,
        permit: Option<OwnedSemaphorePermit>,
    },
    /// Bytes written as they are; `expect` registers a reply to wait for.
    Raw {
        bytes: Bytes,
        expect: Option<(Lane, Pending)>,
    },
}

/// The Java client's xid counter: starts at 1 (or `ConnectOptions::first_xid`) and wraps back
/// to 1 after `i32::MAX`. It lives in [`Shared`] so that callers can read the next one; only
/// this task advances it.
fn next_xid(counter: &AtomicI32) -> i32 {
    let current = counter.load(Ordering::Relaxed);
    let next = if current == i32::MAX { 1 } else { current + 1 };
    counter.store(next, Ordering::Relaxed);
    current
}

pub(crate) async fn run<W: AsyncWrite + Unpin>(
    mut write: W,
    mut outgoing: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let mut state = shared.state.subscribe();
    let mut out = BytesMut::new();
    loop {
        let message = tokio::select! {
            message = outgoing.recv() => message,
            _ = state.wait_for(Option::is_some) => None,
        };
        let Some(message) = message else { break };
        out.clear();
        stage(message, &shared, &mut out);
        while out.len() < WRITE_BATCH_BYTES {
            match outgoing.try_recv() {
                Ok(message) => stage(message, &shared, &mut out),
                Err(_) => break,
            }
        }
        if out.is_empty() {
            continue;
        }
        let written = tokio::select! {
            written = write.write_all(&out) => written,
            _ = state.wait_for(Option::is_some) => break,
        };
        if let Err(err) = written {
            shared.fail(ClientError::io(err));
            break;
        }
        shared.touch_send();
    }
    let _ = write.shutdown().await;
}

/// Registers the message's reply (if any) and appends its bytes to `out`.
fn stage(message: Outgoing, shared: &Shared, out: &mut BytesMut) {
    match message {
        Outgoing::Request {
            request,
            waiter,
            permit,
        } => {
            let request_xid = match request {
                Request::Ping => xid::PING,
                Request::Auth(_) => xid::AUTH,
                _ => next_xid(&shared.next_xid),
            };
            let pending = Pending {
                xid: Some(request_xid),
                op_type: Some(request.opcode().as_i32()),
                waiter,
                permit,
            };
            if register(Lane::of_xid(request_xid), pending, shared) {
                let start = begin_frame(out);
                request.encode_frame(request_xid, out);
                finish_frame(out, start);
            }
        }
        Outgoing::Raw { bytes, expect } => {
            if let Some((lane, pending)) = expect {
                if !register(lane, pending, shared) {
                    return;
                }
            }
            out.extend_from_slice(&bytes);
        }
    }
}

/// Queues a reply to wait for; false (and the waiter answered) if the connection is gone.
fn register(lane: Lane, pending: Pending, shared: &Shared) -> bool {
    let refused = shared.queues.lock().push(lane, pending);
    match refused {
        Ok(()) => true,
        Err((pending, reason)) => {
            pending.answer(Err(reason));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xids_count_up_and_wrap_to_one() {
        let xids = AtomicI32::new(1);
        assert_eq!(next_xid(&xids), 1);
        assert_eq!(next_xid(&xids), 2);
        let xids = AtomicI32::new(i32::MAX);
        assert_eq!(next_xid(&xids), i32::MAX);
        assert_eq!(next_xid(&xids), 1);
    }
}
