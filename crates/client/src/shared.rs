//! State the connection's tasks and the `Client` handles share: the pending queues, the close
//! reason, activity times for the ping task, the last zxid seen, the wire log and the
//! notification sink.
//!
//! `fail` is the single way a connection ends: it records the first reason, answers every
//! waiting request with it and wakes the tasks so they stop.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::time::Instant;

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::error::ClientError;
use crate::pending::Queues;
use crate::reply::{Notification, WireEvent};

/// The ordered log of received frames, bounded.
#[derive(Debug, Default)]
pub(crate) struct WireLog {
    pub events: Vec<WireEvent>,
    pub events_max: usize,
    pub dropped: u64,
}

/// Where the reader puts notifications; bounded by a count of unread ones.
#[derive(Debug)]
pub(crate) struct NotifySink {
    pub sender: mpsc::UnboundedSender<Notification>,
    pub queued: Arc<AtomicUsize>,
    pub queued_max: usize,
}

impl NotifySink {
    pub(crate) fn send(&self, notification: Notification) -> Result<(), ClientError> {
        if self.sender.is_closed() {
            return Ok(());
        }
        if self.queued.load(Ordering::Relaxed) >= self.queued_max {
            return Err(ClientError::NotificationOverflow {
                max: self.queued_max,
            });
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.sender.send(notification).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub queues: Mutex<Queues>,
    /// Highest zxid of an ordinary reply (pings, auth and notifications do not count, as in
    /// the Java client).
    pub last_zxid: AtomicI64,
    /// Set by `close()`, so the server's EOF after closeSession is not reported as a failure.
    pub closing: AtomicBool,
    clock_base: Instant,
    last_send_ms: AtomicU64,
    last_recv_ms: AtomicU64,
    pub wire_log: Option<Mutex<WireLog>>,
    /// `None` while open; the close reason afterwards. Tasks watch it to stop.
    pub state: watch::Sender<Option<ClientError>>,
    pub max_frame_bytes: usize,
    /// The xid the next ordinary request gets; only the writer task advances it.
    pub next_xid: AtomicI32,
}

impl Shared {
    pub(crate) fn new(
        last_zxid: i64,
        wire_log_events_max: Option<usize>,
        max_frame_bytes: usize,
        first_xid: i32,
    ) -> Shared {
        Shared {
            queues: Mutex::new(Queues::default()),
            last_zxid: AtomicI64::new(last_zxid),
            closing: AtomicBool::new(false),
            clock_base: Instant::now(),
            last_send_ms: AtomicU64::new(0),
            last_recv_ms: AtomicU64::new(0),
            wire_log: wire_log_events_max.map(|events_max| {
                Mutex::new(WireLog {
                    events: Vec::new(),
                    events_max,
                    dropped: 0,
                })
            }),
            state: watch::Sender::new(None),
            max_frame_bytes,
            next_xid: AtomicI32::new(first_xid.max(1)),
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.clock_base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn touch_send(&self) {
        self.last_send_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn touch_recv(&self) {
        self.last_recv_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn last_send_ms(&self) -> u64 {
        self.last_send_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn last_recv_ms(&self) -> u64 {
        self.last_recv_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn log(&self, event: WireEvent) {
        if let Some(log) = &self.wire_log {
            let mut log = log.lock();
            if log.events.len() < log.events_max {
                log.events.push(event);
            } else {
                log.dropped += 1;
            }
        }
    }

    pub(crate) fn close_reason(&self) -> Option<ClientError> {
        self.queues.lock().close_reason().cloned()
    }

    /// Ends the connection with `reason` (the first reason wins): every waiting request gets
    /// it, and the tasks are told to stop.
    pub(crate) fn fail(&self, reason: ClientError) {
        let reason = match reason {
            ClientError::ConnectionClosed if self.closing.load(Ordering::Relaxed) => {
                ClientError::Closed
            }
            other => other,
        };
        let Some(drained) = self.queues.lock().close(reason.clone()) else {
            return;
        };
        if !matches!(reason, ClientError::Closed) {
            tracing::debug!(%reason, "connection failed");
        }
        for pending in drained {
            pending.answer(Err(reason.clone()));
        }
        self.state.send_replace(Some(reason));
    }
}
