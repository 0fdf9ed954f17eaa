//! What a caller chooses when connecting, and the limits that keep the client's memory bounded.
//!
//! The first five fields are the handshake's own (`ConnectRequest`); the rest are client-side
//! behaviour. Every queue a caller or the server could grow has its limit here.

use bytes::Bytes;
use corral_proto::consts::JUTE_MAX_BUFFER_BYTES_DEFAULT;

/// Default requested session timeout.
pub const TIMEOUT_MS_DEFAULT: i32 = 30_000;
/// Default bound on the TCP connect plus handshake.
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Default number of ordinary requests in flight on one connection.
pub const IN_FLIGHT_MAX_DEFAULT: usize = 10_000;
/// Default number of unread notifications before the connection is dropped.
pub const NOTIFICATIONS_QUEUED_MAX_DEFAULT: usize = 1_000_000;
/// Default number of entries the wire log keeps; later events are counted, not kept.
pub const WIRE_LOG_EVENTS_MAX_DEFAULT: usize = 1_000_000;

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Requested session timeout; the server clamps it and answers the negotiated value.
    pub timeout_ms: i32,
    /// 0 to create a new session, or the id of a session to re-attach to.
    pub session_id: i64,
    /// The session password; `None` sends 16 zero bytes (what clients send for a new session).
    pub password: Option<Bytes>,
    /// Highest zxid this client has seen; a server behind it refuses the connection.
    pub last_zxid_seen: i64,
    /// The optional trailing `readOnly` byte: `None` omits it (a 44-byte ConnectRequest, as
    /// ZooKeeper ≤ 3.3 and old ClickHouse send), `Some(b)` sends it (45 bytes).
    pub read_only: Option<bool>,
    /// Bound on TCP connect plus handshake.
    pub connect_timeout_ms: u64,
    /// Largest frame accepted from the server (`jute.maxbuffer`); a larger one is fatal.
    pub max_frame_bytes: usize,
    /// Ordinary requests in flight before `request` waits for a reply to make room.
    pub in_flight_max: usize,
    /// Send pings after 1/3 of the negotiated timeout of send idleness, and drop the
    /// connection after 2/3 of it without receiving anything (as the Java client does).
    pub ping: bool,
    /// Unread notifications tolerated before the connection is dropped.
    pub notifications_queued_max: usize,
    /// Keep an ordered log of every frame received (see [`crate::WireEvent`]).
    pub wire_log: bool,
    /// Entries the wire log keeps.
    pub wire_log_events_max: usize,
    /// The xid of the first ordinary request. The Java client keeps one xid counter across
    /// the reconnections of a session: a caller doing the same passes the previous
    /// connection's [`crate::Client::next_xid`], so that (session, xid) names one request.
    pub first_xid: i32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout_ms: TIMEOUT_MS_DEFAULT,
            session_id: 0,
            password: None,
            last_zxid_seen: 0,
            read_only: Some(false),
            connect_timeout_ms: CONNECT_TIMEOUT_MS_DEFAULT,
            max_frame_bytes: JUTE_MAX_BUFFER_BYTES_DEFAULT,
            in_flight_max: IN_FLIGHT_MAX_DEFAULT,
            ping: true,
            notifications_queued_max: NOTIFICATIONS_QUEUED_MAX_DEFAULT,
            wire_log: false,
            wire_log_events_max: WIRE_LOG_EVENTS_MAX_DEFAULT,
            first_xid: 1,
        }
    }
}
