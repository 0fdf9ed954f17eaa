//! A small async ZooKeeper client on tokio that shows the server's replies as they are.
//!
//! Written for Corral's benchmark, differential tests and CLI, so it favours exposing the raw
//! protocol over convenience: every reply keeps its header zxid, its error code as a
//! [`corral_proto::ErrorCode`], its decoded [`corral_proto::response::Response`] and its body
//! bytes; notifications keep their header zxid; an optional wire log records the exact order
//! of frames received. There is no reconnect, no chroot, no watcher callbacks: a test decides
//! what to do when a connection ends.
//!
//! Map:
//! - [`client`]: [`Client`]: connect, pipelined `request`, ping, auth, close, raw frames.
//! - [`ops`]: one helper per operation (`create`, `get_data`, `multi`, ...), and
//!   [`ops::multi_op`] builders.
//! - [`options`]: [`ConnectOptions`], including the limits on every queue.
//! - [`reply`]: [`Reply`], [`Notification`], [`WireEvent`], the [`Notifications`] receiver.
//! - [`handshake`]: the ConnectRequest / ConnectResponse exchange, usable alone.
//! - `writer`, `reader`, `pinger`: the connection's three tasks; `pending`: reply matching;
//!   `shared`: what they share and the single path by which a connection ends.
//! - [`error`]: the [`ClientError`] type.

pub mod client;
pub mod error;
pub mod handshake;
pub mod ops;
pub mod options;
mod pending;
mod pinger;
mod reader;
pub mod reply;
mod shared;
mod writer;

pub use client::Client;
pub use error::ClientError;
pub use options::ConnectOptions;
pub use reply::{Notification, Notifications, Reply, WireEvent};

pub use corral_proto;
