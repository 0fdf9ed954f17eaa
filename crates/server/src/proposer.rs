//! The one write path: every txn that changes replicated state — a client's write, a new or
//! closed session, an expiry, a reaped container — is proposed here. The proposer stamps the
//! txn's time (decided once, then replicated) and its origin, and hands it to the log.
//!
//! Architecture invariant: the proposer never names a connection; the caller keeps its own
//! outstanding-write accounting and learns only whether the log took the entry.

use std::sync::Arc;

use corral_entry::{LogEntry, Origin};
use corral_tree::{Txn, TxnKind};

use crate::clock::Clock;
use crate::ids::{ConnectionId, ServerId, SessionId};
use crate::raft::Consensus;

/// Why a txn was not proposed. The caller cannot know whether it would have applied.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the log is unavailable: {0}")]
    LogUnavailable(String),
}

pub struct Proposer {
    server_id: ServerId,
    consensus: Consensus,
    clock: Arc<dyn Clock>,
}

impl Proposer {
    pub fn new(server_id: ServerId, consensus: Consensus, clock: Arc<dyn Clock>) -> Proposer {
        Proposer {
            server_id,
            consensus,
            clock,
        }
    }

    /// Proposes a txn from a client connection of this server; the state machine answers
    /// that connection when it applies the entry.
    pub async fn propose_from(
        &self,
        connection: ConnectionId,
        session_id: SessionId,
        cxid: i32,
        kind: TxnKind,
    ) -> Result<(), Refused> {
        let origin = Origin {
            server_id: self.server_id,
            connection_id: connection,
        };
        self.propose(Some(origin), session_id, cxid, kind).await
    }

    /// Proposes a server-internal txn (expiry, reaping) that no client waits for.
    pub async fn propose_internal(
        &self,
        session_id: SessionId,
        kind: TxnKind,
    ) -> Result<(), Refused> {
        self.propose(None, session_id, 0, kind).await
    }

    async fn propose(
        &self,
        origin: Option<Origin>,
        session_id: SessionId,
        cxid: i32,
        kind: TxnKind,
    ) -> Result<(), Refused> {
        let txn = Txn {
            session_id,
            cxid,
            time_ms: self.clock.wall_ms(),
            kind,
        };
        let entry = LogEntry {
            origin,
            txn: Arc::new(txn),
        };
        self.consensus
            .propose(entry)
            .await
            .map_err(|e| Refused::LogUnavailable(e.to_string()))
    }
}
