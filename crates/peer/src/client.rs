//! The outbound side: [`PeerNetwork`], openraft's network factory, and [`PeerClient`], the
//! per-target client it creates.
//!
//! # Connections
//! `new_client` only looks up the peer's slot (`pool.rs`); the first RPC connects. A client
//! keeps its connection between RPCs and hands it back to the slot when openraft drops the
//! client, so the per-election vote clients reuse connections. Any failure or timeout drops
//! the connection, and the next RPC connects afresh: a request and its reply never straddle
//! two connections, and a late reply can never be taken for the next one's.
//!
//! # Errors (openraft backs off on rank: `Unreachable` 100 at once, `Timeout`/`Network` 2)
//! - no connection could be made (refused, unreachable, connect or handshake timeout, a
//!   refused handshake) → `Unreachable`: retrying at once would fail the same way, and the
//!   FAQ asks for exactly this to stop error spam;
//! - the RPC's own budget (`self.budget(&option)`, which openraft does not enforce itself) ran
//!   out → `Timeout`, after dropping the connection;
//! - an established connection failed mid-RPC (reset, closed: typically the peer restarted)
//!   → `Network`: the immediate retry reconnects, and if the peer is really down that
//!   reconnect reports `Unreachable`, so the backoff is one RPC away, not eleven;
//! - the remote handler's error, or a reply that makes no sense → `Unreachable`: openraft's
//!   `RemoteError` cannot carry it here (`RPCError<C>` has `E = Infallible`), and a remote
//!   Raft that fails requests (shutting down, fatal) is a reason to back off.
//!
//! Snapshots map the same way onto `StreamingError`, plus: our own snapshot unreadable →
//! `StorageError` (a local storage failure, which openraft treats as one); `cancel` →
//! `Closed`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use openraft::base::{BoxFuture, BoxStream};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable};
use openraft::network::{stream_append_sequential, RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{LogIdOf, SnapshotOf, VoteOf};
use openraft::{BasicNode, ErrorSubject, ErrorVerb, RPCTypes, RaftTypeConfig, StorageError};
use serde::{Serialize, Serializer};

use crate::app::AppLink;
use crate::append_stream::{cut_to_fit, Pipeline, PipelineConn};
use crate::config::{PeerConfig, IDLE_CONNECTIONS_PER_PEER_MAX};
use crate::conn::{within, Conn};
use crate::error::{rpc_error, PeerError};
use crate::frame::encode_frame;
use crate::handshake::Channel;
use crate::message::{RaftReply, RaftRequest};
use crate::pool::{PeerSlot, Slots};
use crate::snapshot::{send_snapshot, SnapshotIo};

/// The peer transport's outbound side for one server: openraft's network factory, and the
/// source of [`AppLink`]s. Cheap to clone; clones share connections.
pub struct PeerNetwork<C, S> {
    shared: Arc<Shared<S>>,
    _types: PhantomData<fn() -> C>,
}

struct Shared<S> {
    config: Arc<PeerConfig>,
    snapshots: Arc<S>,
    slots: Slots,
}

impl<C, S> Clone for PeerNetwork<C, S> {
    fn clone(&self) -> Self {
        PeerNetwork {
            shared: self.shared.clone(),
            _types: PhantomData,
        }
    }
}

impl<C, S> PeerNetwork<C, S>
where
    C: RaftTypeConfig<NodeId = u64, Node = BasicNode>,
    S: SnapshotIo<C>,
{
    /// `snapshots` opens this server's snapshots to send them.
    pub fn new(config: PeerConfig, snapshots: Arc<S>) -> Self {
        PeerNetwork {
            shared: Arc::new(Shared {
                config: Arc::new(config),
                snapshots,
                slots: Slots::default(),
            }),
            _types: PhantomData,
        }
    }

    pub fn config(&self) -> &PeerConfig {
        &self.shared.config
    }

    /// The link for the server's own messages to server `target` at `addr`. Does not connect.
    pub fn app_link(&self, target: u64, addr: impl AsRef<str>) -> AppLink {
        AppLink::new(
            self.shared.config.clone(),
            self.shared.slots.get(target, addr.as_ref()),
        )
    }

    /// A client for server `target` at `addr`, as openraft's `new_client` makes. Does not
    /// connect.
    pub fn client(&self, target: u64, addr: &str) -> PeerClient<C, S> {
        PeerClient {
            shared: self.shared.clone(),
            slot: self.shared.slots.get(target, addr),
            conn: None,
            pipeline: None,
            _types: PhantomData,
        }
    }
}

impl<C, S> RaftNetworkFactory<C> for PeerNetwork<C, S>
where
    C: RaftTypeConfig<NodeId = u64, Node = BasicNode>,
    S: SnapshotIo<C>,
{
    type Network = PeerClient<C, S>;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient<C, S> {
        self.client(target, &node.addr)
    }
}

/// openraft's client for one target server.
pub struct PeerClient<C: RaftTypeConfig, S> {
    shared: Arc<Shared<S>>,
    slot: Arc<PeerSlot>,
    /// The connection between RPCs; taken out during one, so that an RPC abandoned halfway
    /// (timeout, openraft dropping the future) drops it.
    conn: Option<Conn>,
    /// The append pipeline's connection between streams (`append_stream.rs`).
    pipeline: Option<PipelineConn<C>>,
    _types: PhantomData<fn() -> C>,
}

impl<C: RaftTypeConfig, S> Drop for PeerClient<C, S> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.slot.put_idle(conn, IDLE_CONNECTIONS_PER_PEER_MAX);
        }
    }
}

impl<C, S> PeerClient<C, S>
where
    C: RaftTypeConfig<NodeId = u64, Node = BasicNode>,
    S: SnapshotIo<C>,
{
    fn config(&self) -> &PeerConfig {
        &self.shared.config
    }

    /// Sends one encoded request and reads its reply within `budget`.
    async fn rpc(
        &mut self,
        frame: Vec<u8>,
        name: &'static str,
        budget: Duration,
    ) -> Result<RaftReply<C>, PeerError> {
        tracing::debug!("{name} to peer {} ({} bytes)", self.slot.id, frame.len());
        let result = within(budget, self.round_trip(&frame)).await;
        match &result {
            Ok(_) => self.slot.succeeded(),
            Err(e @ PeerError::Timeout(_)) => self.slot.request_failed(e),
            Err(_) => {}
        }
        result
    }

    async fn round_trip(&mut self, frame: &[u8]) -> Result<RaftReply<C>, PeerError> {
        let mut conn = self.connection().await?;
        let result = async {
            conn.send_frame(frame).await?;
            conn.recv::<RaftReply<C>>().await
        }
        .await;
        match result {
            Ok(reply) => {
                self.conn = Some(conn);
                Ok(reply)
            }
            Err(e) => {
                self.slot.lost(conn, &e);
                Err(e)
            }
        }
    }

    /// The kept connection if the peer has not closed it, else an idle one of the slot, else
    /// a new one.
    async fn connection(&mut self) -> Result<Conn, PeerError> {
        if let Some(conn) = self.conn.take() {
            if conn.is_reusable() {
                return Ok(conn);
            }
            tracing::info!(
                "peer {} at {} closed the Raft connection",
                self.slot.id,
                self.slot.addr
            );
        }
        match self.slot.take_idle(Channel::Raft) {
            Some(conn) => Ok(conn),
            None => self.slot.dial(&self.shared.config, Channel::Raft).await,
        }
    }

    /// Encodes `rpc` for the `Raft` channel, cut to fit (see [`cut_to_fit`]). Returns the
    /// frame and, if entries were left out, the last log id sent.
    fn encode_append(
        &self,
        rpc: AppendEntriesRequest<C>,
    ) -> Result<(Vec<u8>, Option<LogIdOf<C>>), PeerError> {
        cut_to_fit(rpc, self.config(), self.slot.id, |rpc, max| {
            encode_frame(&AppendRef(rpc), max)
        })
    }

    /// openraft's budget for an RPC, but never less than `rpc_timeout_min`.
    fn budget(&self, option: &RPCOption) -> Duration {
        option.soft_ttl().max(self.config().rpc_timeout_min)
    }

    fn rpc_error(&self, e: PeerError, action: RPCTypes) -> RPCError<C> {
        rpc_error(e, action, self.config().my_id, self.slot.id)
    }

    /// Any reply but the one `name` expects: the remote handler's error, or a reply of the
    /// wrong kind, after which the connection's request/reply pairing cannot be trusted.
    fn unexpected(&mut self, reply: RaftReply<C>, name: &str) -> RPCError<C> {
        let e = match reply {
            RaftReply::Failed(reason) => PeerError::Remote {
                peer: self.slot.id,
                reason,
            },
            other => {
                self.conn = None;
                PeerError::Protocol(format!("answer {other:?} to {name}"))
            }
        };
        tracing::debug!("{name} to peer {} failed: {e}", self.slot.id);
        RPCError::Unreachable(Unreachable::new(&e))
    }

    async fn call(
        &mut self,
        request: RaftRequest<C>,
        action: RPCTypes,
        option: &RPCOption,
    ) -> Result<RaftReply<C>, RPCError<C>> {
        let name = request.name();
        let frame = encode_frame(&request, self.config().frame_bytes_max)
            .map_err(|e| self.rpc_error(e, action))?;
        self.rpc(frame, name, self.budget(option))
            .await
            .map_err(|e| self.rpc_error(e, action))
    }

    async fn snapshot(
        &mut self,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, S::Data>,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let signature = snapshot.meta.signature();
        let shared = self.shared.clone();
        send_snapshot(
            &shared.config,
            &self.slot,
            &shared.snapshots,
            vote,
            snapshot,
        )
        .await
        .map_err(|e| match e {
            PeerError::Storage(io) => StreamingError::StorageError(StorageError::from_io_error(
                ErrorSubject::Snapshot(Some(signature)),
                ErrorVerb::Read,
                io,
            )),
            PeerError::Timeout(after) => StreamingError::Timeout(Timeout {
                action: RPCTypes::InstallSnapshot,
                id: shared.config.my_id,
                target: self.slot.id,
                timeout: after,
            }),
            e => self.rpc_error(e, RPCTypes::InstallSnapshot).into(),
        })
    }
}

/// `RaftRequest::AppendEntries` borrowing its request, encoded exactly as the owned variant
/// (checked in the tests), so that the request can be cut and re-encoded without moving it
/// in and out of the enum.
struct AppendRef<'a, C: RaftTypeConfig>(&'a AppendEntriesRequest<C>);

impl<C: RaftTypeConfig> Serialize for AppendRef<'_, C> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        serializer.serialize_newtype_variant("RaftRequest", 0, "AppendEntries", self.0)
    }
}

impl<C, S> RaftNetworkV2<C> for PeerClient<C, S>
where
    C: RaftTypeConfig<NodeId = u64, Node = BasicNode>,
    S: SnapshotIo<C>,
{
    type SnapshotData = S::Data;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        let action = RPCTypes::AppendEntries;
        let (frame, cut_at) = self
            .encode_append(rpc)
            .map_err(|e| self.rpc_error(e, action))?;
        let reply = self
            .rpc(frame, "append_entries", self.budget(&option))
            .await
            .map_err(|e| self.rpc_error(e, action))?;
        match (reply, cut_at) {
            (RaftReply::AppendEntries(AppendEntriesResponse::Success), Some(last)) => {
                Ok(AppendEntriesResponse::PartialSuccess(Some(last)))
            }
            (RaftReply::AppendEntries(response), _) => Ok(response),
            (other, _) => Err(self.unexpected(other, "append_entries")),
        }
    }

    /// A pipeline on a connection of its own (`append_stream.rs`), or openraft's sequential
    /// stream over `append_entries` when `append_inflight_max` is 0.
    fn stream_append<'s, In>(
        &'s mut self,
        input: In,
        option: RPCOption,
    ) -> BoxFuture<'s, Result<BoxStream<'s, Result<StreamAppendResult<C>, RPCError<C>>>, RPCError<C>>>
    where
        In: Stream<Item = AppendEntriesRequest<C>> + Send + Unpin + 'static,
    {
        if self.config().append_inflight_max == 0 {
            return stream_append_sequential(self, input, option);
        }
        let budget = self.budget(&option);
        Box::pin(async move {
            let mut input = input;
            // The first request before the connection, as openraft's sequential stream does:
            // openraft applies its backoff while it makes a request, so a follower that is
            // down is redialled at the backoff's pace, not in a tight loop (thousands of
            // times a second, with a backoff so built up by then that the follower, back,
            // waited minutes to be caught up).
            let Some(first) = input.next().await else {
                return Ok(futures::stream::empty().boxed());
            };
            let input = futures::stream::iter([first]).chain(input);
            let config = self.shared.config.clone();
            let slot = self.slot.clone();
            let conn = match self.pipeline.take() {
                Some(conn) if conn.is_reusable() => conn,
                _ => match slot.dial(&config, Channel::RaftAppend).await {
                    Ok(conn) => PipelineConn::open(conn, &config),
                    // As the stream's first item, as openraft's sequential stream reports a
                    // failed connect.
                    Err(e) => {
                        let error = self.rpc_error(e, RPCTypes::AppendEntries);
                        return Ok(futures::stream::once(async { Err(error) }).boxed());
                    }
                },
            };
            let pipeline = Pipeline::start(conn, &mut self.pipeline, config, slot, input, budget);
            Ok(pipeline.into_stream())
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        match self
            .call(RaftRequest::Vote(rpc), RPCTypes::Vote, &option)
            .await?
        {
            RaftReply::Vote(response) => Ok(response),
            other => Err(self.unexpected(other, "vote")),
        }
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        match self
            .call(RaftRequest::PreVote(rpc), RPCTypes::Vote, &option)
            .await?
        {
            RaftReply::PreVote(response) => Ok(response),
            other => Err(self.unexpected(other, "pre_vote")),
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<C>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<C>, RPCError<C>> {
        let request = RaftRequest::TransferLeader(req);
        match self
            .call(request, RPCTypes::TransferLeader, &option)
            .await?
        {
            RaftReply::TransferLeader(response) => Ok(response),
            other => Err(self.unexpected(other, "transfer_leader")),
        }
    }

    /// Streams the snapshot on its own connection (see `snapshot.rs`). openraft's `hard_ttl`
    /// for snapshots (`install_snapshot_timeout`, 200 ms by default) is ignored on purpose:
    /// the transfer is bounded by progress (`snapshot_idle_timeout`), not by total time.
    async fn full_snapshot(
        &mut self,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, Self::SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let cancel = pin!(cancel);
        let target = self.slot.id;
        tokio::select! {
            closed = cancel => {
                tracing::info!("snapshot to peer {target} cancelled: {closed}");
                Err(StreamingError::Closed(closed))
            }
            result = self.snapshot(vote, snapshot) => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::entry::RaftEntry;

    openraft::declare_raft_types!(T);

    #[test]
    fn a_borrowed_append_encodes_like_an_owned_one() {
        let rpc = AppendEntriesRequest::<T> {
            vote: openraft::Vote::new(1, 0),
            prev_log_id: None,
            entries: vec![<T as RaftTypeConfig>::Entry::new_blank(
                openraft::testing::log_id::<T>(1, 0, 5),
            )],
            leader_commit: None,
        };
        assert_eq!(
            postcard::to_allocvec(&AppendRef(&rpc)).expect("encodes"),
            postcard::to_allocvec(&RaftRequest::AppendEntries(rpc)).expect("encodes")
        );
    }
}
