//! What the log store encodes besides record framing: the persisted Raft state (vote,
//! committed, purged; kept in the state file) and entry payloads (postcard). Shared by the
//! live store and by recovery, which reads both back at start-up.

use openraft::type_config::alias::LogIdOf;
use openraft::type_config::alias::VoteOf;
use openraft::RaftTypeConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::error::Result;
use crate::record::RECORD_BYTES_MAX;
use crate::state_file::STATE_PAYLOAD_BYTES_MAX;

/// The durable part of the Raft state that is not log entries.
pub(crate) struct PersistedState<C: RaftTypeConfig> {
    pub(crate) vote: Option<VoteOf<C>>,
    pub(crate) committed: Option<LogIdOf<C>>,
    pub(crate) purged: Option<LogIdOf<C>>,
}

impl<C: RaftTypeConfig> Default for PersistedState<C> {
    fn default() -> Self {
        PersistedState {
            vote: None,
            committed: None,
            purged: None,
        }
    }
}

impl<C: RaftTypeConfig> Clone for PersistedState<C> {
    fn clone(&self) -> Self {
        PersistedState {
            vote: self.vote.clone(),
            committed: self.committed.clone(),
            purged: self.purged.clone(),
        }
    }
}

impl<C> PersistedState<C>
where
    C: RaftTypeConfig,
    C::Vote: Serialize + DeserializeOwned,
{
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let bytes =
            postcard::to_allocvec(&(&self.vote, &self.committed, &self.purged)).map_err(|e| {
                Error::Encode {
                    what: "raft state",
                    reason: e.to_string(),
                }
            })?;
        if bytes.len() > STATE_PAYLOAD_BYTES_MAX {
            return Err(Error::Encode {
                what: "raft state",
                reason: format!("{} bytes, over {STATE_PAYLOAD_BYTES_MAX}", bytes.len()),
            });
        }
        Ok(bytes)
    }

    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        type Wire<C> = (Option<VoteOf<C>>, Option<LogIdOf<C>>, Option<LogIdOf<C>>);
        let ((vote, committed, purged), rest) = postcard::take_from_bytes::<Wire<C>>(bytes)
            .map_err(|e| format!("cannot decode raft state: {e}"))?;
        if !rest.is_empty() {
            return Err(format!(
                "{} trailing bytes after the raft state",
                rest.len()
            ));
        }
        Ok(PersistedState {
            vote,
            committed,
            purged,
        })
    }
}

/// Decode one entry payload (no trailing bytes allowed).
pub(crate) fn decode_entry<C>(payload: &[u8]) -> std::result::Result<C::Entry, String>
where
    C: RaftTypeConfig,
    C::Entry: DeserializeOwned,
{
    let (entry, rest) = postcard::take_from_bytes::<C::Entry>(payload)
        .map_err(|e| format!("cannot decode entry: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the entry", rest.len()));
    }
    Ok(entry)
}

pub(crate) fn encode_entry<C>(entry: &C::Entry) -> Result<Vec<u8>>
where
    C: RaftTypeConfig,
    C::Entry: Serialize,
{
    let encode_error = |e: postcard::Error| Error::Encode {
        what: "log entry",
        reason: e.to_string(),
    };
    // Sized first: growing the Vec from empty cost several reallocations per entry, a
    // measurable share of the write path's malloc time.
    let bytes = postcard::experimental::serialized_size(entry).map_err(encode_error)?;
    let payload = postcard::to_extend(entry, Vec::with_capacity(bytes)).map_err(encode_error)?;
    if payload.is_empty() || payload.len() > RECORD_BYTES_MAX {
        return Err(Error::Encode {
            what: "log entry",
            reason: format!("{} bytes, limit {RECORD_BYTES_MAX}", payload.len()),
        });
    }
    Ok(payload)
}
