//! A follower's or observer's link to the leader: one ordered stream for its clients' writes
//! and session touches, and requests for the read index.
//!
//! Why one stream: a session's writes must enter the log in the order its client sent them,
//! and each connection proposes its writes one after another through here, so the stream's
//! order is each session's order.
//!
//! Why a broken stream is reported, never healed: messages queued on a stream that broke may
//! or may not have reached the leader. The server must then close every client connection
//! with writes outstanding ([`Forwarder::broken`] says when), as ZooKeeper's followers drop
//! their clients when they lose the leader; a later write opens a new stream. Reusing the old
//! one, or reconnecting under it, could let a session's later write commit after an earlier
//! one was lost.

use std::sync::Arc;
use std::time::Duration;

use corral_peer::{AppLink, AppStream};
use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;

use super::message::{
    self, ClusterReply, ClusterRequest, MessageError, StreamEnvelope, StreamMessage,
};
use crate::ids::{ServerId, SessionId};

/// How long announcing a moved session to one member may take.
const SESSION_MOVED_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a read-index request may take before `sync` fails.
pub(crate) const READ_INDEX_TIMEOUT: Duration = Duration::from_secs(10);

/// The transport's link to a server, by id (`None` for a server not in the ensemble).
pub(crate) type LinkTo = Arc<dyn Fn(ServerId) -> Option<AppLink> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error("server {0} is not a member of the ensemble")]
    UnknownServer(ServerId),
    #[error("link to the leader (server {leader}): {reason}")]
    Link { leader: ServerId, reason: String },
    #[error(transparent)]
    Message(#[from] MessageError),
}

struct Current {
    leader: ServerId,
    /// The term the stream was opened in: a stream never outlives its term. The connection
    /// of an earlier term may be silently dead (a partition that dropped its bytes leaves it
    /// open and mute, and a one-way stream never learns), and after a term change the
    /// connections with writes on it have been closed anyway.
    term: u64,
    stream: Arc<AppStream>,
    /// Stops the task that watches this stream break, once the stream is replaced.
    watching: CancellationToken,
}

pub(crate) struct Forwarder {
    link_to: LinkTo,
    /// This server, and every member of the ensemble (this one included).
    me: ServerId,
    members: Vec<ServerId>,
    current: Mutex<Option<Current>>,
    /// Counts broken streams: a change means writes may have been lost.
    broken: watch::Sender<u64>,
}

impl Forwarder {
    pub(crate) fn new(link_to: LinkTo, me: ServerId, members: Vec<ServerId>) -> Forwarder {
        Forwarder {
            link_to,
            me,
            members,
            current: Mutex::new(None),
            broken: watch::channel(0).0,
        }
    }

    /// Changes whenever a stream that may have carried writes broke or was abandoned.
    pub(crate) fn broken(&self) -> watch::Receiver<u64> {
        self.broken.subscribe()
    }

    /// Queues `message` on the stream to `leader`, after everything sent before.
    pub(crate) async fn send(
        &self,
        leader: ServerId,
        term: u64,
        message: &StreamMessage,
    ) -> Result<(), ForwardError> {
        let body = message::encode(&StreamEnvelope {
            term,
            message: message.clone(),
        })?;
        let mut current = self.current.lock().await;
        let stream = match current.as_ref() {
            Some(c) if c.leader == leader && c.term == term && !c.stream.is_broken() => {
                c.stream.clone()
            }
            _ => {
                self.abandon(current.take());
                let opened = self.open(leader, term).await?;
                let stream = opened.stream.clone();
                *current = Some(opened);
                stream
            }
        };
        if let Err(err) = stream.send(body).await {
            self.abandon(current.take());
            return Err(ForwardError::Link {
                leader,
                reason: err.to_string(),
            });
        }
        Ok(())
    }

    /// The leader's read index, for `sync` on this server.
    pub(crate) async fn read_index(&self, leader: ServerId) -> Result<u64, ForwardError> {
        let link = (self.link_to)(leader).ok_or(ForwardError::UnknownServer(leader))?;
        let body = message::encode(&ClusterRequest::ReadIndex)?;
        let reply =
            link.request(body, READ_INDEX_TIMEOUT)
                .await
                .map_err(|e| ForwardError::Link {
                    leader,
                    reason: e.to_string(),
                })?;
        match message::decode::<ClusterReply>(&reply)? {
            ClusterReply::ReadIndex(index) => Ok(index),
            ClusterReply::Done => Err(ForwardError::Link {
                leader,
                reason: "the leader answered a read-index request with no index".to_owned(),
            }),
        }
    }

    /// Tells every other member that a client re-attached `session` here, so that a stale
    /// connection of that session elsewhere is closed. Best effort, in the background: a
    /// member that misses it keeps the stale connection until its client goes.
    pub(crate) fn announce_session_moved(&self, session: SessionId) {
        let Ok(body) = message::encode(&ClusterRequest::SessionMoved(session)) else {
            return;
        };
        for &member in self.members.iter().filter(|&&m| m != self.me) {
            let Some(link) = (self.link_to)(member) else {
                continue;
            };
            let body = body.clone();
            tokio::spawn(async move {
                if let Err(err) = link.request(body, SESSION_MOVED_TIMEOUT).await {
                    tracing::debug!(member, %err, "could not announce a moved session");
                }
            });
        }
    }

    /// Tells `server` that the leader (this server) dropped a write it forwarded for its
    /// connection `connection`. Best effort, in the background: if it does not arrive, the
    /// term change that made the leader drop the write closes that connection anyway.
    pub(crate) fn announce_write_lost(&self, server: ServerId, connection: u64) {
        let Ok(body) = message::encode(&ClusterRequest::WriteLost(connection)) else {
            return;
        };
        let Some(link) = (self.link_to)(server) else {
            return;
        };
        tokio::spawn(async move {
            if let Err(err) = link.request(body, SESSION_MOVED_TIMEOUT).await {
                tracing::debug!(server, %err, "could not announce a lost write");
            }
        });
    }

    async fn open(&self, leader: ServerId, term: u64) -> Result<Current, ForwardError> {
        let link = (self.link_to)(leader).ok_or(ForwardError::UnknownServer(leader))?;
        let stream = link.open_stream().await.map_err(|e| ForwardError::Link {
            leader,
            reason: e.to_string(),
        })?;
        let stream = Arc::new(stream);
        let watching = CancellationToken::new();
        tokio::spawn(watch_stream(
            stream.clone(),
            watching.clone(),
            self.broken.clone(),
        ));
        tracing::info!(leader, term, "forwarding writes to the leader");
        Ok(Current {
            leader,
            term,
            stream,
            watching,
        })
    }

    /// Drops a stream; whatever it carried may be lost.
    fn abandon(&self, current: Option<Current>) {
        if let Some(current) = current {
            current.watching.cancel();
            self.broken.send_modify(|n| *n += 1);
        }
    }
}

async fn watch_stream(stream: Arc<AppStream>, stop: CancellationToken, broken: watch::Sender<u64>) {
    tokio::select! {
        reason = stream.closed() => {
            tracing::info!(leader = stream.target(), %reason, "the stream to the leader broke");
            broken.send_modify(|n| *n += 1);
        }
        () = stop.cancelled() => {}
    }
}
