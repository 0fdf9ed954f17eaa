//! Requests waiting for their reply, in send order.
//!
//! Three lanes, because ZooKeeper does not order all replies alike: ordinary requests are
//! answered strictly in request order (a different xid at the front is a fatal error, as in the
//! Java client); pings (xid -2) and auth packets (xid -4) are matched among themselves only,
//! because Apache ZooKeeper answers auth straight from its network thread, possibly ahead of
//! replies to earlier requests still in its pipeline.
//!
//! The writer task pushes an entry before the request's bytes reach the socket, so a reply can
//! never arrive for an entry not yet queued. Once the connection has failed the queues refuse
//! new entries, so nothing can be left waiting after the failure drained them.

use std::collections::VecDeque;

use corral_proto::consts::xid;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::error::ClientError;
use crate::reply::Reply;

/// Where a request's reply is delivered.
pub(crate) type Waiter = oneshot::Sender<Result<Reply, ClientError>>;

/// Which queue a reply with a given xid is matched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    Ordinary,
    Ping,
    Auth,
}

impl Lane {
    pub(crate) fn of_xid(reply_xid: i32) -> Lane {
        match reply_xid {
            xid::PING => Lane::Ping,
            xid::AUTH => Lane::Auth,
            _ => Lane::Ordinary,
        }
    }
}

/// One request waiting for its reply.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The xid the reply must carry; `None` for a raw frame too short to have one.
    pub xid: Option<i32>,
    /// The request's opcode, which says how to decode the reply body; `None` if unknown.
    pub op_type: Option<i32>,
    /// `None` for fire-and-forget requests (the ping task's pings).
    pub waiter: Option<Waiter>,
    /// Held until the reply arrives: bounds the ordinary requests in flight.
    pub permit: Option<OwnedSemaphorePermit>,
}

impl Pending {
    /// Hands the outcome to whoever waits (who may have gone away: that is fine).
    pub(crate) fn answer(self, outcome: Result<Reply, ClientError>) {
        drop(self.permit);
        if let Some(waiter) = self.waiter {
            let _ = waiter.send(outcome);
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Queues {
    closed: Option<ClientError>,
    ordinary: VecDeque<Pending>,
    pings: VecDeque<Pending>,
    auths: VecDeque<Pending>,
}

impl Queues {
    fn lane(&mut self, lane: Lane) -> &mut VecDeque<Pending> {
        match lane {
            Lane::Ordinary => &mut self.ordinary,
            Lane::Ping => &mut self.pings,
            Lane::Auth => &mut self.auths,
        }
    }

    /// Queues `pending`, or gives it back with the close reason if the connection is gone.
    pub(crate) fn push(
        &mut self,
        lane: Lane,
        pending: Pending,
    ) -> Result<(), (Pending, ClientError)> {
        if let Some(reason) = &self.closed {
            return Err((pending, reason.clone()));
        }
        self.lane(lane).push_back(pending);
        Ok(())
    }

    pub(crate) fn pop(&mut self, lane: Lane) -> Option<Pending> {
        self.lane(lane).pop_front()
    }

    pub(crate) fn ordinary_len(&self) -> usize {
        self.ordinary.len()
    }

    /// Marks the queues closed (the first reason wins) and hands back everything waiting, to be
    /// answered outside the lock. Returns `None` if they were closed already.
    pub(crate) fn close(&mut self, reason: ClientError) -> Option<Vec<Pending>> {
        if self.closed.is_some() {
            return None;
        }
        self.closed = Some(reason);
        let mut drained: Vec<Pending> = self.ordinary.drain(..).collect();
        drained.extend(self.pings.drain(..));
        drained.extend(self.auths.drain(..));
        Some(drained)
    }

    pub(crate) fn close_reason(&self) -> Option<&ClientError> {
        self.closed.as_ref()
    }
}
