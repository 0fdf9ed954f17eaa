//! Starting a server in-process and connecting clients to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use corral_client::{Client, ConnectOptions};
use corral_server::clock::TokioClock;
use corral_server::{Environment, Node, PeerFabric, ServerConfig, WriterMode};
use corral_storage::mem_vfs::MemVfs;

/// The wall clock the virtual clock starts from (2023-11-14).
pub const WALL_ORIGIN_MS: i64 = 1_700_000_000_000;

pub fn config() -> ServerConfig {
    ServerConfig {
        data_dir: PathBuf::from("/mem/data"),
        data_log_dir: PathBuf::from("/mem/data"),
        four_letter_whitelist: None,
        ..ServerConfig::default()
    }
}

/// Starts a server on `vfs` with a virtual clock and no TCP listener.
pub async fn start_on(config: ServerConfig, vfs: &MemVfs) -> Node {
    let env = Environment {
        clock: Arc::new(TokioClock::new(WALL_ORIGIN_MS)),
        vfs: Arc::new(vfs.clone()),
        seed: Some(7),
        listen_for_clients: false,
        log_writer: WriterMode::Inline,
        peers: PeerFabric::Tcp,
        apply_observer: None,
    };
    corral_server::start_in(config, env)
        .await
        .expect("in-process server starts")
}

pub async fn start() -> (Node, MemVfs) {
    let vfs = MemVfs::new();
    (start_on(config(), &vfs).await, vfs)
}

/// A distinct client address per connection (the per-IP connection limit counts addresses).
fn next_peer() -> SocketAddr {
    static PORT: AtomicU16 = AtomicU16::new(10_000);
    SocketAddr::from(([127, 0, 0, 1], PORT.fetch_add(1, Ordering::Relaxed)))
}

/// Connects a client through an in-memory stream.
pub async fn connect(node: &Node, options: ConnectOptions) -> Client {
    let (client_side, server_side) = tokio::io::duplex(256 * 1024);
    let (read, write) = tokio::io::split(server_side);
    node.connect(read, write, next_peer());
    Client::connect_stream(client_side, options)
        .await
        .expect("handshake")
}

/// Options for a session that sends no pings: only its requests keep it alive.
pub fn silent(timeout_ms: i32) -> ConnectOptions {
    ConnectOptions {
        timeout_ms,
        ping: false,
        ..ConnectOptions::default()
    }
}

pub fn pinging(timeout_ms: i32) -> ConnectOptions {
    ConnectOptions {
        timeout_ms,
        ping: true,
        ..ConnectOptions::default()
    }
}
