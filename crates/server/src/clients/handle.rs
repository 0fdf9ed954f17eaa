//! The part of a connection other tasks may touch: its outbound buffer, its identities and the
//! count of its writes still in the log. The state machine uses it to answer writes and deliver
//! watch events in apply order; the connection task uses it to hold reads back until earlier
//! writes of the same connection have been answered.
//!
//! Outbound frames are encoded straight into one buffer per connection, in the order they are
//! sent; the writer task swaps the buffer for its emptied spare and writes it out. So a reply
//! costs no allocation, no copy and no queue node (a queue of one `Bytes` per frame cost two
//! allocations and a copy per reply, a visible share of the write path).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

use bytes::BytesMut;
use corral_proto::frame::{begin_frame, finish_frame};
use corral_proto::response::{encode_notification, encode_reply, Response};
use corral_proto::{ErrorCode, Id};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use std::sync::Arc;

use super::write_gate::WriteGate;
use crate::ids::{ConnectionId, SessionId, Zxid};
use crate::metrics::{Counters, LatencyStats};

/// What the connection has to send: frames not yet taken by the writer task.
#[derive(Debug, Default)]
struct Outbound {
    /// Complete frames, length prefixes included, in send order.
    frames: BytesMut,
    /// Set by [`ConnectionHandle::close`]: after `frames`, close the socket.
    close: bool,
}

/// Per-connection counters shown by `cons` / `stat`.
#[derive(Debug, Default)]
pub(crate) struct ConnectionStats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub last_cxid: AtomicI64,
    pub last_zxid: AtomicI64,
    pub last_op: Mutex<&'static str>,
    pub latency: LatencyStats,
}

impl ConnectionStats {
    /// What `crst` resets.
    pub(crate) fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency.reset();
    }
}

/// Set in [`ConnectionHandle::outstanding_writes`] once the connection's writes no longer
/// count against the [`WriteGate`] (the connection is gone; see
/// [`ConnectionHandle::detach_from_gate`]).
const DETACHED_FROM_GATE: usize = 1 << (usize::BITS - 1);

pub(crate) struct ConnectionHandle {
    pub id: ConnectionId,
    pub peer: SocketAddr,
    /// Wall-clock ms when the connection was accepted (`cons` shows it as `est`).
    pub established_ms: i64,
    outbound: Mutex<Outbound>,
    /// Wakes the writer task when `outbound` gained frames or the close flag.
    outbound_ready: Notify,
    /// Wakes a reader paused on a full outbound queue when the writer has written some of it.
    outbound_drained: Notify,
    /// Bytes sent and not yet written to the socket (in `outbound` or being written).
    queued_bytes: AtomicUsize,
    queued_bytes_max: AtomicUsize,
    /// Set when the connection is dropped without flushing (its client stopped reading); the
    /// reader and the writer stop at once instead of waiting for the socket.
    aborted: AtomicBool,
    abort_signal: Notify,
    /// Writes submitted to the log and not yet answered by the state machine, plus the
    /// [`DETACHED_FROM_GATE`] bit.
    outstanding_writes: AtomicUsize,
    /// The server-wide limit of outstanding writes (`globalOutstandingLimit`).
    gate: Arc<WriteGate>,
    writes_done: Notify,
    /// Authenticated identities; always starts with `ip:<address>`.
    /// Shared (not copied) with every write the connection submits; replaced on change.
    identities: RwLock<Arc<[Id]>>,
    /// 0 until the session is established.
    session_id: AtomicI64,
    pub session_timeout_ms: AtomicI64,
    /// Whether the client sent the optional readOnly byte (then replies carry it too).
    pub echo_read_only: AtomicBool,
    closed: AtomicBool,
    /// Wakes the reader task when the connection is closed from elsewhere.
    close_signal: Notify,
    pub stats: ConnectionStats,
    counters: Arc<Counters>,
}

impl ConnectionHandle {
    pub(crate) fn new(
        id: ConnectionId,
        peer: SocketAddr,
        counters: Arc<Counters>,
        gate: Arc<WriteGate>,
        queued_bytes_max: usize,
        established_ms: i64,
    ) -> ConnectionHandle {
        let ip_id = Id {
            scheme: "ip".to_owned(),
            id: peer.ip().to_string(),
        };
        ConnectionHandle {
            id,
            peer,
            established_ms,
            outbound: Mutex::new(Outbound::default()),
            outbound_ready: Notify::new(),
            outbound_drained: Notify::new(),
            queued_bytes: AtomicUsize::new(0),
            queued_bytes_max: AtomicUsize::new(queued_bytes_max),
            aborted: AtomicBool::new(false),
            abort_signal: Notify::new(),
            outstanding_writes: AtomicUsize::new(0),
            gate,
            writes_done: Notify::new(),
            identities: RwLock::new(Arc::from([ip_id])),
            session_id: AtomicI64::new(0),
            session_timeout_ms: AtomicI64::new(0),
            echo_read_only: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            close_signal: Notify::new(),
            stats: ConnectionStats::default(),
            counters,
        }
    }

    pub(crate) fn session_id(&self) -> SessionId {
        self.session_id.load(Ordering::Acquire)
    }

    pub(crate) fn set_session_id(&self, session_id: SessionId) {
        self.session_id.store(session_id, Ordering::Release);
    }

    pub(crate) fn identities(&self) -> Arc<[Id]> {
        self.identities.read().clone()
    }

    pub(crate) fn with_identities<R>(&self, f: impl FnOnce(&[Id]) -> R) -> R {
        f(&self.identities.read())
    }

    pub(crate) fn add_identity(&self, id: Id) {
        let mut ids = self.identities.write();
        if !ids.contains(&id) {
            *ids = ids.iter().cloned().chain(std::iter::once(id)).collect();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Queues one frame, written by `encode` between the length prefix and its patching.
    pub(crate) fn send_encoded(&self, encode: impl FnOnce(&mut BytesMut)) {
        self.send_with(|out| {
            let start = begin_frame(out);
            encode(out);
            finish_frame(out, start);
        });
    }

    /// Queues bytes as they are, with no length prefix (a four-letter word's answer).
    pub(crate) fn send_raw(&self, bytes: &[u8]) {
        self.send_with(|out| out.extend_from_slice(bytes));
    }

    fn send_with(&self, append: impl FnOnce(&mut BytesMut)) {
        if self.is_closed() {
            return;
        }
        let frame_bytes = {
            let mut outbound = self.outbound.lock();
            // Checked under the lock: `close` sets its flag under it, so nothing is queued
            // behind a close.
            if outbound.close {
                return;
            }
            let before = outbound.frames.len();
            append(&mut outbound.frames);
            outbound.frames.len() - before
        };
        let queued = self.queued_bytes.fetch_add(frame_bytes, Ordering::AcqRel) + frame_bytes;
        if queued > self.queued_bytes_max.load(Ordering::Relaxed) {
            self.counters
                .connections_stalled
                .fetch_add(1, Ordering::Relaxed);
            super::rate_limited_log::warn(
                "outbound_queue_full",
                format_args!(
                    "closing connection 0x{:x} from {}: {queued} bytes queued for a client that \
                     does not read its replies",
                    self.id, self.peer
                ),
            );
            // Not `close()`: that would queue the close behind frames the client never reads.
            self.abort();
            return;
        }
        self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.counters.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.outbound_ready.notify_one();
    }

    /// For the writer task: waits until there is something to send, then swaps it with
    /// `spare` (which must be empty). Returns whether the connection is to be closed after
    /// the frames now in `spare`.
    pub(crate) async fn take_outbound(&self, spare: &mut BytesMut) -> bool {
        debug_assert!(spare.is_empty());
        loop {
            {
                let mut outbound = self.outbound.lock();
                if !outbound.frames.is_empty() || outbound.close {
                    std::mem::swap(&mut outbound.frames, spare);
                    return outbound.close;
                }
            }
            // A `notify_one` between the check and here leaves a permit: no lost wake-up.
            self.outbound_ready.notified().await;
        }
    }

    /// Called by the writer once bytes taken with `take_outbound` are on the socket.
    pub(crate) fn frame_written(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.outbound_drained.notify_waiters();
    }

    /// Bytes sent and not yet written to the socket.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }

    /// Waits until fewer than `bytes` are queued for the socket (or the connection closed).
    pub(crate) async fn wait_queued_below(&self, bytes: usize) {
        loop {
            let notified = self.outbound_drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.queued_bytes() < bytes || self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Closes after what is queued has been written.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.outbound.lock().close = true;
            self.outbound_ready.notify_one();
            // Wake a reader that waits on writes that will now never be answered.
            self.writes_done.notify_waiters();
            self.close_signal.notify_waiters();
        }
    }

    /// Resolves once the connection is closed (by [`ConnectionHandle::close`] or abort).
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.close_signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Drops the connection without flushing what is queued: the reader and the writer stop
    /// as soon as they see it (see [`ConnectionHandle::aborted`]).
    pub(crate) fn abort(&self) {
        self.closed.store(true, Ordering::Release);
        if !self.aborted.swap(true, Ordering::AcqRel) {
            self.abort_signal.notify_waiters();
            self.writes_done.notify_waiters();
            self.close_signal.notify_waiters();
        }
    }

    /// Resolves once [`ConnectionHandle::abort`] was called.
    pub(crate) async fn aborted(&self) {
        loop {
            let notified = self.abort_signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.aborted.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn send_reply(&self, xid: i32, zxid: Zxid, result: &Result<Response, ErrorCode>) {
        self.stats.last_zxid.store(zxid, Ordering::Relaxed);
        self.send_encoded(|out| encode_reply(xid, zxid, result, out));
    }

    pub(crate) fn send_notification(&self, zxid: Zxid, event_type: i32, path: &str) {
        self.send_encoded(|out| encode_notification(zxid, event_type, path, out));
    }

    /// Counts a write about to be proposed; waits first while the server already has
    /// `globalOutstandingLimit` writes in the log (ZooKeeper throttles the same way: it stops
    /// reading from connections).
    pub(crate) async fn write_submitted(&self) {
        self.gate.acquire().await;
        let before = self.outstanding_writes.fetch_add(1, Ordering::AcqRel);
        if before & DETACHED_FROM_GATE != 0 {
            // The connection is already gone; its writes no longer count.
            self.gate.release(1);
        }
    }

    /// Called once the reply of one of this connection's writes is queued, or once such a
    /// write is known never to be answered (the log refused it).
    pub(crate) fn write_answered(&self) {
        let before = self.outstanding_writes.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(
            before & !DETACHED_FROM_GATE > 0,
            "a write answered that was never submitted"
        );
        if before & DETACHED_FROM_GATE == 0 {
            self.gate.release(1);
        }
        self.writes_done.notify_waiters();
    }

    pub(crate) fn outstanding_writes(&self) -> usize {
        self.outstanding_writes.load(Ordering::Acquire) & !DETACHED_FROM_GATE
    }

    /// The connection is gone: its writes still in the log stop counting against the gate
    /// now (their answers, if they ever come, find no connection). Each write is released
    /// from the gate exactly once, by this or by [`ConnectionHandle::write_answered`].
    pub(crate) fn detach_from_gate(&self) {
        let before = self
            .outstanding_writes
            .fetch_or(DETACHED_FROM_GATE, Ordering::AcqRel);
        if before & DETACHED_FROM_GATE == 0 {
            self.gate.release(before);
        }
    }

    /// Waits until every write this connection submitted has been answered (or it closed).
    pub(crate) async fn wait_writes_answered(&self) {
        loop {
            let notified = self.writes_done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.outstanding_writes() == 0 || self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until at most `limit` writes are outstanding (backpressure on a pipelining client).
    pub(crate) async fn wait_outstanding_at_most(&self, limit: usize) {
        loop {
            let notified = self.writes_done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.outstanding_writes() <= limit || self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}
