//! Why a connection or a request failed.
//!
//! The error is `Clone` because one fatal connection error is handed to every request that was
//! in flight when it happened, and is kept as the connection's close reason for requests made
//! afterwards. I/O errors are therefore shared behind an `Arc`.

use std::io;
use std::sync::Arc;

use corral_proto::frame::FrameError;
use corral_proto::{DecodeError, ErrorCode};

/// Every failure the client reports. Server-side failures of a single request are not here:
/// they come back as `Err(ErrorCode)` inside a [`crate::Reply`], exactly as the server sent them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// TCP connect failed.
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: Arc<io::Error>,
    },
    /// Reading from or writing to the socket failed.
    #[error("connection i/o: {0}")]
    Io(#[source] Arc<io::Error>),
    /// The connect (TCP + handshake) did not finish in time.
    #[error("handshake did not finish within {timeout_ms} ms")]
    ConnectTimeout { timeout_ms: u64 },
    /// The server closed the connection before sending a ConnectResponse: it refused the
    /// session (lastZxidSeen ahead of it, read-only mismatch, throttling, ...).
    #[error("server closed the connection during the handshake")]
    HandshakeRefused,
    /// The ConnectResponse carried a timeout of 0: the session is unknown, expired, or the
    /// password was wrong.
    #[error("session expired or invalid (negotiated timeout {timeout_ms})")]
    SessionExpired { timeout_ms: i32 },
    /// The server closed the connection.
    #[error("server closed the connection")]
    ConnectionClosed,
    /// The connection was closed by this client (`close()` or the last handle dropped).
    #[error("connection closed by the client")]
    Closed,
    /// A frame arrived whose length is negative or above `jute.maxbuffer`.
    #[error("bad frame from server: {0}")]
    Frame(#[from] FrameError),
    /// A frame that could not be decoded far enough to know what it answers.
    #[error("undecodable {what} from server: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: DecodeError,
    },
    /// The body of one reply did not decode; the connection itself stays usable.
    #[error("reply to xid {xid} (opcode {op_type}) does not decode: {source}")]
    BadReply {
        xid: i32,
        op_type: i32,
        #[source]
        source: DecodeError,
    },
    /// A reply's error code is not one this client knows.
    #[error("reply to xid {xid} carries unknown error code {err}")]
    UnknownErrorCode { xid: i32, err: i32 },
    /// A reply arrived for another request than the oldest one outstanding. Fatal, as in the
    /// Java client: replies on a connection must come in request order.
    #[error("reply xid {got} out of order: expected {expected}")]
    XidOutOfOrder { expected: i32, got: i32 },
    /// A reply arrived while no request of its kind was outstanding. Fatal.
    #[error("reply with xid {xid} while none was outstanding")]
    UnexpectedReply { xid: i32 },
    /// The server answered an auth packet with an error.
    #[error("authentication failed: {0}")]
    AuthFailed(ErrorCode),
    /// Nothing arrived for 2/3 of the session timeout (the Java client's read timeout).
    #[error("server silent for {silent_ms} ms")]
    ReadTimeout { silent_ms: u64 },
    /// The user did not drain notifications and more than the limit were waiting.
    #[error("more than {max} notifications waiting unread")]
    NotificationOverflow { max: usize },
}

impl ClientError {
    pub(crate) fn io(err: io::Error) -> ClientError {
        ClientError::Io(Arc::new(err))
    }

    /// Whether the error ended the connection (as opposed to failing one request).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            ClientError::BadReply { .. }
                | ClientError::UnknownErrorCode { .. }
                | ClientError::AuthFailed(_)
        )
    }
}
