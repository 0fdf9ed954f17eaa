//! `Node::shutdown` ends every task it started, connection tasks included.

use std::time::Duration;

use crate::support::{connect, pinging, start};

#[tokio::test(start_paused = true)]
async fn shutdown_closes_every_connection_and_returns() {
    let (node, _vfs) = start().await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(connect(&node, pinging(30_000)).await);
    }
    assert_eq!(node.status().server_summary().connections, 5);
    tokio::time::timeout(Duration::from_secs(60), node.shutdown())
        .await
        .expect("shutdown finishes");
    for client in &clients {
        tokio::time::timeout(Duration::from_secs(1), client.closed())
            .await
            .expect("every connection was closed by the shutdown");
    }
}
