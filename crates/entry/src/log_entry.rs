//! [`LogEntry`]: the payload of a normal raft log entry, and its versioned encoding.
//!
//! # Format (postcard, as the log store and the peer transport write it)
//!
//! Version 2 (written by this build): `[u8 2][Option<Origin>][Txn]`, each part in postcard's
//! encoding of the serde derives (`Origin` = two varint u64; `Txn` as `corral_tree::Txn`
//! derives it). Version 1 (older builds) had no version byte: `[Option<Origin>][Txn]`, whose
//! first byte is the option's tag, 0 or 1. So a first byte of 0 or 1 reads as version 1, 2 as
//! version 2, and anything else is refused as a version this build does not know.
//!
//! The encoding is postcard-specific (the version decides how many fields follow), which is
//! the only format entries are ever written in.

use std::fmt;
use std::sync::Arc;

use corral_tree::Txn;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The format version this build writes.
pub const LOG_ENTRY_FORMAT_VERSION: u8 = 2;

/// Version 1's first byte is an `Option` tag: none.
const V1_WITHOUT_ORIGIN: u8 = 0;
/// Version 1's first byte is an `Option` tag: some.
const V1_WITH_ORIGIN: u8 = 1;

/// Which server and connection submitted a txn, so that the server it came from can answer
/// the client when it applies the entry (every replica applies it; only the origin replies).
/// Not part of the replicated state: apply ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub server_id: u64,
    pub connection_id: u64,
}

/// The payload of a normal log entry. The txn is shared: the log store's cache, openraft and
/// the state machine each hold the entry, and cloning it must not copy paths and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub origin: Option<Origin>,
    pub txn: Arc<Txn>,
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "txn(session=0x{:x}, cxid={}, {:?})",
            self.txn.session_id,
            self.txn.cxid,
            std::mem::discriminant(&self.txn.kind)
        )
    }
}

impl Serialize for LogEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(3)?;
        tuple.serialize_element(&LOG_ENTRY_FORMAT_VERSION)?;
        tuple.serialize_element(&self.origin)?;
        tuple.serialize_element(&*self.txn)?;
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for LogEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(3, LogEntryVisitor)
    }
}

struct LogEntryVisitor;

impl<'de> Visitor<'de> for LogEntryVisitor {
    type Value = LogEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a Corral log entry (format version 1 or 2)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LogEntry, A::Error> {
        let first: u8 = next(&mut seq, "format version")?;
        let origin = match first {
            V1_WITHOUT_ORIGIN => None,
            V1_WITH_ORIGIN => Some(next::<Origin, A>(&mut seq, "origin")?),
            LOG_ENTRY_FORMAT_VERSION => next::<Option<Origin>, A>(&mut seq, "origin")?,
            unknown => {
                return Err(de::Error::custom(format_args!(
                    "log entry format version {unknown} is unknown to this build (it reads \
                     versions 1 to {LOG_ENTRY_FORMAT_VERSION}): the entry was written by a newer \
                     Corral"
                )))
            }
        };
        let txn: Txn = next(&mut seq, "txn")?;
        Ok(LogEntry {
            origin,
            txn: Arc::new(txn),
        })
    }
}

fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    what: &'static str,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom(format_args!("log entry ends before its {what}")))
}
