//! Per-peer state shared by every client of one peer: idle connections kept for reuse, the
//! cap on concurrent app requests, and what was last logged about the peer's reachability.
//!
//! openraft creates a network client per election per voter, and a down peer is retried
//! every backoff interval; keeping connections and log state here, not in each client, makes
//! a new client free and keeps a down peer to one log line, not one per retry.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::config::{PeerConfig, APP_REQUEST_CONNECTIONS_MAX};
use crate::conn::{dial, Conn};
use crate::error::PeerError;
use crate::handshake::Channel;

/// One peer (an id at an address).
pub(crate) struct PeerSlot {
    pub(crate) id: u64,
    pub(crate) addr: String,
    idle: Mutex<Vec<Conn>>,
    /// Category of the last failure logged; repeats of it are logged at debug only.
    last_failure: Mutex<Option<String>>,
    /// Permits for app requests in flight, each holding one connection.
    pub(crate) app_permits: Semaphore,
}

impl PeerSlot {
    fn new(id: u64, addr: String) -> Self {
        PeerSlot {
            id,
            addr,
            idle: Mutex::new(Vec::new()),
            last_failure: Mutex::new(None),
            app_permits: Semaphore::new(APP_REQUEST_CONNECTIONS_MAX),
        }
    }

    /// A new connection for `channel`, logging a change of reachability.
    pub(crate) async fn dial(
        &self,
        config: &PeerConfig,
        channel: Channel,
    ) -> Result<Conn, PeerError> {
        let result = dial(config, self.id, &self.addr, channel).await;
        match &result {
            Ok(_) => self.connected(channel),
            Err(e) => self.failed(e),
        }
        result
    }

    fn connected(&self, channel: Channel) {
        *self.last_failure.lock() = None;
        tracing::info!(
            "connected to peer {} at {} ({channel:?})",
            self.id,
            self.addr
        );
    }

    /// Logs a failure to connect: a refusal at warn (a configuration error an operator must
    /// fix), anything else at info; the same failure again only at debug.
    fn failed(&self, e: &PeerError) {
        let category = match e {
            PeerError::Refused(reason) => format!("refused: {reason}"),
            _ => "unreachable".to_string(),
        };
        let repeat = self.last_failure.lock().replace(category.clone()) == Some(category);
        let id = self.id;
        let addr = &self.addr;
        match e {
            _ if repeat => tracing::debug!("peer {id} at {addr} still not connected: {e}"),
            PeerError::Refused(_) => tracing::warn!("cannot connect to peer {id}: {e}"),
            _ => tracing::info!("peer {id} at {addr} unreachable: {e}"),
        }
    }

    /// An idle connection for `channel` the peer has not closed; closed ones are dropped.
    pub(crate) fn take_idle(&self, channel: Channel) -> Option<Conn> {
        let mut idle = self.idle.lock();
        while let Some(at) = idle.iter().rposition(|c| c.channel == channel) {
            let conn = idle.swap_remove(at);
            if conn.is_reusable() {
                return Some(conn);
            }
            tracing::info!(
                "peer {} at {} closed an idle {channel:?} connection",
                self.id,
                self.addr
            );
        }
        None
    }

    /// Keeps `conn` for the next client, unless `keep_max` of its channel are already kept.
    pub(crate) fn put_idle(&self, conn: Conn, keep_max: usize) {
        let mut idle = self.idle.lock();
        let kept = idle.iter().filter(|c| c.channel == conn.channel).count();
        if kept < keep_max {
            idle.push(conn);
        }
    }

    /// Drops `conn` after `e`, logging the disconnection.
    pub(crate) fn lost(&self, conn: Conn, e: &PeerError) {
        tracing::info!(
            "disconnected from peer {} at {} ({:?}): {e}",
            self.id,
            self.addr,
            conn.channel
        );
    }

    /// Records a failure of a request whose connection (if any) is already gone, e.g. a
    /// timeout that dropped the request's future: logged like a failed connect.
    pub(crate) fn request_failed(&self, e: &PeerError) {
        let repeat =
            self.last_failure.lock().replace("request".to_string()) == Some("request".to_string());
        if repeat {
            tracing::debug!("request to peer {} at {} failed: {e}", self.id, self.addr);
        } else {
            tracing::info!(
                "request to peer {} at {} failed, connection dropped: {e}",
                self.id,
                self.addr
            );
        }
    }

    /// A request succeeded: the next failure is news again.
    pub(crate) fn succeeded(&self) {
        *self.last_failure.lock() = None;
    }
}

/// Every peer slot of one server, keyed by id and address (a peer that moves gets a new
/// slot; the old one is dropped with its last client).
#[derive(Default)]
pub(crate) struct Slots {
    slots: Mutex<HashMap<(u64, String), Arc<PeerSlot>>>,
}

impl Slots {
    pub(crate) fn get(&self, id: u64, addr: &str) -> Arc<PeerSlot> {
        let mut slots = self.slots.lock();
        slots.retain(|_, slot| Arc::strong_count(slot) > 1 || slot.has_idle());
        slots
            .entry((id, addr.to_string()))
            .or_insert_with(|| Arc::new(PeerSlot::new(id, addr.to_string())))
            .clone()
    }
}

impl PeerSlot {
    fn has_idle(&self) -> bool {
        !self.idle.lock().is_empty()
    }
}
