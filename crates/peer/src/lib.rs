//! Corral's server-to-server transport: openraft's RPCs, streamed snapshots, and the server's
//! own messages, over TCP (or, for simulation, over a network in one process).
//!
//! It is generic over openraft's type configuration and names no ZooKeeper type: what the
//! server replicates and what its messages mean are the server's business.
//!
//! - Outbound: [`PeerNetwork`] is openraft's `RaftNetworkFactory`; its clients
//!   ([`PeerClient`]) implement `RaftNetworkV2` (append, vote, pre-vote, transfer-leader,
//!   streamed snapshot). [`PeerNetwork::app_link`] gives an [`AppLink`] for the server's own
//!   request/response messages and ordered streams ([`AppStream`]).
//! - Inbound: [`serve`] accepts connections and calls the server's [`InboundHandler`]; received
//!   snapshots go through the server's [`SnapshotIo`].
//! - In one process: [`memory::MemoryNet`] carries the same traffic between attached handlers
//!   without sockets, with seeded faults (partitions, loss, delay, duplication, crashes), for
//!   deterministic simulation of a whole ensemble; its links are [`AppLink`]s too.
//!
//! Wire: length-framed (4-byte big-endian length, `frame.rs`) postcard messages (`message.rs`)
//! after a versioned hello (`handshake.rs`, [`PEER_PROTOCOL_VERSION`]). Each connection carries
//! one [`Channel`], so a snapshot or a stream never delays a heartbeat.
//!
//! Files: `config.rs` (settings and limits), `error.rs`, `frame.rs`, `handshake.rs`,
//! `message.rs` (pure wire formats); `append_stream.rs` (pipelined AppendEntries, both
//! sides); `conn.rs` (an established connection and the handshake
//! on a socket), `pool.rs` (per-peer connection reuse and reachability logs), `client.rs`
//! (openraft's network), `snapshot.rs`, `app.rs`, `stream.rs`, `handler.rs`, `server.rs`;
//! `memory/` (the in-process net).

mod app;
mod append_stream;
mod client;
pub mod config;
mod conn;
mod error;
pub mod frame;
mod handler;
pub mod handshake;
pub mod memory;
pub mod message;
mod pool;
mod server;
mod snapshot;
mod stream;

pub use app::AppLink;
pub use client::{PeerClient, PeerNetwork};
pub use config::PeerConfig;
pub use error::{FrameError, PeerError};
pub use handler::InboundHandler;
pub use handshake::{Channel, PEER_PROTOCOL_VERSION};
pub use server::serve;
pub use snapshot::{SnapshotIo, SnapshotSink};
pub use stream::AppStream;
