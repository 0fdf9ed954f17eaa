//! Many writes as pipelined `multi` batches spread over a target's sessions: how setup creates
//! the keys and how cleanup deletes everything a run made.
//!
//! Batches are bounded in ops and bytes so a request stays far below `jute.maxbuffer`. Setup
//! is strict (the first failing op stops the run); cleanup is tolerant: a batch that fails is
//! retried op by op, and a node that is already gone is not an error. Batches may come from a
//! lazy iterator ([`Splitter`]), so a million-node populate never holds all its ops at once,
//! and a batch not answered within [`BATCH_REPLY_TIMEOUT`] counts as failed.

use std::time::Duration;

use corral_client::corral_proto::multi::{MultiOp, MultiResult};
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::ErrorCode;
use corral_client::{Client, ClientError, Reply};
use futures::stream::{FuturesUnordered, StreamExt};

/// Ops per multi.
const BATCH_OPS_MAX: usize = 1000;
/// Approximate request bytes per multi (the frame limit is 1 MiB).
const BATCH_BYTES_MAX: usize = 256 * 1024;
/// Batches in flight per session.
const BATCHES_IN_FLIGHT_PER_SESSION: usize = 4;
/// How long one batch may wait for its reply before the run gives up on it.
pub const BATCH_REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// What a tolerant run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Ops applied.
    pub done: u64,
    /// Ops whose node was not there (deleting) or already there (creating).
    pub skipped: u64,
    /// Ops that failed otherwise.
    pub failed: u64,
}

/// A strict run's failure: the first op that failed and why.
#[derive(Debug)]
pub enum BatchError {
    Client(ClientError),
    Op {
        path: String,
        code: ErrorCode,
    },
    /// No reply to a batch within [`BATCH_REPLY_TIMEOUT`].
    Timeout {
        path: String,
    },
}

impl From<ClientError> for BatchError {
    fn from(err: ClientError) -> Self {
        BatchError::Client(err)
    }
}

fn op_bytes(op: &MultiOp) -> usize {
    let data = match op {
        MultiOp::Create { request, .. } => request.data.as_ref().map_or(0, |d| d.len()),
        MultiOp::SetData(request) => request.data.as_ref().map_or(0, |d| d.len()),
        _ => 0,
    };
    op.path().len() + data + 64
}

fn split(ops: Vec<MultiOp>) -> Vec<Vec<MultiOp>> {
    Splitter::new(ops.into_iter()).collect()
}

/// Cuts a stream of ops into batches bounded in ops and bytes, lazily.
#[derive(Debug)]
pub struct Splitter<I: Iterator<Item = MultiOp>> {
    ops: std::iter::Peekable<I>,
}

impl<I: Iterator<Item = MultiOp>> Splitter<I> {
    pub fn new(ops: I) -> Self {
        Splitter {
            ops: ops.peekable(),
        }
    }
}

impl<I: Iterator<Item = MultiOp>> Iterator for Splitter<I> {
    type Item = Vec<MultiOp>;

    fn next(&mut self) -> Option<Vec<MultiOp>> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(op) = self.ops.peek() {
            let size = op_bytes(op);
            if !batch.is_empty() && (batch.len() >= BATCH_OPS_MAX || bytes + size > BATCH_BYTES_MAX)
            {
                break;
            }
            bytes += size;
            batch.extend(self.ops.next());
        }
        (!batch.is_empty()).then_some(batch)
    }
}

/// The first failing op of a multi reply, if any.
fn first_failure(batch: &[MultiOp], reply: &Reply) -> Option<(String, ErrorCode)> {
    let results = match &reply.result {
        Err(code) => return Some((batch.first().map_or("", |op| op.path()).to_owned(), *code)),
        Ok(Response::Multi(results)) => results,
        Ok(_) => return None,
    };
    results
        .iter()
        .zip(batch)
        .find_map(|(result, op)| match result {
            MultiResult::Error(code)
                if !code.is_ok() && *code != ErrorCode::RuntimeInconsistency =>
            {
                Some((op.path().to_owned(), *code))
            }
            _ => None,
        })
}

/// Runs every op; stops at the first failure.
pub async fn run_strict(clients: &[Client], ops: Vec<MultiOp>) -> Result<u64, BatchError> {
    run_strict_batches(clients, split(ops).into_iter()).await
}

/// Runs every batch `batches` yields (each one multi); stops at the first failure.
pub async fn run_strict_batches(
    clients: &[Client],
    batches: impl Iterator<Item = Vec<MultiOp>>,
) -> Result<u64, BatchError> {
    let mut done = 0;
    let mut replies = issue(clients, batches);
    while let Some((batch, reply)) = replies.next().await {
        let reply = match reply {
            Ok(reply) => reply?,
            Err(_elapsed) => {
                let path = batch.first().map_or("", |op| op.path()).to_owned();
                return Err(BatchError::Timeout { path });
            }
        };
        if let Some((path, code)) = first_failure(&batch, &reply) {
            return Err(BatchError::Op { path, code });
        }
        done += batch.len() as u64;
    }
    Ok(done)
}

/// Runs every op, retrying a failed batch op by op; `benign` is the code that means "already
/// in the wanted state" (NoNode when deleting).
pub async fn run_tolerant(clients: &[Client], ops: Vec<MultiOp>, benign: ErrorCode) -> Tally {
    let mut tally = Tally::default();
    let mut retry = Vec::new();
    let mut replies = issue(clients, split(ops).into_iter());
    while let Some((batch, reply)) = replies.next().await {
        match reply {
            Ok(Ok(reply)) if first_failure(&batch, &reply).is_none() => {
                tally.done += batch.len() as u64
            }
            _ => retry.extend(batch),
        }
    }
    drop(replies);
    let singles: Vec<Vec<MultiOp>> = retry.into_iter().map(|op| vec![op]).collect();
    let mut replies = issue(clients, singles.into_iter());
    while let Some((batch, reply)) = replies.next().await {
        match reply.map(|reply| reply.map(|reply| first_failure(&batch, &reply))) {
            Ok(Ok(None)) => tally.done += 1,
            Ok(Ok(Some((_, code)))) if code == benign => tally.skipped += 1,
            _ => tally.failed += 1,
        }
    }
    tally
}

type Issued = (
    Vec<MultiOp>,
    Result<Result<Reply, ClientError>, tokio::time::error::Elapsed>,
);

/// Sends the batches over the clients round robin, a few in flight per client, and yields
/// the replies as they come (or the timeout of one that did not come).
fn issue<'a>(
    clients: &'a [Client],
    batches: impl Iterator<Item = Vec<MultiOp>> + 'a,
) -> impl futures::Stream<Item = Issued> + 'a {
    let in_flight_max = (clients.len() * BATCHES_IN_FLIGHT_PER_SESSION).max(1);
    let mut waiting = batches.enumerate();
    let mut running = FuturesUnordered::new();
    futures::stream::poll_fn(move |cx| {
        while running.len() < in_flight_max && !clients.is_empty() {
            let Some((index, batch)) = waiting.next() else {
                break;
            };
            let client = clients[index % clients.len()].clone();
            running.push(async move {
                let reply =
                    tokio::time::timeout(BATCH_REPLY_TIMEOUT, client.multi(batch.clone())).await;
                (batch, reply)
            });
        }
        running.poll_next_unpin(cx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_client::ops::multi_op;

    #[test]
    fn batches_are_bounded_in_ops_and_bytes() {
        let ops: Vec<MultiOp> = (0..2500)
            .map(|i| multi_op::delete(&format!("/k{i}"), -1))
            .collect();
        let sizes: Vec<usize> = split(ops).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
        let big = vec![7u8; 100_000];
        let ops: Vec<MultiOp> = (0..10)
            .map(|i| multi_op::set_data(&format!("/k{i}"), &big, -1))
            .collect();
        let batches = split(ops);
        assert!(batches.len() >= 4, "{}", batches.len());
        assert!(batches.iter().all(|b| b.len() <= 2));
    }
}
