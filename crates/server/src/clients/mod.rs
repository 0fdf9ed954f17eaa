//! What other tasks may touch of this server's client connections: the [`handle`] of each
//! connection (its outbound buffer, identities, outstanding writes), the [`registry`] of live
//! connections, and [`delivery`], which implements the replica's [`crate::replica::Effects`]
//! so that applying a committed entry can answer clients and fire watches without the replica
//! knowing what a connection is.
//!
//! Architecture invariant: this module never names `connection/` (the per-connection task),
//! `raft/` or `node.rs`; it sees the tree only as the `&DataTree` apply hands it.

pub(crate) mod delivery;
pub(crate) mod handle;
pub(crate) mod rate_limited_log;
pub(crate) mod registry;
pub(crate) mod write_gate;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use delivery::LocalEffects;
pub(crate) use handle::ConnectionHandle;
pub(crate) use registry::ConnectionRegistry;
pub(crate) use write_gate::WriteGate;

use crate::ids::ConnectionId;

/// Allocates connection ids that never repeat across restarts: they start from the start
/// time (ms since the epoch, shifted left 20 bits), because log entries replayed after a
/// restart carry the connection id of the client that sent them, and a new connection must
/// never be answered a reply meant for an old one. A million connections per millisecond of
/// downtime would be needed to collide.
#[derive(Debug)]
pub(crate) struct ConnectionIds {
    next: AtomicU64,
}

impl ConnectionIds {
    pub(crate) fn new(start_wall_ms: i64) -> ConnectionIds {
        let start = u64::try_from(start_wall_ms.max(1)).unwrap_or(1) << 20;
        ConnectionIds {
            next: AtomicU64::new(start),
        }
    }

    pub(crate) fn allocate(&self) -> ConnectionId {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_from_the_start_time_and_increase() {
        let ids = ConnectionIds::new(1_000);
        let a = ids.allocate();
        assert_eq!(a, 1_000 << 20);
        assert_eq!(ids.allocate(), a + 1);
        let later = ConnectionIds::new(1_001);
        assert!(later.allocate() > a + 1_000);
    }
}
