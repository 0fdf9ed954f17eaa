//! The only module that knows openraft. Everything else sees "submit a txn" and "a txn was
//! applied at index N". openraft is pinned with `=` in the workspace; upgrading it is a
//! deliberate change behind the tests.
//!
//! - [`types`]: the type configuration, the log entry payload and the apply reply.
//! - [`snapshot`]: snapshots of the tree without pausing writes.
//! - [`state_machine`]: applies committed entries to the [`crate::core::Core`], restores from
//!   snapshots.
//!
//! The log store is `corral_storage::LogStore` (segment files, group commit).
//! - [`network`]: the peer transport (none for a one-voter cluster).

pub mod network;
pub mod snapshot;
pub mod state_machine;
pub mod types;
