//! Integration tests of the peer transport, all on 127.0.0.1 with ephemeral ports (`memory`:
//! in one process, on tokio's paused clock); each test starts and stops its own servers.

mod app;
mod append_stream;
mod common;
mod handshake;
mod hostile;
mod memory;
mod raft_rpc;
mod snapshot;
