//! [`LocalEffects`]: the replica's [`Effects`] on this server — answering the connection an
//! entry came from, delivering watch events to connections that may read the node, tracking
//! sessions created and closed by the log.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use corral_proto::connect::ConnectResponse;
use corral_proto::consts::perms;
use corral_proto::response::Response;
use corral_tree::DataTree;

use super::registry::ConnectionRegistry;
use crate::ids::{ConnectionId, SessionId};
use crate::metrics::Counters;
use crate::replica::{Answer, Effects, WatchEvent};
use crate::sessions::Sessions;

pub(crate) struct LocalEffects {
    pub registry: Arc<ConnectionRegistry>,
    pub sessions: Arc<Sessions>,
    pub counters: Arc<Counters>,
}

impl Effects for LocalEffects {
    fn watch_event(&self, tree: &DataTree, event: &WatchEvent<'_>) -> bool {
        let Some(conn) = self.registry.get(event.connection) else {
            return false;
        };
        let allowed = conn.with_identities(|ids| tree.permits(event.acl, perms::READ, ids));
        if allowed {
            conn.send_notification(event.zxid, event.event_type, event.path);
            self.counters
                .watch_events_sent
                .fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    fn session_created(&self, session_id: SessionId, timeout_ms: i32) {
        self.sessions.add(session_id, timeout_ms);
    }

    /// After closeSession or expiry the session's connection (if on this server) is closed,
    /// as ZooKeeper does; its client learns of an expiry when it reconnects.
    fn session_closed(&self, session_id: SessionId) {
        self.sessions.remove(session_id);
        if let Some(conn) = self.registry.by_session(session_id) {
            conn.close();
        }
    }

    fn answer(&self, connection: ConnectionId, answer: Answer<'_>) {
        let Some(conn) = self.registry.get(connection) else {
            return;
        };
        match answer {
            Answer::Connected {
                session_id,
                timeout_ms,
                password,
            } => {
                if let Some(old) = self.registry.bind_session(session_id, conn.id) {
                    old.close();
                }
                conn.set_session_id(session_id);
                let echo = conn.echo_read_only.load(Ordering::Acquire);
                let response = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms,
                    session_id,
                    password: Some(bytes::Bytes::copy_from_slice(password)),
                    read_only: echo.then_some(false),
                };
                conn.send_encoded(|out| response.encode(out));
            }
            Answer::NotConnected => conn.close(),
            Answer::SessionClosed { cxid, zxid } => {
                conn.send_reply(cxid, zxid, &Ok(Response::Empty));
                conn.close();
            }
            Answer::Reply { cxid, zxid, result } => conn.send_reply(cxid, zxid, result),
        }
        conn.write_answered();
    }
}
