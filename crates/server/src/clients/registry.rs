//! Live connections of this server, by connection id and by session id, and the per-IP count
//! that `maxClientCnxns` limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::RwLock;

use super::handle::ConnectionHandle;
use crate::ids::{ConnectionId, SessionId};

#[derive(Default)]
struct Tables {
    by_id: HashMap<ConnectionId, Arc<ConnectionHandle>>,
    by_session: HashMap<SessionId, ConnectionId>,
    per_ip: HashMap<IpAddr, u32>,
}

#[derive(Default)]
pub(crate) struct ConnectionRegistry {
    tables: RwLock<Tables>,
}

impl ConnectionRegistry {
    /// Registers a new connection unless its IP already has `max_per_ip` (0 = unlimited).
    pub(crate) fn register(&self, handle: Arc<ConnectionHandle>, max_per_ip: u32) -> bool {
        let mut tables = self.tables.write();
        let ip = handle.peer.ip();
        let count = tables.per_ip.entry(ip).or_insert(0);
        if max_per_ip != 0 && *count >= max_per_ip {
            return false;
        }
        *count += 1;
        tables.by_id.insert(handle.id, handle);
        true
    }

    /// Forgets a connection that has ended; its writes still in the log stop counting
    /// against the server's outstanding-write limit.
    pub(crate) fn unregister(&self, id: ConnectionId) {
        let mut tables = self.tables.write();
        let Some(handle) = tables.by_id.remove(&id) else {
            return;
        };
        handle.detach_from_gate();
        let session_id = handle.session_id();
        if tables.by_session.get(&session_id) == Some(&id) {
            tables.by_session.remove(&session_id);
        }
        let ip = handle.peer.ip();
        if let Some(count) = tables.per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                tables.per_ip.remove(&ip);
            }
        }
    }

    pub(crate) fn get(&self, id: ConnectionId) -> Option<Arc<ConnectionHandle>> {
        self.tables.read().by_id.get(&id).cloned()
    }

    /// Binds a session to a connection; returns the connection that held it before, if any,
    /// which the caller closes (a session lives on one connection at a time).
    pub(crate) fn bind_session(
        &self,
        session_id: SessionId,
        id: ConnectionId,
    ) -> Option<Arc<ConnectionHandle>> {
        let mut tables = self.tables.write();
        let previous = tables.by_session.insert(session_id, id);
        previous
            .filter(|&old| old != id)
            .and_then(|old| tables.by_id.get(&old).cloned())
    }

    pub(crate) fn by_session(&self, session_id: SessionId) -> Option<Arc<ConnectionHandle>> {
        let tables = self.tables.read();
        tables
            .by_session
            .get(&session_id)
            .and_then(|id| tables.by_id.get(id).cloned())
    }

    /// Every live connection, ordered by id.
    pub(crate) fn all(&self) -> Vec<Arc<ConnectionHandle>> {
        let mut all: Vec<_> = self.tables.read().by_id.values().cloned().collect();
        all.sort_by_key(|h| h.id);
        all
    }

    pub(crate) fn len(&self) -> usize {
        self.tables.read().by_id.len()
    }
}
