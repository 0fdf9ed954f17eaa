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
//!
//! Why a connection's writes are bound to one stream ([`StreamBinding`]): what a broken
//! stream carried may still reach the leader after a new stream's messages (a cut TCP
//! connection's data can arrive late), so a connection with a write on the old stream must
//! not send its next one on the new stream. Closing such connections when the stream breaks
//! happens on another task, and a connection may propose before that: the binding refuses
//! the write then, on the spot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral_entry::LogEntry;
use corral_peer::{AppLink, AppStream};
use tokio::sync::{watch, Mutex};
use tokio_util::sync::CancellationToken;

use super::message::{
    self, ClusterReply, ClusterRequest, MessageError, StreamEnvelope, StreamMessage,
};
use crate::ids::{ServerId, SessionId};

/// How long announcing a moved session to one member may take.
const SESSION_MOVED_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the leader may take to confirm a re-attached session before the connection that
/// asked is closed (its client retries, as after any connection loss).
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);

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
    #[error("the stream this connection's earlier writes went on was replaced")]
    StreamReplaced,
    #[error("the leader (server {leader}) answered a {request} request with {reply:?}")]
    UnexpectedReply {
        leader: ServerId,
        request: &'static str,
        reply: ClusterReply,
    },
    #[error(transparent)]
    Message(#[from] MessageError),
}

struct Current {
    /// Which stream of this forwarder this is (they are numbered as they open).
    id: u64,
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
    /// The id of the last stream opened.
    opened: AtomicU64,
    /// Counts broken streams: a change means writes may have been lost.
    broken: watch::Sender<u64>,
}

/// The stream a connection's forwarded writes went on, kept by the connection: while one of
/// them may still be on its way, its later writes must take the same stream or none (see the
/// module's header). The connection releases it once every write it sent was answered.
#[derive(Debug, Default)]
pub(crate) struct StreamBinding(Option<u64>);

impl StreamBinding {
    /// None of the connection's writes is on its way any more: the next may take any stream.
    pub(crate) fn release(&mut self) {
        self.0 = None;
    }
}

impl Forwarder {
    pub(crate) fn new(link_to: LinkTo, me: ServerId, members: Vec<ServerId>) -> Forwarder {
        Forwarder {
            link_to,
            me,
            members,
            current: Mutex::new(None),
            opened: AtomicU64::new(0),
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
        message: StreamMessage,
    ) -> Result<(), ForwardError> {
        self.send_on(leader, term, message, None).await
    }

    /// Queues a client connection's write on the stream to `leader`, after everything sent
    /// before: on the stream `binding` names, if it names one (and then refused if that stream
    /// was replaced), which it names from then on.
    pub(crate) async fn forward(
        &self,
        leader: ServerId,
        term: u64,
        entry: LogEntry,
        binding: &mut StreamBinding,
    ) -> Result<(), ForwardError> {
        self.send_on(leader, term, StreamMessage::Forward(entry), Some(binding))
            .await
    }

    async fn send_on(
        &self,
        leader: ServerId,
        term: u64,
        message: StreamMessage,
        binding: Option<&mut StreamBinding>,
    ) -> Result<(), ForwardError> {
        let body = message::encode(&StreamEnvelope { term, message })?;
        let mut current = self.current.lock().await;
        let usable = current
            .as_ref()
            .filter(|c| c.leader == leader && c.term == term && !c.stream.is_broken());
        let bound = binding.as_ref().and_then(|b| b.0);
        let (id, stream) = match (usable, choose(usable.map(|c| c.id), bound)) {
            (Some(c), Choice::Current) => (c.id, c.stream.clone()),
            (_, Choice::Refuse) => return Err(ForwardError::StreamReplaced),
            _ => {
                self.abandon(current.take());
                let opened = self.open(leader, term).await?;
                let usable = (opened.id, opened.stream.clone());
                *current = Some(opened);
                usable
            }
        };
        if let Err(err) = stream.send(body).await {
            self.abandon(current.take());
            return Err(ForwardError::Link {
                leader,
                reason: err.to_string(),
            });
        }
        if let Some(binding) = binding {
            binding.0 = Some(id);
        }
        Ok(())
    }

    /// Asks `leader` to record that a client re-attached `session` here through the
    /// connection `connection`; returns once the leader has (see [`super::owners`]).
    pub(crate) async fn attach(
        &self,
        leader: ServerId,
        term: u64,
        session: SessionId,
        connection: u64,
    ) -> Result<(), ForwardError> {
        let link = (self.link_to)(leader).ok_or(ForwardError::UnknownServer(leader))?;
        let body = message::encode(&ClusterRequest::Attach {
            term,
            session,
            connection,
        })?;
        let reply = link
            .request(body, ATTACH_TIMEOUT)
            .await
            .map_err(|e| ForwardError::Link {
                leader,
                reason: e.to_string(),
            })?;
        match message::decode::<ClusterReply>(&reply)? {
            ClusterReply::Done => Ok(()),
            reply => Err(ForwardError::UnexpectedReply {
                leader,
                request: "attach",
                reply,
            }),
        }
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
            reply => Err(ForwardError::UnexpectedReply {
                leader,
                request: "read-index",
                reply,
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
        let id = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(leader, term, stream = id, "forwarding writes to the leader");
        Ok(Current {
            id,
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

/// What a message does with the stream there is.
#[derive(Debug, PartialEq, Eq)]
enum Choice {
    /// Goes on the current stream.
    Current,
    /// Opens a new stream (abandoning the current one, which cannot carry it).
    Open,
    /// Goes nowhere: the connection's earlier writes went on a stream that is no longer
    /// usable, and may still reach the leader after anything sent on a new one.
    Refuse,
}

/// `usable`: the current stream, if it can carry the message (same leader and term, not
/// broken); `bound`: the stream the sender's earlier writes in flight went on, if any.
fn choose(usable: Option<u64>, bound: Option<u64>) -> Choice {
    match (usable, bound) {
        (Some(_), None) => Choice::Current,
        (Some(current), Some(bound)) if current == bound => Choice::Current,
        (None, None) => Choice::Open,
        _ => Choice::Refuse,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_with_writes_in_flight_keeps_to_their_stream() {
        assert_eq!(choose(Some(3), None), Choice::Current);
        assert_eq!(choose(None, None), Choice::Open);
        assert_eq!(choose(Some(3), Some(3)), Choice::Current);
        assert_eq!(
            choose(None, Some(3)),
            Choice::Refuse,
            "stream 3 broke: a new one must not carry this connection's next write"
        );
        assert_eq!(
            choose(Some(4), Some(3)),
            Choice::Refuse,
            "stream 3 was replaced by 4"
        );
    }
}
