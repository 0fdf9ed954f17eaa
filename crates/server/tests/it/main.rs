//! In-process server tests: a [`corral_server::Node`] on a virtual clock (tokio's paused
//! time), an in-memory file system, and clients connected through in-memory streams. Time
//! moves only when every task waits, so timeouts and expiry are checked in milliseconds of
//! real time, with no sleeps.

mod order;
mod restart;
mod sessions;
mod shutdown;
mod support;
