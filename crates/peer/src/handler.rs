//! What the accepting side does with what it receives: the server implements
//! [`InboundHandler`], usually by handing openraft's RPCs to its `Raft` and app messages to
//! its own code. This crate never looks inside an app message.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use openraft::entry::RaftEntry;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{LogIdOf, SnapshotOf, VoteOf};
use openraft::RaftTypeConfig;

/// The server's side of inbound traffic. Calls on one connection are made one at a time, in
/// the order they arrived; calls on different connections run concurrently.
///
/// An `Err(reason)` goes back to the caller: for Raft RPCs it becomes `RPCError::Unreachable`
/// on the sending side (openraft's `RemoteError` needs an error type its `RPCError` here
/// cannot carry, and an error from the remote Raft, e.g. shutting down, is a reason to back
/// off); for app requests it becomes [`crate::PeerError::Remote`]; for a stream message it
/// closes the stream.
pub trait InboundHandler<C: RaftTypeConfig>: Send + Sync + 'static {
    /// What a received snapshot becomes: the state machine's snapshot data, built by the
    /// [`crate::SnapshotIo`] given to [`crate::serve`].
    type SnapshotData: Send + 'static;

    /// `Raft::append_entries`.
    fn append_entries(
        &self,
        rpc: AppendEntriesRequest<C>,
    ) -> impl Future<Output = Result<AppendEntriesResponse<C>, String>> + Send;

    /// `Raft::stream_append`: the AppendEntries of one pipeline (`Channel::RaftAppend`), in
    /// order; the answers must come out in the same order. The default answers them one at a
    /// time through [`InboundHandler::append_entries`] (no pipelining on this side).
    fn stream_append(
        self: Arc<Self>,
        input: BoxStream<'static, AppendEntriesRequest<C>>,
    ) -> BoxStream<'static, Result<StreamAppendResult<C>, String>>
    where
        Self: Sized,
    {
        let answers = futures::stream::unfold(Some((self, input)), |state| async move {
            let (handler, mut input) = state?;
            let rpc = input.next().await?;
            let prev = rpc.prev_log_id.clone();
            let last = rpc.entries.last().map(|e| e.log_id()).or(prev.clone());
            let answer = match handler.append_entries(rpc).await {
                Ok(response) => stream_result(response, prev, last.clone()),
                Err(reason) => Err(reason),
            };
            // After an error, or a prefix taken (what follows it would not line up), the
            // stream ends as openraft's own sequential stream does.
            let go_on = matches!(&answer, Ok(Ok(flushed)) if *flushed == last);
            Some((answer, go_on.then_some((handler, input))))
        });
        answers.boxed()
    }

    /// `Raft::vote`.
    fn vote(
        &self,
        rpc: VoteRequest<C>,
    ) -> impl Future<Output = Result<VoteResponse<C>, String>> + Send;

    /// `Raft::pre_vote`.
    fn pre_vote(
        &self,
        rpc: VoteRequest<C>,
    ) -> impl Future<Output = Result<VoteResponse<C>, String>> + Send;

    /// `Raft::handle_transfer_leader`.
    fn transfer_leader(
        &self,
        rpc: TransferLeaderRequest<C>,
    ) -> impl Future<Output = Result<TransferLeaderResponse<C>, String>> + Send;

    /// `Raft::install_full_snapshot`, with a snapshot received whole and verified (length and
    /// CRC32C) first.
    fn install_snapshot(
        &self,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, Self::SnapshotData>,
    ) -> impl Future<Output = Result<SnapshotResponse<C>, String>> + Send;

    /// One app request from server `from`; the answer goes back to it.
    fn app_request(
        &self,
        from: u64,
        body: Bytes,
    ) -> impl Future<Output = Result<Bytes, String>> + Send;

    /// One message of an ordered stream from server `from`. An error closes the stream (the
    /// sender sees it broken), so later messages are never handled after a failed one.
    fn app_message(
        &self,
        from: u64,
        body: Bytes,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// A Raft-channel connection from server `from` ended (closed, reset or failed). A server
    /// whose process dies closes its connections at once, so this is the earliest sign that
    /// the leader is gone. The default does nothing.
    fn raft_connection_closed(&self, _from: u64) {}
}

/// openraft's answer to one AppendEntries as a stream result, without its `unwrap` on a
/// conflict at the start of the log (which no correct follower reports, but a broken one
/// must not crash the leader).
pub(crate) fn stream_result<C: RaftTypeConfig>(
    response: AppendEntriesResponse<C>,
    prev: Option<LogIdOf<C>>,
    last: Option<LogIdOf<C>>,
) -> Result<StreamAppendResult<C>, String> {
    match (&response, &prev) {
        (AppendEntriesResponse::Conflict, None) => {
            Err("the follower reported a conflict at the start of the log".to_string())
        }
        _ => Ok(response.into_stream_result(prev, last)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    openraft::declare_raft_types!(T);

    #[test]
    fn a_conflict_at_the_start_of_the_log_is_an_error_not_a_panic() {
        assert!(stream_result::<T>(AppendEntriesResponse::Conflict, None, None).is_err());
        let at = openraft::testing::log_id::<T>(1, 0, 5);
        assert!(matches!(
            stream_result::<T>(AppendEntriesResponse::Conflict, Some(at), None),
            Ok(Err(_))
        ));
        assert_eq!(
            stream_result::<T>(AppendEntriesResponse::Success, Some(at), Some(at)),
            Ok(Ok(Some(at)))
        );
    }
}
