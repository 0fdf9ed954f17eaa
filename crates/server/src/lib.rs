//! The Corral server runtime: everything between the socket and the pure crates.
//!
//! Map (each part may import only the parts below it; see ARCHITECTURE.md):
//! - [`node`] (private): the composition root — builds every part and spawns every task.
//! - `connection`: one task per client connection: framing, handshake, the ordered request
//!   pipeline, reads, the writer.
//! - `four_letter`: `ruok`, `srvr`, `mntr`, ... rendered from `status` reports.
//! - `admin`: ZooKeeper's AdminServer (HTTP + JSON) over `status`.
//! - `prometheus`: `/metrics` in Prometheus' text format over `status`.
//! - `status`: plain-data reports for the operator view.
//! - `leader`: duties that run only while leading (session expiry, container reaping).
//! - `proposer`: the one write path into the log (or, on a follower, to the leader).
//! - `cluster`: the ensemble's own messages between servers (forwarded writes, session
//!   touches, read index).
//! - `raft`: the openraft glue (consensus handle, state machine, snapshots, role, network).
//! - `clients`: what other tasks may touch of a connection (handle, registry, the replica's
//!   effects on this server).
//! - `replica`: this server's copy of the tree, its watches, and apply.
//! - `sessions`: session liveness and ids.
//! - `identity`: which deployment (standalone, or which ensemble) a data directory belongs to.
//! - leaves: `watches`, `auth`, `metrics`, `ids`, `clock`, `memory`, `config`.

// Items are `pub(crate)` unless the crate exports them: the compiler then reports dead code, and
// nothing looks like API that is not.
#![deny(unreachable_pub)]

mod admin;
mod auth;
mod clients;
pub mod clock;
mod cluster;
pub mod config;
mod connection;
mod four_letter;
mod identity;
pub mod ids;
mod leader;
mod memory;
mod metrics;
mod node;
mod prometheus;
mod proposer;
mod raft;
mod replica;
mod sessions;
pub mod status;
mod watches;

pub use config::{parse_jvm_flags, ServerConfig};
pub use corral_storage::WriterMode;
pub use memory::tune_allocator;
pub use node::{start, start_in, Environment, Node, NodeError, PeerFabric};
pub use raft::{ApplyObserver, Role, RoleState};
