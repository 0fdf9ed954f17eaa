//! The wire format of the ensemble's messages: a format version byte, then the postcard
//! encoding of the message. A server refuses a message of a version it does not know with a
//! clear error, which closes the stream it came on; the log entries inside carry their own
//! version (`corral_entry::LogEntry`).

use bytes::Bytes;
use corral_entry::LogEntry;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ids::SessionId;

/// The version this build writes and reads. (Version 2 re-attached a session with a stream
/// message the leader did not confirm.)
pub(crate) const CLUSTER_MESSAGE_VERSION: u8 = 3;

/// A message on a server's ordered stream to the leader, with the term it was sent in: a
/// leader refuses (and so closes) a stream whose messages belong to another term, so a message
/// held in a cut link cannot take effect in a later term, after writes the same session made
/// since. (Version 1 had no envelope.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamEnvelope {
    pub(crate) term: u64,
    pub(crate) message: StreamMessage,
}

/// A message on a server's ordered stream to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum StreamMessage {
    /// A client's write (or session create/close), to go into the log as it is.
    Forward(LogEntry),
    /// Sessions whose clients were heard from on the sending server since its last touch.
    Touch(Vec<SessionId>),
}

/// A request that expects an answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum ClusterRequest {
    /// The index a linearizable read (`sync`) must wait for.
    ReadIndex,
    /// A client re-attached `session` on the sending server through its connection
    /// `connection`, in `term`: from now on only that connection's writes of the session go
    /// into the log (`super::owners`). The sender answers the client only once the leader
    /// answers [`ClusterReply::Done`]; the leader refuses it in another term.
    Attach {
        term: u64,
        session: SessionId,
        connection: u64,
    },
    /// A client re-attached this session on the sending server: a connection the receiver
    /// still holds for it is stale and is closed (ZooKeeper closes it too, never answering
    /// SESSIONMOVED).
    SessionMoved(SessionId),
    /// The leader dropped a write this server forwarded for connection `.0` (it lost the
    /// leadership before the write committed): that connection's client waits for an answer
    /// that will never come, so it is closed (its client retries, as after any connection loss).
    WriteLost(u64),
}

/// The answer to a [`ClusterRequest`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum ClusterReply {
    ReadIndex(u64),
    Done,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MessageError {
    #[error("cluster message of format version {0}, unknown to this build (it reads {CLUSTER_MESSAGE_VERSION})")]
    UnknownVersion(u8),
    #[error("empty cluster message")]
    Empty,
    #[error("cannot decode a cluster message: {0}")]
    Decode(String),
    #[error("cannot encode a cluster message: {0}")]
    Encode(String),
}

pub(crate) fn encode<T: Serialize>(message: &T) -> Result<Bytes, MessageError> {
    let mut out = vec![CLUSTER_MESSAGE_VERSION];
    let body = postcard::to_allocvec(message).map_err(|e| MessageError::Encode(e.to_string()))?;
    out.extend_from_slice(&body);
    Ok(Bytes::from(out))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MessageError> {
    let (&version, body) = bytes.split_first().ok_or(MessageError::Empty)?;
    if version != CLUSTER_MESSAGE_VERSION {
        return Err(MessageError::UnknownVersion(version));
    }
    postcard::from_bytes(body).map_err(|e| MessageError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unknown_versions() {
        let touch = StreamMessage::Touch(vec![1, 0x0100_0000_0000_0002]);
        let bytes = encode(&touch).unwrap();
        assert_eq!(bytes[0], CLUSTER_MESSAGE_VERSION);
        let StreamMessage::Touch(ids) = decode::<StreamMessage>(&bytes).unwrap() else {
            panic!("not a touch");
        };
        assert_eq!(ids, vec![1, 0x0100_0000_0000_0002]);
        let mut future = bytes.to_vec();
        future[0] = CLUSTER_MESSAGE_VERSION + 1;
        assert!(matches!(
            decode::<StreamMessage>(&future),
            Err(MessageError::UnknownVersion(_))
        ));
        assert!(matches!(
            decode::<StreamMessage>(&[]),
            Err(MessageError::Empty)
        ));
        assert!(decode::<StreamMessage>(&[CLUSTER_MESSAGE_VERSION, 0xff, 0xff]).is_err());
    }
}
