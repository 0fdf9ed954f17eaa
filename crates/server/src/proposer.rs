//! The one write path: every txn that changes replicated state — a client's write, a new or
//! closed session, an expiry, a reaped container — is proposed here. The proposer stamps the
//! txn's time (decided once, then replicated) and its origin, and hands it to the log.
//!
//! In an ensemble, only the leader appends to the log: a follower or observer hands the entry
//! to the [`Forwarder`], whose one ordered stream to the leader keeps each session's order.
//! Whichever server the client is connected to answers it when it applies the entry.
//!
//! A session's order across connections and servers: the leader takes a client's write only
//! from the connection its session is attached through ([`SessionOwners`]), and a re-attached
//! session is recorded there before its client hears that the connection is ready
//! ([`Proposer::session_moved_here`]).
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
use crate::cluster::forwarder::{Forwarder, StreamBinding};
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
    #[error("the session is attached through another connection")]
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

    /// A client re-attached `session` on this server through `connection`. Called before its
    /// ConnectResponse: in an ensemble, the leader records that only this connection's writes
    /// of the session count from now on (a write still held anywhere on its way from an
    /// earlier connection is then refused), and confirms it before this returns, as ZooKeeper's
    /// leader revalidates a session before the client is answered: so the leader sees the
    /// client's attachments in the order the client made them. The other members are told to
    /// close a connection they still hold for the session. An error: the connection must be
    /// closed unanswered.
    pub(crate) async fn session_moved_here(
        &self,
        session: SessionId,
        connection: ConnectionId,
    ) -> Result<(), Refused> {
        let Route::Ensemble {
            role,
            forwarder,
            owners,
        } = &self.route
        else {
            return Ok(());
        };
        let state = *role.borrow();
        match (state.role, state.leader) {
            (Role::Leader, _) => {
                let origin = Origin {
                    server_id: self.server_id,
                    connection_id: connection,
                };
                if !owners.attach(state.term, session, origin) {
                    return Err(Refused::NoLeader);
                }
            }
            (_, Some(leader)) if leader != self.server_id => forwarder
                .attach(leader, state.term, session, connection)
                .await
                .map_err(|e| Refused::Forward(e.to_string()))?,
            _ => return Err(Refused::NoLeader),
        }
        forwarder.announce_session_moved(session);
        Ok(())
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
    /// that connection when it applies the entry. `stream` is the connection's: a forwarded
    /// write goes on the stream its earlier ones went on, or is refused (see
    /// [`StreamBinding`]).
    pub(crate) async fn propose_from(
        &self,
        connection: ConnectionId,
        session_id: SessionId,
        cxid: i32,
        kind: TxnKind,
        stream: &mut StreamBinding,
    ) -> Result<(), Refused> {
        let origin = Origin {
            server_id: self.server_id,
            connection_id: connection,
        };
        self.propose(Some((origin, stream)), session_id, cxid, kind)
            .await
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
        from: Option<(Origin, &mut StreamBinding)>,
        session_id: SessionId,
        cxid: i32,
        kind: TxnKind,
    ) -> Result<(), Refused> {
        let creates = matches!(kind, TxnKind::CreateSession { .. });
        let (origin, stream) = match from {
            Some((origin, stream)) => (Some(origin), Some(stream)),
            None => (None, None),
        };
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
        match (state.role, state.leader, stream) {
            (Role::Leader, _, _) => {
                // Only a client's own writes are fenced; expiry and reaping (no origin) are
                // the leader's to propose for any session.
                let fenced = entry.origin.is_some_and(|origin| {
                    !owners.admit(state.term, entry.txn.session_id, origin, creates)
                });
                if fenced {
                    return Err(Refused::SessionMoved);
                }
                self.propose_locally(entry).await
            }
            (_, Some(leader), Some(stream)) if leader != self.server_id => forwarder
                .forward(leader, state.term, entry, stream)
                .await
                .map_err(|e| Refused::Forward(e.to_string())),
            (_, Some(leader), None) if leader != self.server_id => forwarder
                .send(leader, state.term, StreamMessage::Forward(entry))
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
