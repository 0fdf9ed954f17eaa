//! Pipelined AppendEntries (`Channel::RaftAppend`): openraft's `stream_append` over a
//! connection of its own, both sides.
//!
//! Why: with one AppendEntries at a time, a follower hears that an entry committed only with
//! the next request, which leaves after the previous one was flushed and answered; a client
//! connected to a follower waits a whole extra replication round (ZooKeeper's leader sends
//! COMMIT at once). openraft's replication already produces a stream of requests (new
//! entries, or an entry-less one carrying a new commit index) as soon as there is something
//! to say; the pipeline sends each at once and reads the answers as they come.
//!
//! - Sending side, [`Pipeline`]: requests from openraft's stream are written as bare
//!   `AppendEntriesRequest` frames, at most `append_inflight_max` (and about
//!   `append_inflight_bytes_max` bytes) unanswered; a reader task turns answer frames into a
//!   channel, so waiting for an answer and for the next request is one cancel-safe `select!`.
//!   The oldest unanswered request must be answered within the RPC budget. A request cut to
//!   fit the frame limits (see [`cut_to_fit`]) is the last one: what openraft would send
//!   after it would not line up, so the stream ends once it is answered and openraft starts
//!   the next one from the follower's progress, as it does after `PartialSuccess`.
//! - Receiving side, [`serve_append_stream`]: a reader task feeds the requests to the
//!   handler's `stream_append` (openraft's pipelined follower path) through a bounded
//!   channel, and the answers are written back in order. An error answer ends the stream.
//!
//! A stream never reconnects: any failure ends it and closes its connection, and openraft
//! opens the next stream (on a new connection). A connection whose stream ended cleanly (every
//! request answered) serves the same client's next stream: see [`PipelineConn`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, Stream, StreamExt};
use openraft::entry::RaftEntry;
use openraft::error::RPCError;
use openraft::raft::{AppendEntriesRequest, StreamAppendResult};
use openraft::type_config::alias::LogIdOf;
use openraft::{RPCTypes, RaftTypeConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::PeerConfig;
use crate::conn::{within, BufferedRead, Conn};
use crate::error::{rpc_error, FrameError, PeerError};
use crate::frame::{decode, encode_frame, read_frame};
use crate::handler::InboundHandler;
use crate::message::AppendReply;
use crate::pool::PeerSlot;

/// Answers the receiver's reader may hold beyond what the handler has taken: requests are
/// only read while there is room, so a leader that floods a follower is slowed to its pace.
const RECEIVER_QUEUE_MAX: usize = 16;

/// Encodes `rpc` with `encode`, halving its entries until the frame fits `frame_bytes_max`
/// and, with more than one entry, `append_bytes_target` (openraft allows sending a prefix).
/// Returns the frame and, if entries were left out, the last log id sent.
pub(crate) fn cut_to_fit<C: RaftTypeConfig>(
    mut rpc: AppendEntriesRequest<C>,
    config: &PeerConfig,
    peer: u64,
    encode: impl Fn(&AppendEntriesRequest<C>, usize) -> Result<Vec<u8>, PeerError>,
) -> Result<(Vec<u8>, Option<LogIdOf<C>>), PeerError> {
    let max = config.frame_bytes_max;
    let mut cut = false;
    loop {
        match encode(&rpc, max) {
            Ok(frame) if frame.len() > config.append_bytes_target && rpc.entries.len() > 1 => {
                rpc.entries.truncate(rpc.entries.len() / 2);
                cut = true;
            }
            Ok(frame) => {
                let last = cut
                    .then(|| rpc.entries.last().map(|e| e.log_id()))
                    .flatten();
                return Ok((frame, last));
            }
            Err(PeerError::TooLarge { .. }) if rpc.entries.len() > 1 => {
                rpc.entries.truncate(rpc.entries.len() / 2);
                cut = true;
            }
            Err(e) => {
                tracing::warn!(
                    "cannot replicate to peer {peer}: one log entry does not fit a frame: {e}"
                );
                return Err(e);
            }
        }
    }
}

/// One unanswered request.
struct Sent {
    frame_bytes: usize,
    sent_at: Instant,
}

/// Aborts the reader task when its connection goes.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A `Channel::RaftAppend` connection, kept by the client that opened it between the streams
/// openraft asks for: its heartbeat worker sends every heartbeat as a stream of one request,
/// and a connection per heartbeat would cost a handshake each and make the follower see a
/// closed leader connection (its cue to probe the leader) every heartbeat.
pub(crate) struct PipelineConn<C: RaftTypeConfig> {
    write: OwnedWriteHalf,
    /// Answers as the reader task decodes them; the task ends at the first error.
    answers: mpsc::Receiver<Result<AppendReply<C>, PeerError>>,
    reader: AbortOnDrop,
}

impl<C: RaftTypeConfig> PipelineConn<C> {
    pub(crate) fn open(conn: Conn, config: &PeerConfig) -> Self {
        let frame_bytes_max = conn.frame_bytes_max();
        let (mut read, write) = conn.into_buffered_split();
        let (tx, answers) = mpsc::channel(config.append_inflight_max.max(1));
        let reader = tokio::spawn(async move {
            loop {
                let answer = match read_frame(&mut read, frame_bytes_max).await {
                    Ok(payload) => decode::<AppendReply<C>>(&payload),
                    Err(e) => Err(e.into()),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    return;
                }
            }
        });
        PipelineConn {
            write,
            answers,
            reader: AbortOnDrop(reader),
        }
    }

    /// True if the next stream may use it: the peer has not closed it or sent anything
    /// unasked since the last stream ended with every request answered.
    pub(crate) fn is_reusable(&self) -> bool {
        !self.reader.0.is_finished() && self.answers.is_empty()
    }
}

/// The sending side of one stream, on a [`PipelineConn`] borrowed from its client (`home`)
/// and given back only when the stream ended with every request answered and no error.
pub(crate) struct Pipeline<'s, C: RaftTypeConfig, In> {
    conn: Option<PipelineConn<C>>,
    home: &'s mut Option<PipelineConn<C>>,
    /// openraft's requests; `None` once it ended or a request was cut.
    input: Option<In>,
    inflight: VecDeque<Sent>,
    inflight_bytes: usize,
    config: Arc<PeerConfig>,
    slot: Arc<PeerSlot>,
    /// Time the oldest request has to be answered, and each write to complete.
    budget: Duration,
    /// Set after an error: the stream ends.
    done: bool,
}

impl<'s, C, In> Pipeline<'s, C, In>
where
    C: RaftTypeConfig<NodeId = u64>,
    In: Stream<Item = AppendEntriesRequest<C>> + Send + Unpin + 'static,
{
    /// Starts a stream on `conn`, to be given back to `home` if it ends cleanly.
    pub(crate) fn start(
        conn: PipelineConn<C>,
        home: &'s mut Option<PipelineConn<C>>,
        config: Arc<PeerConfig>,
        slot: Arc<PeerSlot>,
        input: In,
        budget: Duration,
    ) -> Self {
        Pipeline {
            conn: Some(conn),
            home,
            input: Some(input),
            inflight: VecDeque::new(),
            inflight_bytes: 0,
            config,
            slot,
            budget,
            done: false,
        }
    }

    /// The answers, in order, as openraft's stream.
    pub(crate) fn into_stream(self) -> BoxStream<'s, Result<StreamAppendResult<C>, RPCError<C>>> {
        futures::stream::unfold(self, |mut pipeline| async move {
            let item = pipeline.next().await?;
            Some((item, pipeline))
        })
        .boxed()
    }

    /// The next answer, sending requests while waiting for it; `None` at the end.
    async fn next(&mut self) -> Option<Result<StreamAppendResult<C>, RPCError<C>>> {
        while !self.done {
            let may_send = self.input.is_some() && self.has_room();
            if self.inflight.is_empty() && !may_send {
                // Every request answered, none failed: the connection serves the next stream.
                *self.home = self.conn.take();
                self.done = true;
                return None;
            }
            let conn = self.conn.as_mut()?;
            let deadline = self.inflight.front().map(|s| s.sent_at + self.budget);
            tokio::select! {
                biased;
                // Read also while nothing is in flight: an idle pipeline must notice that its
                // connection died, or openraft would wait on it for new entries that may never
                // come (a follower that restarted empty would never be caught up).
                answer = conn.answers.recv() => {
                    if self.inflight.is_empty() {
                        let e = match answer {
                            Some(Err(e)) => e,
                            None => PeerError::Frame(FrameError::Closed),
                            Some(Ok(_)) => PeerError::Protocol("an answer to no request".into()),
                        };
                        return Some(Err(self.fail(e)));
                    }
                    return Some(self.answered(answer));
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    return Some(Err(self.fail(PeerError::Timeout(self.budget))));
                }
                rpc = next_request(&mut self.input), if may_send => match rpc {
                    None => self.input = None,
                    Some(rpc) => {
                        if let Err(e) = self.send(rpc).await {
                            return Some(Err(self.fail(e)));
                        }
                    }
                },
            }
        }
        None
    }

    fn has_room(&self) -> bool {
        self.inflight.is_empty()
            || (self.inflight.len() < self.config.append_inflight_max
                && self.inflight_bytes < self.config.append_inflight_bytes_max)
    }

    async fn send(&mut self, rpc: AppendEntriesRequest<C>) -> Result<(), PeerError> {
        let (frame, cut_at) = cut_to_fit(rpc, &self.config, self.slot.id, |rpc, max| {
            encode_frame(rpc, max)
        })?;
        if cut_at.is_some() {
            self.input = None;
        }
        let conn = self
            .conn
            .as_mut()
            .ok_or(PeerError::Frame(FrameError::Closed))?;
        let write = async { Ok(conn.write.write_all(&frame).await?) };
        within(self.budget, write).await?;
        self.inflight.push_back(Sent {
            frame_bytes: frame.len(),
            sent_at: Instant::now(),
        });
        self.inflight_bytes += frame.len();
        Ok(())
    }

    fn answered(
        &mut self,
        answer: Option<Result<AppendReply<C>, PeerError>>,
    ) -> Result<StreamAppendResult<C>, RPCError<C>> {
        let sent = self.inflight.pop_front();
        self.inflight_bytes -= sent.map_or(0, |s| s.frame_bytes);
        match answer {
            Some(Ok(AppendReply::Appended(result))) => {
                self.slot.succeeded();
                self.done = result.is_err();
                Ok(result)
            }
            Some(Ok(AppendReply::Failed(reason))) => Err(self.fail(PeerError::Remote {
                peer: self.slot.id,
                reason,
            })),
            Some(Err(e)) => Err(self.fail(e)),
            None => Err(self.fail(PeerError::Frame(FrameError::Closed))),
        }
    }

    fn fail(&mut self, e: PeerError) -> RPCError<C> {
        self.done = true;
        self.conn = None;
        match &e {
            PeerError::Timeout(_) => self.slot.request_failed(&e),
            _ => tracing::info!(
                "append pipeline to peer {} at {} ended: {e}",
                self.slot.id,
                self.slot.addr
            ),
        }
        rpc_error(e, RPCTypes::AppendEntries, self.config.my_id, self.slot.id)
    }
}

async fn next_request<C: RaftTypeConfig, In>(
    input: &mut Option<In>,
) -> Option<AppendEntriesRequest<C>>
where
    In: Stream<Item = AppendEntriesRequest<C>> + Unpin,
{
    match input {
        Some(input) => input.next().await,
        None => None,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// How a pipeline's connection ended on the receiving side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PipelineEnd {
    /// The sender closed it (or it failed): the sender may be gone.
    BySender,
    /// This side closed it after an error answer (a conflict, a higher vote): the sender is
    /// alive and opens another.
    ByReceiver,
}

/// The receiving side: requests to the handler's `stream_append`, answers back in order,
/// until the sender closes the connection or an answer is an error.
pub(crate) async fn serve_append_stream<C, H>(
    conn: Conn,
    config: &PeerConfig,
    handler: &Arc<H>,
) -> Result<PipelineEnd, PeerError>
where
    C: RaftTypeConfig,
    H: InboundHandler<C>,
{
    let peer = conn.peer_id;
    let frame_bytes_max = conn.frame_bytes_max();
    let (read, mut write) = conn.into_buffered_split();
    let (tx, rx) = mpsc::channel(RECEIVER_QUEUE_MAX);
    let input = futures::stream::unfold(rx, |mut rx| async move {
        let rpc = rx.recv().await?;
        Some((rpc, rx))
    })
    .boxed();
    let mut answers = handler.clone().stream_append(input);
    let mut reading = std::pin::pin!(read_requests::<C>(read, tx, frame_bytes_max, peer));
    let mut reading_ended = false;
    loop {
        tokio::select! {
            ended = &mut reading, if !reading_ended => {
                // The sender is done (or sent garbage): what it sent is still answered
                // unless the connection is broken.
                reading_ended = true;
                ended?;
            }
            answer = answers.next() => {
                let Some(answer) = answer else { return Ok(PipelineEnd::BySender) };
                let (reply, last) = match answer {
                    Ok(result) => {
                        let last = result.is_err();
                        (AppendReply::Appended(result), last)
                    }
                    Err(reason) => (AppendReply::Failed(reason), true),
                };
                let frame = encode_frame(&reply, frame_bytes_max)?;
                let writing = async { Ok(write.write_all(&frame).await?) };
                within(config.stream_idle_timeout, writing).await?;
                if last {
                    let _ = write.shutdown().await;
                    return Ok(PipelineEnd::ByReceiver);
                }
            }
        }
    }
}

/// Reads request frames into `tx` until the sender closes the connection (`Ok`) or sends
/// something that is not an AppendEntries (`Err`). Dropping `tx` ends the handler's input.
async fn read_requests<C: RaftTypeConfig>(
    mut read: BufferedRead,
    tx: mpsc::Sender<AppendEntriesRequest<C>>,
    frame_bytes_max: usize,
    peer: u64,
) -> Result<(), PeerError> {
    loop {
        let payload = match read_frame(&mut read, frame_bytes_max).await {
            Ok(payload) => payload,
            Err(FrameError::Closed) => return Ok(()),
            Err(e @ FrameError::TooLarge { .. }) => {
                // As `Conn::recv` does: a misbehaving peer or mismatched limits.
                tracing::warn!(
                    "closing RaftAppend connection with peer {peer}: {e} (frame_bytes_max)"
                );
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        let rpc = decode::<AppendEntriesRequest<C>>(&payload)?;
        tracing::debug!(
            "append_entries (pipelined) from peer {peer}: {} entries",
            rpc.entries.len()
        );
        if tx.send(rpc).await.is_err() {
            // The handler's stream ended (an error answer): nothing more is taken.
            return Ok(());
        }
    }
}
