//! What can go wrong talking to a peer, kept apart by what the caller should do about it:
//! a peer that cannot be reached (back off), a connection that failed mid-way (reconnect), a
//! timeout, a refusal (configuration), garbage (a bug or a stranger), or the remote handler's
//! own error. `client.rs` maps these onto openraft's errors.

use std::io;
use std::time::Duration;

use openraft::error::{NetworkError, RPCError, Timeout, Unreachable};
use openraft::{RPCTypes, RaftTypeConfig};

/// Errors of the length framing (`frame.rs`).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection cleanly between frames.
    #[error("connection closed by the peer")]
    Closed,
    /// A frame's claimed length is over the limit; nothing of it was read or allocated.
    #[error("frame of {claimed_bytes} bytes is over the limit of {max_bytes} bytes")]
    TooLarge {
        claimed_bytes: u64,
        max_bytes: usize,
    },
    /// The connection ended inside a frame.
    #[error("connection closed inside a frame ({received_bytes} of {expected_bytes} bytes)")]
    Truncated {
        received_bytes: usize,
        expected_bytes: usize,
    },
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Errors of the transport as its callers see them.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// TCP connect failed (refused, no route, name not resolved).
    #[error("cannot connect to {addr}: {source}")]
    Unreachable { addr: String, source: io::Error },
    /// TCP connect did not complete in time.
    #[error("connect to {addr} timed out after {after:?}")]
    ConnectTimeout { addr: String, after: Duration },
    /// The peer accepted the connection but did not answer the hello in time.
    #[error("no answer to the hello within {0:?}")]
    HandshakeTimeout(Duration),
    /// The handshake was refused, by the peer or by us (the reason says which and why).
    #[error("handshake refused: {0}")]
    Refused(String),
    /// The operation did not complete in time; the connection was dropped.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame that does not decode as the message expected at this point.
    #[error("undecodable message: {0}")]
    Decode(String),
    /// A message that cannot be encoded (a serializer error of the caller's types).
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// A message that decodes but is not allowed here (e.g. a chunk before a snapshot began).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A message too large to send in one frame.
    #[error("message of {bytes} bytes is over frame_bytes_max {max_bytes}")]
    TooLarge { bytes: usize, max_bytes: usize },
    /// The remote handler answered with an error.
    #[error("peer {peer} failed the request: {reason}")]
    Remote { peer: u64, reason: String },
    /// An ordered stream is broken; everything sent on it may be lost.
    #[error("stream to peer {peer} is broken: {reason}")]
    StreamBroken { peer: u64, reason: String },
    /// An ordered stream's queue is full (`try_send` only); the stream is intact.
    #[error("stream to peer {peer} is full")]
    QueueFull { peer: u64 },
    /// Local snapshot data could not be read or written.
    #[error("snapshot storage: {0}")]
    Storage(io::Error),
}

impl PeerError {
    /// True when no connection was established: the peer is down or misconfigured, and an
    /// immediate retry would fail the same way.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            PeerError::Unreachable { .. }
                | PeerError::ConnectTimeout { .. }
                | PeerError::HandshakeTimeout(_)
                | PeerError::Refused(_)
        )
    }
}

impl From<io::Error> for PeerError {
    fn from(e: io::Error) -> Self {
        PeerError::Frame(FrameError::Io(e))
    }
}

/// openraft's error for a failed RPC from server `my_id` to `target` (the mapping is explained in `client.rs`).
pub(crate) fn rpc_error<C: RaftTypeConfig<NodeId = u64>>(
    e: PeerError,
    action: RPCTypes,
    my_id: u64,
    target: u64,
) -> RPCError<C> {
    match e {
        PeerError::Timeout(after) => RPCError::Timeout(Timeout {
            action,
            id: my_id,
            target,
            timeout: after,
        }),
        PeerError::Frame(FrameError::Closed | FrameError::Truncated { .. })
        | PeerError::Frame(FrameError::Io(_)) => RPCError::Network(NetworkError::new(&e)),
        e => RPCError::Unreachable(Unreachable::new(&e)),
    }
}
