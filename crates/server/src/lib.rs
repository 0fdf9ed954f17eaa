//! The Corral server runtime: everything between the socket and the pure crates.
//!
//! Map (dependencies point down):
//! - [`server`]: start/stop, the listener and background loops (expiry, reaping).
//! - [`connection`]: one task per client connection: framing, handshake, the ordered
//!   request pipeline, the writer.
//! - [`four_letter`]: `ruok`, `srvr`, `mntr`, ... on the client port.
//! - [`core`]: shared state and [`core::Core::apply_entries`], where committed txns change the
//!   tree, fire watches and answer clients.
//! - [`raft`]: the openraft glue (type config, log store, state machine, peer network).
//! - [`watches`], [`sessions`], [`auth`], [`stats`], [`config`]: one job each.

pub mod auth;
pub mod config;
pub mod connection;
pub mod core;
pub mod four_letter;
pub mod memory;
pub mod raft;
pub mod server;
pub mod sessions;
pub mod stats;
pub mod watches;

pub use config::ServerConfig;
pub use server::{start, RunningServer, ServerError};
