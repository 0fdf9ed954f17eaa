//! Corral's replicated log entry, one owner for a compatibility boundary.
//!
//! Every server writes log entries to its disk and, in an ensemble, sends them to the others;
//! during a rolling upgrade servers of two versions read each other's entries. So the bytes of
//! an entry are a format with a version, pinned by golden bytes (`tests/golden.rs`), and an
//! entry of a version this build does not know is refused with a message saying so, never
//! misread.
//!
//! - [`log_entry`]: [`LogEntry`] (a txn plus the [`Origin`] that answers its client) and its
//!   versioned encoding.
//! - [`snapshot_meta`]: the versioned encoding of openraft's snapshot meta, kept inside each
//!   snapshot file.
//! - [`runtime`]: openraft's async runtime for Corral (tokio, with random numbers a
//!   simulation can seed per thread).
//! - [`types`]: openraft's type configuration ([`TypeConfig`]) and the aliases the storage,
//!   the server and the data tools share. The `Raft` handle itself is not here: it names the
//!   state machine, which lives in the server.
//!
//! Architecture invariant: this crate depends only on `corral-tree` (for `Txn`), openraft (with
//! its tokio runtime and rand), serde and postcard; it never names the server, the storage or a
//! socket.

pub mod log_entry;
pub mod runtime;
pub mod snapshot_meta;
pub mod types;

pub use log_entry::{LogEntry, Origin, LOG_ENTRY_FORMAT_VERSION};
pub use snapshot_meta::{decode_snapshot_meta, encode_snapshot_meta, SNAPSHOT_META_FORMAT_VERSION};
pub use types::{
    explain_undecodable, ApplyReply, Entry, LogId, NodeId, SnapshotMeta, StoredMembership,
    TypeConfig, Vote,
};
