//! The leader's side of the ensemble's messages. A server that is not the leader refuses a
//! forwarded write, which closes the stream it came on: the sender then drops the connections
//! that had writes on it, and its clients retry elsewhere. A forwarded write of a session
//! attached through another connection is dropped, and its connection closed
//! ([`super::owners`]).

use std::sync::Arc;

use bytes::Bytes;
use corral_entry::{LogEntry, Origin};
use corral_tree::TxnKind;
use tokio::sync::watch;

use super::forwarder::Forwarder;
use super::message::{self, ClusterReply, ClusterRequest, StreamEnvelope, StreamMessage};
use super::owners::SessionOwners;
use crate::clients::ConnectionRegistry;
use crate::clock::Clock;
use crate::ids::ServerId;
use crate::raft::peer_link::ClusterApp;
use crate::raft::{Consensus, Role, RoleState};
use crate::sessions::Sessions;

pub(crate) struct ClusterInbound {
    consensus: Consensus,
    role: watch::Receiver<RoleState>,
    sessions: Arc<Sessions>,
    clock: Arc<dyn Clock>,
    registry: Arc<ConnectionRegistry>,
    owners: Arc<SessionOwners>,
    /// To tell a server that one of its forwarded writes was refused.
    forwarder: Arc<Forwarder>,
}

impl ClusterInbound {
    pub(crate) fn new(
        consensus: Consensus,
        role: watch::Receiver<RoleState>,
        sessions: Arc<Sessions>,
        clock: Arc<dyn Clock>,
        registry: Arc<ConnectionRegistry>,
        owners: Arc<SessionOwners>,
        forwarder: Arc<Forwarder>,
    ) -> ClusterInbound {
        ClusterInbound {
            consensus,
            role,
            sessions,
            clock,
            registry,
            owners,
            forwarder,
        }
    }

    fn leading(&self) -> Result<(), String> {
        match self.role.borrow().role {
            Role::Leader => Ok(()),
            other => Err(format!("not the leader (this server is {other:?})")),
        }
    }
}

impl ClusterApp for ClusterInbound {
    async fn request(&self, from: ServerId, body: Bytes) -> Result<Bytes, String> {
        let request: ClusterRequest = message::decode(&body).map_err(|e| e.to_string())?;
        match request {
            ClusterRequest::ReadIndex => {
                self.leading()?;
                let index = self
                    .consensus
                    .read_index_for_learner()
                    .await
                    .map_err(|e| e.to_string())?;
                message::encode(&ClusterReply::ReadIndex(index)).map_err(|e| e.to_string())
            }
            ClusterRequest::Attach {
                term,
                session,
                connection,
            } => {
                self.leading()?;
                let current = self.role.borrow().term;
                if term != current {
                    return Err(format!(
                        "a session re-attached in term {term}, in term {current}"
                    ));
                }
                let origin = Origin {
                    server_id: from,
                    connection_id: connection,
                };
                if !self.owners.attach(term, session, origin) {
                    return Err(format!("term {term} is over"));
                }
                message::encode(&ClusterReply::Done).map_err(|e| e.to_string())
            }
            ClusterRequest::SessionMoved(session) => {
                if let Some(stale) = self.registry.by_session(session) {
                    tracing::debug!(
                        session = format_args!("0x{session:x}"),
                        "session re-attached on another server; closing its stale connection"
                    );
                    stale.close();
                }
                message::encode(&ClusterReply::Done).map_err(|e| e.to_string())
            }
            ClusterRequest::WriteLost(connection) => {
                if let Some(waiting) = self.registry.get(connection) {
                    tracing::info!(
                        connection,
                        "the leader dropped a forwarded write; closing its connection"
                    );
                    waiting.close();
                }
                message::encode(&ClusterReply::Done).map_err(|e| e.to_string())
            }
        }
    }

    async fn message(&self, from: ServerId, body: Bytes) -> Result<(), String> {
        let StreamEnvelope { term, message } = message::decode(&body).map_err(|e| e.to_string())?;
        let current = self.role.borrow().term;
        if term != current {
            return Err(format!(
                "a message of term {term} in term {current}: the stream is stale"
            ));
        }
        match message {
            StreamMessage::Forward(entry) => {
                self.leading()?;
                if entry.origin.is_some_and(|o| o.server_id != from) {
                    return Err(format!(
                        "server {from} forwarded an entry of another server's client"
                    ));
                }
                let session = entry.txn.session_id;
                let creates = matches!(entry.txn.kind, TxnKind::CreateSession { .. });
                if let Some(origin) = entry.origin {
                    if !self.owners.admit(term, session, origin, creates) {
                        // The session was attached through another connection since (or this
                        // one is of an earlier term): the write must not take effect after
                        // the session's later ones. Its connection is stale; `from` closes it.
                        tracing::debug!(
                            server = from,
                            connection = origin.connection_id,
                            session = format_args!("0x{session:x}"),
                            "refusing a write of a session attached elsewhere"
                        );
                        self.forwarder
                            .announce_write_lost(origin.server_id, origin.connection_id);
                        return Ok(());
                    }
                }
                // The leader decides the txn's time, as ZooKeeper's leader does: mtime and
                // ctime then never depend on which server the client used.
                let mut txn = Arc::unwrap_or_clone(entry.txn);
                txn.time_ms = self.clock.wall_ms();
                let entry = LogEntry {
                    origin: entry.origin,
                    txn: Arc::new(txn),
                };
                self.consensus
                    .propose(entry)
                    .await
                    .map_err(|e| e.to_string())
            }
            StreamMessage::Touch(sessions) => {
                self.sessions.touch_all(&sessions);
                let live = &self.sessions;
                self.owners
                    .forget_dead(live.len(), |session| live.contains(session));
                Ok(())
            }
        }
    }
}
