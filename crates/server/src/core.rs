//! The state every task of a server shares: the tree, this server's watches and connections,
//! session liveness, counters. [`Core::apply_entries`] is where a committed log entry becomes a
//! changed tree, fired watches and — on the server the request came from — a reply, all under
//! the tree's write lock so that the ordering rules hold:
//!
//! - a watch event caused by zxid N is queued before any reply that reflects N (reads take the
//!   read lock, so they run before or after the whole apply, never in between);
//! - a reply that arms a watch is queued while the read lock is held, so before any event for
//!   that watch;
//! - replies to one connection's writes are queued in log order, which is submission order.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use corral_proto::connect::ConnectResponse;
use corral_proto::consts::perms;
use corral_proto::response::Response;
use corral_tree::{ApplyOutcome, DataTree, TreeConfig, TxnKind, WatchTrigger};
use parking_lot::{Mutex, RwLock};

use crate::config::ServerConfig;
use crate::connection::registry::ConnectionRegistry;
use crate::raft::types::LogEntry;
use crate::sessions::{SessionIdAllocator, SessionTracker};
use crate::stats::ServerStats;
use crate::watches::WatchRegistry;

pub struct Core {
    pub config: ServerConfig,
    pub server_id: u64,
    pub tree: RwLock<DataTree>,
    pub watches: Mutex<WatchRegistry>,
    pub connections: ConnectionRegistry,
    pub sessions: SessionTracker,
    pub session_ids: SessionIdAllocator,
    pub stats: Arc<ServerStats>,
    /// Index of the last applied log entry of any kind: the zxid replies carry.
    applied_zxid: AtomicI64,
    pub started: Instant,
}

/// Wall-clock milliseconds since the epoch (for txn times, decided once by the leader).
pub fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Core {
    pub fn new(config: ServerConfig) -> Core {
        let tree_config = TreeConfig {
            extended_types_enabled: config.extended_types_enabled,
            skip_acl: config.skip_acl,
        };
        let server_id = config.server_id;
        let tick_ms = u64::from(config.tick_time_ms);
        Core {
            tree: RwLock::new(DataTree::new(tree_config)),
            watches: Mutex::new(WatchRegistry::default()),
            connections: ConnectionRegistry::default(),
            sessions: SessionTracker::new(tick_ms),
            session_ids: SessionIdAllocator::new(server_id, wall_clock_ms() as u64),
            stats: Arc::new(ServerStats::default()),
            applied_zxid: AtomicI64::new(0),
            started: Instant::now(),
            server_id,
            config,
        }
    }

    pub fn last_zxid(&self) -> i64 {
        self.applied_zxid.load(Ordering::Acquire)
    }

    /// Records a log entry that carries no txn (blank, membership).
    pub fn note_applied(&self, index: u64) {
        self.applied_zxid.fetch_max(index as i64, Ordering::AcqRel);
    }

    /// Applies committed txns in log order under one write lock of the tree, each with its
    /// local effects (see the module docs).
    pub fn apply_entries<'a>(&self, entries: impl IntoIterator<Item = (u64, &'a LogEntry)>) {
        let mut tree = self.tree.write();
        for (index, entry) in entries {
            self.apply_locked(&mut tree, index, entry);
        }
    }

    fn apply_locked(&self, tree: &mut DataTree, index: u64, entry: &LogEntry) {
        let zxid = index as i64;
        // Watches are only registered under the tree's read lock, so none can appear
        // between this check and the apply; with none anywhere, triggers are not built.
        let watched = !self.watches.lock().is_empty();
        let outcome = if watched {
            tree.apply(zxid, &entry.txn)
        } else {
            tree.apply_unwatched(zxid, &entry.txn)
        };
        self.applied_zxid.fetch_max(zxid, Ordering::AcqRel);
        self.fire_triggers(tree, &outcome.triggers, zxid);
        // The tracker must know a new session before its client can send a request, and a
        // closing session's own reply must be queued before its connection is closed.
        self.track_new_session(&entry.txn, &outcome);
        self.answer_origin(entry, zxid, &outcome);
        self.end_closed_session(&entry.txn);
    }

    fn fire_triggers(&self, tree: &DataTree, triggers: &[WatchTrigger], zxid: i64) {
        if triggers.is_empty() {
            return;
        }
        let mut watches = self.watches.lock();
        for trigger in triggers {
            for delivery in watches.trigger(&trigger.path, trigger.event) {
                let Some(conn) = self.connections.get(delivery.connection) else {
                    continue;
                };
                let allowed =
                    conn.with_identities(|ids| tree.permits(&trigger.acl, perms::READ, ids));
                if allowed {
                    conn.send_notification(zxid, delivery.event_type, &trigger.path);
                    self.stats.watch_events_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn track_new_session(&self, txn: &corral_tree::Txn, outcome: &ApplyOutcome) {
        if let TxnKind::CreateSession { timeout_ms, .. } = &txn.kind {
            if outcome.result.is_ok() {
                self.sessions.add(txn.session_id, *timeout_ms);
            }
        }
    }

    /// After closeSession or expiry the session's connection (if on this server) is closed,
    /// as ZooKeeper does; its client learns of an expiry when it reconnects.
    fn end_closed_session(&self, txn: &corral_tree::Txn) {
        if let TxnKind::CloseSession { .. } = &txn.kind {
            self.sessions.remove(txn.session_id);
            if let Some(conn) = self.connections.by_session(txn.session_id) {
                conn.close();
            }
        }
    }

    fn answer_origin(&self, entry: &LogEntry, zxid: i64, outcome: &ApplyOutcome) {
        let Some(origin) = entry.origin else {
            return;
        };
        if origin.server_id != self.server_id {
            return;
        }
        let Some(conn) = self.connections.get(origin.connection_id) else {
            return;
        };
        match &entry.txn.kind {
            TxnKind::CreateSession {
                timeout_ms,
                password,
            } => {
                if outcome.result.is_err() {
                    conn.close();
                } else {
                    if let Some(old) = self.connections.bind_session(entry.txn.session_id, conn.id)
                    {
                        old.close();
                    }
                    conn.set_session_id(entry.txn.session_id);
                    let echo = conn.echo_read_only.load(Ordering::Acquire);
                    let response = ConnectResponse {
                        protocol_version: 0,
                        timeout_ms: *timeout_ms,
                        session_id: entry.txn.session_id,
                        password: Some(bytes::Bytes::copy_from_slice(password)),
                        read_only: echo.then_some(false),
                    };
                    conn.send_encoded(|out| response.encode(out));
                }
            }
            TxnKind::CloseSession { .. } => {
                conn.send_reply(entry.txn.cxid, zxid, &Ok(Response::Empty));
                conn.close();
            }
            _ => conn.send_reply(entry.txn.cxid, zxid, &outcome.result),
        }
        conn.write_answered();
    }
}
