//! The properties a simulated ensemble must keep, one file each. The driver checks the cheap
//! ones after every step and the rest when a seed ends.
//!
//! - [`committed_history`]: one committed history: no two servers (or two lives of one
//!   server) applied different entries at one index, and each server applies without gaps.
//! - [`digests`]: equal `DataTree` digests at equal applied index.
//! - [`client_zxids`]: a client's zxid never goes back.
//! - [`acknowledged_writes`]: no acknowledged write is lost: each is the committed entry at
//!   its zxid, applied on a majority after a whole-ensemble power loss and on every server
//!   once healed.
//! - [`session_expiry`]: every session is created once and closed (expired) at most once;
//!   sessions nobody uses any more are expired, and their ephemerals are gone.
//! - [`session_fifo`]: a session's writes take effect in the order its client sent them, each
//!   at most once.
//! - [`linearizable`]: the recorded client history passes `corral-history`'s checks.

pub mod acknowledged_writes;
pub mod client_zxids;
pub mod committed_history;
pub mod digests;
pub mod linearizable;
pub mod session_expiry;
pub mod session_fifo;

use std::fmt;

/// A broken property, with what shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub property: &'static str,
    pub detail: String,
}

impl Violation {
    pub fn new(property: &'static str, detail: impl Into<String>) -> Violation {
        Violation {
            property,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.detail)
    }
}
