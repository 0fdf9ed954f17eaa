//! The only module that knows openraft. Everything else sees "submit a txn" and "a txn was
//! applied at index N". openraft is pinned with `=` in the workspace; upgrading it is a
//! deliberate change behind the tests.
//!
//! - [`types`]: the type configuration, the log entry payload and the apply reply.
//! - [`mem_log`]: an in-memory log store (used until the durable store is wired in, and by tests).
//! - [`state_machine`]: applies committed entries to the [`crate::core::Core`].
//! - [`network`]: the peer transport (none for a one-voter cluster).

pub mod mem_log;
pub mod network;
pub mod state_machine;
pub mod types;
