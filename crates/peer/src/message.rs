//! The messages each channel carries after the hello, one enum per channel and direction.
//!
//! They are postcard-encoded serde enums, versioned as a whole by `PEER_PROTOCOL_VERSION`:
//! adding a variant or a field is a new version. openraft's RPC types are carried as openraft
//! serialises them (the workspace enables its `serde` feature), so this crate never looks
//! inside a log entry: the application's entry encoding is its own business.

use std::fmt;

use bytes::Bytes;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use openraft::RaftTypeConfig;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `Channel::Raft`, connecting side to accepting side.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum RaftRequest<C: RaftTypeConfig> {
    AppendEntries(AppendEntriesRequest<C>),
    Vote(VoteRequest<C>),
    PreVote(VoteRequest<C>),
    TransferLeader(TransferLeaderRequest<C>),
}

/// `Channel::Raft`, the answer to each request, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum RaftReply<C: RaftTypeConfig> {
    AppendEntries(AppendEntriesResponse<C>),
    Vote(VoteResponse<C>),
    PreVote(VoteResponse<C>),
    TransferLeader(TransferLeaderResponse<C>),
    /// The handler's error (e.g. the remote Raft is shutting down).
    Failed(String),
}

impl<C: RaftTypeConfig> RaftRequest<C> {
    /// For logs.
    pub fn name(&self) -> &'static str {
        match self {
            RaftRequest::AppendEntries(_) => "append_entries",
            RaftRequest::Vote(_) => "vote",
            RaftRequest::PreVote(_) => "pre_vote",
            RaftRequest::TransferLeader(_) => "transfer_leader",
        }
    }
}

/// `Channel::RaftAppend`, receiver to sender: one answer per AppendEntries, in order (the
/// sender's frames are bare `AppendEntriesRequest`s). After an error result or `Failed` the
/// receiver closes the connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum AppendReply<C: RaftTypeConfig> {
    /// `Raft::stream_append`'s result: the last log id now flushed, or why not.
    Appended(StreamAppendResult<C>),
    /// The handler's error (e.g. the remote Raft stopped).
    Failed(String),
}

/// `Channel::Snapshot`, sender to receiver: `Begin`, any number of `Chunk`s, `End`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum SnapshotFrame<C: RaftTypeConfig> {
    Begin {
        /// The leader's vote, for `Raft::install_full_snapshot`.
        vote: VoteOf<C>,
        meta: SnapshotMetaOf<C>,
    },
    Chunk(Blob),
    /// What the receiver must have seen: a short or corrupted transfer is never installed.
    End {
        total_bytes: u64,
        crc32c: u32,
    },
}

/// `Channel::Snapshot`, receiver to sender.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum SnapshotReply<C: RaftTypeConfig> {
    /// Keep-alive while the receiver writes chunks, finishes and installs (which for a large
    /// tree takes a while): the sender's idle timeout measures a silent receiver, not a slow
    /// one.
    Working,
    Installed(SnapshotResponse<C>),
    Failed(String),
}

/// `Channel::AppRequest`, connecting side to accepting side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppRequest {
    Request(Blob),
}

/// `Channel::AppRequest`, the answer to each request, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppReply {
    Ok(Blob),
    Failed(String),
}

/// `Channel::AppStream`, sender to receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamFrame {
    Message(Blob),
}

/// `Channel::AppStream`, receiver to sender: the only thing a receiver ever says, just before
/// it closes the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamReply {
    Closed { reason: String },
}

/// Opaque bytes, encoded as one length-prefixed byte string (serde's `Vec<u8>` would go
/// element by element, which for a megabyte chunk is slow).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Bytes);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BlobVisitor)
    }
}

struct BlobVisitor;

impl<'de> Visitor<'de> for BlobVisitor {
    type Value = Blob;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
        Ok(Blob(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
        Ok(Blob(Bytes::from(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::decode;

    #[test]
    fn a_blob_is_one_byte_string() {
        let msg = StreamFrame::Message(Blob(Bytes::from_static(b"abc")));
        let bytes = postcard::to_allocvec(&msg).expect("encodes");
        assert_eq!(bytes, [0, 3, b'a', b'b', b'c']);
        assert_eq!(decode::<StreamFrame>(&bytes).expect("decodes"), msg);
    }

    #[test]
    fn a_blob_longer_than_its_frame_is_an_error() {
        assert!(decode::<StreamFrame>(&[0, 9, 1]).is_err());
    }
}
