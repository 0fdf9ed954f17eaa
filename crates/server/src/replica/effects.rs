//! [`Effects`]: what applying a committed entry does on this server outside the replicated
//! tree — answering the client the entry came from, delivering watch events, ending a closed
//! session's connection. Declared here, by the replica that needs it, and implemented by the
//! client registry ([`crate::clients::LocalEffects`]), so the replica never names a connection.
//!
//! Every method is called with the tree's write lock held, in log order; implementations must
//! not block and must not take the tree's lock.

use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode};
use corral_tree::DataTree;

use crate::ids::{ConnectionId, SessionId, Zxid};

/// The answer to the client of one applied entry (on the server the entry came from).
#[derive(Debug)]
pub(crate) enum Answer<'a> {
    /// createSession succeeded: send the ConnectResponse.
    Connected {
        session_id: SessionId,
        timeout_ms: i32,
        password: &'a [u8; 16],
    },
    /// createSession failed (the session id already existed): close the connection.
    NotConnected,
    /// closeSession was applied: reply, then close the connection.
    SessionClosed { cxid: i32, zxid: Zxid },
    /// Any other write's reply.
    Reply {
        cxid: i32,
        zxid: Zxid,
        result: &'a Result<Response, ErrorCode>,
    },
}

/// One watch event to deliver.
#[derive(Debug)]
pub(crate) struct WatchEvent<'a> {
    pub connection: ConnectionId,
    pub zxid: Zxid,
    pub event_type: i32,
    pub path: &'a str,
    /// The node's ACL: the event goes only to a connection that may READ it.
    pub acl: &'a [Acl],
}

pub(crate) trait Effects: Send + Sync {
    /// Delivers a watch event if the connection still exists and may read the node; returns
    /// whether it was delivered.
    fn watch_event(&self, tree: &DataTree, event: &WatchEvent<'_>) -> bool;
    /// A session now exists in the tree (called on every server).
    fn session_created(&self, session_id: SessionId, timeout_ms: i32);
    /// A session was closed or expired (every server): its connection here, if any, ends.
    fn session_closed(&self, session_id: SessionId);
    /// Answers the connection an entry of this server came from.
    fn answer(&self, connection: ConnectionId, answer: Answer<'_>);
}
