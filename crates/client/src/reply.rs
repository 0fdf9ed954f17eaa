//! What comes back from the server, kept raw: the reply header's zxid, the error code as the
//! server sent it, the decoded body and its bytes, notifications with their header zxid.
//!
//! Differential tests compare these field by field between Corral and Apache ZooKeeper, so
//! nothing is interpreted here beyond decoding.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use corral_proto::response::Response;
use corral_proto::{ErrorCode, Stat};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// One reply to one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The xid of the reply header (the request's xid; -2 for pings, -4 for auth).
    pub xid: i32,
    /// `ReplyHeader.zxid`: the server's last processed zxid when it produced the reply.
    pub zxid: i64,
    /// The decoded body, or the header's error code (then there is no body).
    pub result: Result<Response, ErrorCode>,
    /// The bytes after the reply header, as received.
    pub body: Bytes,
}

impl Reply {
    /// The error code of the header: `Ok` when the request succeeded.
    pub fn code(&self) -> ErrorCode {
        match &self.result {
            Ok(_) => ErrorCode::Ok,
            Err(code) => *code,
        }
    }

    /// The `Stat` of a successful reply that carries one.
    pub fn stat(&self) -> Option<&Stat> {
        match self.result.as_ref().ok()? {
            Response::Create2 { stat, .. }
            | Response::Stat(stat)
            | Response::GetData { stat, .. }
            | Response::GetAcl { stat, .. }
            | Response::GetChildren2 { stat, .. } => Some(stat),
            _ => None,
        }
    }
}

/// A watch notification (xid -1), as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The reply header's zxid: the firing txn's zxid on 3.9+ servers, -1 on older ones and
    /// for events replayed by setWatches.
    pub zxid: i64,
    /// `Watcher.Event.EventType` (see `corral_proto::consts::event_type`).
    pub event_type: i32,
    /// `Watcher.Event.KeeperState`; servers always send SyncConnected (3).
    pub state: i32,
    pub path: String,
}

/// One frame received after the handshake, in wire order. Lets a test check the exact
/// interleaving of notifications and replies on a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireEvent {
    /// A reply (including pings, -2, and auth, -4) with its header.
    Reply {
        xid: i32,
        zxid: i64,
        err: i32,
    },
    Notification(Notification),
}

/// The receiving end of a connection's notifications, in wire order. A notification that
/// arrived before a reply is already here when that reply is handed to its caller, so after
/// awaiting a reply `try_recv` sees every notification the server sent ahead of it. Unread
/// notifications count against `ConnectOptions::notifications_queued_max`; dropping this
/// receiver discards every later notification instead.
#[derive(Debug)]
pub struct Notifications {
    pub(crate) receiver: mpsc::UnboundedReceiver<Notification>,
    pub(crate) queued: Arc<AtomicUsize>,
}

impl Notifications {
    /// The next notification; `None` once the connection is closed and all were read.
    pub async fn recv(&mut self) -> Option<Notification> {
        let notification = self.receiver.recv().await;
        if notification.is_some() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        notification
    }

    /// The next notification if one is waiting.
    pub fn try_recv(&mut self) -> Option<Notification> {
        let notification = self.receiver.try_recv().ok();
        if notification.is_some() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        notification
    }
}
