//! The server's own messages over a [`MemoryNet`]: app requests (one call each, like a Raft
//! RPC) and ordered streams, whose messages a task of their own delivers in order.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openraft::RaftTypeConfig;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::faults::Leg;
use super::inbound::Inbound;
use super::{CallError, Incarnation, MemoryNet, Sender};
use crate::app::{LinkFuture, OverNet};
use crate::error::PeerError;
use crate::frame::{decode, FRAME_HEADER_BYTES};
use crate::message::{Blob, StreamFrame};
use crate::stream::AppStream;

/// One server's link to `target` over the net.
pub(crate) struct MemoryLink<C: RaftTypeConfig> {
    pub(crate) net: MemoryNet<C>,
    pub(crate) from: Sender<C>,
    pub(crate) target: u64,
}

fn unreachable(target: u64, reason: String) -> PeerError {
    PeerError::Unreachable {
        addr: format!("memory:{target}"),
        source: io::Error::new(io::ErrorKind::ConnectionRefused, reason),
    }
}

impl<C: RaftTypeConfig> OverNet for MemoryLink<C> {
    fn target(&self) -> u64 {
        self.target
    }

    fn request(&self, body: Bytes, timeout: Duration) -> LinkFuture<'_, Result<Bytes, PeerError>> {
        Box::pin(async move {
            let from = self.from.id();
            let result = self
                .net
                .call(
                    &self.from,
                    self.target,
                    timeout,
                    false,
                    body,
                    move |inbound, body| {
                        Box::pin(async move { inbound.app_request(from, body).await })
                    },
                )
                .await;
            result.map_err(|e| match e {
                CallError::Refused(reason) => unreachable(self.target, reason),
                CallError::Timeout(after) => PeerError::Timeout(after),
                CallError::Reset(reason) => {
                    PeerError::Frame(io::Error::new(io::ErrorKind::ConnectionReset, reason).into())
                }
                CallError::Remote(reason) => PeerError::Remote {
                    peer: self.target,
                    reason,
                },
            })
        })
    }

    fn open_stream(&self) -> LinkFuture<'_, Result<AppStream, PeerError>> {
        Box::pin(async move {
            let net = &self.net;
            let Some(from) = net.sender_up(&self.from) else {
                return Err(unreachable(
                    self.target,
                    format!("server {} is down", self.from.id()),
                ));
            };
            let Some((target, inbound)) = net.route(self.target) else {
                net.shared.state.lock().stats.refused += 1;
                return Err(unreachable(
                    self.target,
                    format!("server {} is not attached", self.target),
                ));
            };
            if !net.link_up(from, self.target) {
                let after = net.config().connect_timeout;
                tokio::time::sleep(after).await;
                return Err(PeerError::ConnectTimeout {
                    addr: format!("memory:{}", self.target),
                    after,
                });
            }
            let config = net.config();
            let (stream, queued, broken) = AppStream::with_writer(
                self.target,
                config.frame_bytes_max,
                config.stream_queue_max,
            );
            let pump = Pump {
                net: net.clone(),
                from: self.from.clone(),
                from_id: from,
                target,
                inbound,
                pending: VecDeque::new(),
                stalled_since: None,
            };
            tokio::spawn(pump.run(queued, broken));
            Ok(stream)
        })
    }
}

/// The task that carries one stream's messages: it takes them off the stream's queue as they
/// come, gives each an arrival time (its delay, never before the previous one's), and hands
/// them to the receiver's handler one at a time, in order.
struct Pump<C: RaftTypeConfig> {
    net: MemoryNet<C>,
    from: Sender<C>,
    from_id: u64,
    target: Arc<Incarnation<C>>,
    inbound: Arc<dyn Inbound<C>>,
    pending: VecDeque<(Instant, Bytes)>,
    /// Since when the link has been cut with a message waiting.
    stalled_since: Option<Instant>,
}

/// What became of the messages due for delivery.
enum Delivery {
    /// All delivered (or none due yet).
    Done,
    /// The link is cut and has been for the stream's idle timeout.
    Stalled,
    /// The receiver closed the stream (its handler refused a message, or it went down).
    Closed(String),
}

impl<C: RaftTypeConfig> Pump<C> {
    async fn run(
        mut self,
        mut queued: mpsc::Receiver<Vec<u8>>,
        broken: watch::Sender<Option<String>>,
    ) {
        if let Some(reason) = self.pump(&mut queued, &broken).await {
            self.broke(&broken, reason);
        }
    }

    fn broke(&self, broken: &watch::Sender<Option<String>>, reason: String) {
        tracing::info!(
            "stream from server {} to server {} broken: {reason}",
            self.from_id,
            self.target.id
        );
        // Before the queue's receiver is closed, so a failed `send` finds the reason.
        broken.send_replace(Some(reason));
    }

    /// Delivers until the sender drops the stream and everything is delivered (`None`), or the
    /// stream breaks (the reason, unless the sender was told already).
    async fn pump(
        &mut self,
        queued: &mut mpsc::Receiver<Vec<u8>>,
        broken: &watch::Sender<Option<String>>,
    ) -> Option<String> {
        let mut topology = self.net.shared.topology.subscribe();
        let mut sender_done = false;
        let from_down = match &self.from {
            Sender::Endpoint(inc) => inc.down.clone(),
            Sender::Current(_) => tokio_util::sync::CancellationToken::new(),
        };
        let idle = self.net.config().stream_idle_timeout;
        let linger = self.net.config().stream_linger;
        // Set once the sender gave the stream up: what it had sent may still arrive until then.
        let mut orphaned_until: Option<Instant> = None;
        loop {
            if (sender_done || orphaned_until.is_some()) && self.pending.is_empty() {
                return None;
            }
            if orphaned_until.is_some_and(|until| Instant::now() >= until) {
                return None;
            }
            let next_at = self.next_wake(idle, orphaned_until);
            tokio::select! {
                biased;
                () = self.target.down.cancelled() => {
                    return orphaned_until
                        .is_none()
                        .then(|| "peer closed the connection".to_string());
                }
                () = from_down.cancelled() => {
                    // This server went down: nothing more leaves it, nobody is told.
                    return None;
                }
                frame = queued.recv(), if !sender_done && orphaned_until.is_none() => match frame {
                    None => sender_done = true,
                    Some(frame) => match self.enqueue(&frame) {
                        Ok(()) => {}
                        Err(reason) => return Some(reason),
                    },
                },
                _ = topology.changed() => {}
                () = sleep_until_opt(next_at) => match self.deliver_due(idle).await {
                    Delivery::Done => {}
                    Delivery::Stalled if orphaned_until.is_some() => {}
                    Delivery::Stalled => {
                        // As TCP: the sender gives the stream up (and is told), but what it had
                        // written may still reach the receiver if the link heals in time.
                        self.broke(broken, format!("write made no progress for {idle:?}"));
                        queued.close();
                        if linger.is_zero() {
                            return None;
                        }
                        orphaned_until = Some(Instant::now() + linger);
                    }
                    Delivery::Closed(reason) => return orphaned_until.is_none().then_some(reason),
                },
            }
        }
    }

    fn enqueue(&mut self, frame: &[u8]) -> Result<(), String> {
        let payload = frame.get(FRAME_HEADER_BYTES..).unwrap_or_default();
        let StreamFrame::Message(Blob(body)) =
            decode::<StreamFrame>(payload).map_err(|e| e.to_string())?;
        let delay = match self.net.leg(self.from_id, self.target.id, false) {
            Leg::Deliver(delay) => delay,
            // A cut link holds the message back (see `deliver_due`), it does not lose it.
            Leg::Cut | Leg::Lost => Duration::ZERO,
        };
        let earliest = self.pending.back().map(|(at, _)| *at);
        let at = (Instant::now() + delay).max(earliest.unwrap_or_else(Instant::now));
        self.pending.push_back((at, body));
        Ok(())
    }

    /// When the pump must look again: the first message's arrival time, or (over a cut link)
    /// when the stall would break the stream, or when an orphaned stream's data is given up.
    fn next_wake(&self, idle: Duration, orphaned_until: Option<Instant>) -> Option<Instant> {
        let (at, _) = self.pending.front()?;
        if self.net.link_up(self.from_id, self.target.id) {
            return Some(*at);
        }
        match (orphaned_until, self.stalled_since) {
            (Some(until), _) => Some(until),
            (None, Some(since)) => Some(since + idle),
            (None, None) => Some(*at),
        }
    }

    /// Hands every message that has arrived to the handler, in order.
    async fn deliver_due(&mut self, idle: Duration) -> Delivery {
        while let Some((at, _)) = self.pending.front() {
            let now = Instant::now();
            if *at > now {
                return Delivery::Done;
            }
            if !self.net.link_up(self.from_id, self.target.id) {
                let since = *self.stalled_since.get_or_insert(now);
                if now.duration_since(since) >= idle {
                    return Delivery::Stalled;
                }
                return Delivery::Done;
            }
            self.stalled_since = None;
            let Some((_, body)) = self.pending.pop_front() else {
                return Delivery::Done;
            };
            self.net.delivered();
            let handled = tokio::select! {
                biased;
                () = self.target.down.cancelled() => {
                    return Delivery::Closed("peer closed the connection".to_string());
                }
                handled = self.inbound.app_message(self.from_id, body) => handled,
            };
            if let Err(reason) = handled {
                return Delivery::Closed(format!("peer closed the stream: {reason}"));
            }
        }
        Delivery::Done
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
