//! The one write path: every txn that changes replicated state — a client's write, a new or
//! closed session, an expiry, a reaped container — is proposed here. The proposer stamps the
//! txn's time (decided once, then replicated) and its origin, and hands it to the log.
//!
//! In an ensemble, only the leader appends to the log: a follower or observer hands the entry
//! to the [`Forwarder`], whose one ordered stream to the leader keeps each session's order.
//! Whichever server the client is connected to answers it when it applies the entry.
//!
//! Architecture invariant: the proposer never names a connection; the caller keeps its own
//! outstanding-write accounting and learns only whether the log (or the stream to the leader)
//! took the entry.

use std::sync::Arc;
use std::time::Duration;

use corral_entry::{LogEntry, Origin};
use corral_tree::{Txn, TxnKind};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::cluster::forwarder::Forwarder;
use crate::cluster::message::StreamMessage;
use crate::cluster::owners::SessionOwners;
use crate::ids::{ConnectionId, ServerId, SessionId};
use crate::raft::{Consensus, Role, RoleState};

/// How long `sync` waits for this server to apply up to the leader's read index.
const READ_BARRIER_APPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a txn was not proposed. The caller cannot know whether it would have applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("the log is unavailable: {0}")]
    LogUnavailable(String),
    #[error("no leader is known")]
    NoLeader,
    #[error("cannot reach the leader: {0}")]
    Forward(String),
    #[error("the session has moved to another server")]
    SessionMoved,
}

/// Where entries go.
pub(crate) enum Route {
    /// A one-voter cluster: always the local log.
    Standalone,
    /// An ensemble member: the local log while leading, otherwise the stream to the leader.
    Ensemble {
        role: watch::Receiver<RoleState>,
        forwarder: Arc<Forwarder>,
        /// The leader's record of which server each session is attached to.
        owners: Arc<SessionOwners>,
    },
}

pub(crate) struct Proposer {
    server_id: ServerId,
    consensus: Consensus,
    clock: Arc<dyn Clock>,
    route: Route,
}

impl Proposer {
    pub(crate) fn new(
        server_id: ServerId,
        consensus: Consensus,
        clock: Arc<dyn Clock>,
        route: Route,
    ) -> Proposer {
        Proposer {
            server_id,
            consensus,
            clock,
            route,
        }
    }

    /// A client re-attached `session` on this server: in an ensemble, the other members close
    /// a connection they still hold for it.
    /// Called before the ConnectResponse of a re-attached session, so that it precedes every
    /// write of the session through this server: the leader learns that the session's writes
    /// now come from here (a write still held in another server's link is then refused), and
    /// the other members close a connection they still hold for it.
    pub(crate) async fn session_moved_here(&self, session: SessionId) {
        let Route::Ensemble {
            role,
            forwarder,
            owners,
        } = &self.route
        else {
            return;
        };
        let state = *role.borrow();
        match (state.role, state.leader) {
            (Role::Leader, _) => owners.attach(state.term, session, self.server_id),
            (_, Some(leader)) => {
                let attach = StreamMessage::Attach(session);
                if let Err(err) = forwarder.send(leader, state.term, &attach).await {
                    tracing::debug!(%err, "could not tell the leader of a re-attached session");
                }
            }
            _ => {}
        }
        forwarder.announce_session_moved(session);
    }

    /// Waits until this server has applied every write committed before the call (ZooKeeper's
    /// `sync`): the leader's read index, confirmed by a quorum, then the local apply.
    pub(crate) async fn read_barrier(&self) -> Result<(), Refused> {
        let Route::Ensemble {
            role, forwarder, ..
        } = &self.route
        else {
            // A one-voter cluster applies what it commits before answering anything after.
            return Ok(());
        };
        let state = *role.borrow();
        let index = match (state.role, state.leader) {
            (Role::Leader, _) => self
                .consensus
                .read_index()
                .await
                .map_err(|e| Refused::LogUnavailable(e.to_string()))?,
            (_, Some(leader)) => forwarder
                .read_index(leader)
                .await
                .map_err(|e| Refused::Forward(e.to_string()))?,
            (_, None) => return Err(Refused::NoLeader),
        };
        self.consensus
            .wait_applied(index, READ_BARRIER_APPLY_TIMEOUT)
            .await
            .map_err(|e| Refused::LogUnavailable(e.to_string()))
    }

    /// Proposes a txn from a client connection of this server; the state machine answers
    /// that connection when it applies the entry.
    pub(crate) async fn propose_from(
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
    pub(crate) async fn propose_internal(
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
        let Route::Ensemble {
            role,
            forwarder,
            owners,
        } = &self.route
        else {
            return self.propose_locally(entry).await;
        };
        let state = *role.borrow();
        match (state.role, state.leader) {
            (Role::Leader, _) => {
                // Only a client's own writes are fenced; expiry and reaping (no origin) are
                // the leader's to propose for any session.
                let fenced = entry.origin.is_some()
                    && !owners.admit(state.term, entry.txn.session_id, self.server_id);
                if fenced {
                    return Err(Refused::SessionMoved);
                }
                self.propose_locally(entry).await
            }
            (_, Some(leader)) if leader != self.server_id => forwarder
                .send(leader, state.term, &StreamMessage::Forward(entry))
                .await
                .map_err(|e| Refused::Forward(e.to_string())),
            _ => Err(Refused::NoLeader),
        }
    }

    async fn propose_locally(&self, entry: LogEntry) -> Result<(), Refused> {
        self.consensus
            .propose(entry)
            .await
            .map_err(|e| Refused::LogUnavailable(e.to_string()))
    }
}
