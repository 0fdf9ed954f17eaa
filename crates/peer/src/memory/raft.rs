//! openraft's network over a [`MemoryNet`]: the factory ([`MemoryNetwork`]) and its clients
//! ([`MemoryClient`]), with the TCP client's error mapping (see `client.rs`): a target that is
//! not attached is `Unreachable`, a call without an answer in `option.soft_ttl()` is
//! `Timeout`, a target that went down mid-call is `Network`, the remote handler's error is
//! `Unreachable`.

use std::any::Any;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;

use openraft::error::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::{BasicNode, ErrorSubject, ErrorVerb, RPCTypes, RaftTypeConfig, StorageError};

use super::inbound::Inbound;
use super::{CallError, MemoryNet, Sender};
use crate::error::PeerError;

/// openraft's network factory for one server on a [`MemoryNet`]; `D` is the state machine's
/// snapshot data (the type the server's attached `SnapshotIo` reads). Log entries must be
/// `Clone`: a request may be delivered twice.
pub struct MemoryNetwork<C: RaftTypeConfig, D> {
    net: MemoryNet<C>,
    me: Sender<C>,
    _data: PhantomData<fn() -> D>,
}

impl<C: RaftTypeConfig, D> Clone for MemoryNetwork<C, D> {
    fn clone(&self) -> Self {
        MemoryNetwork {
            net: self.net.clone(),
            me: self.me.clone(),
            _data: PhantomData,
        }
    }
}

impl<C: RaftTypeConfig, D> MemoryNetwork<C, D> {
    pub(crate) fn new(net: MemoryNet<C>, me: Sender<C>) -> Self {
        MemoryNetwork {
            net,
            me,
            _data: PhantomData,
        }
    }

    /// A client for server `target`.
    pub fn client(&self, target: u64) -> MemoryClient<C, D> {
        MemoryClient {
            net: self.net.clone(),
            me: self.me.clone(),
            target,
            _data: PhantomData,
        }
    }
}

impl<C, D> RaftNetworkFactory<C> for MemoryNetwork<C, D>
where
    C: RaftTypeConfig<NodeId = u64, Node = BasicNode>,
    C::Entry: Clone,
    D: Send + 'static,
{
    type Network = MemoryClient<C, D>;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> MemoryClient<C, D> {
        self.client(target)
    }
}

/// openraft's client for one target server on a [`MemoryNet`].
pub struct MemoryClient<C: RaftTypeConfig, D> {
    net: MemoryNet<C>,
    me: Sender<C>,
    target: u64,
    _data: PhantomData<fn() -> D>,
}

impl<C, D> MemoryClient<C, D>
where
    C: RaftTypeConfig<NodeId = u64, Node = BasicNode>,
    C::Entry: Clone,
    D: Send + 'static,
{
    fn rpc_error(&self, e: CallError, action: RPCTypes) -> RPCError<C> {
        let target = self.target;
        match e {
            CallError::Timeout(after) => RPCError::Timeout(Timeout {
                action,
                id: self.me.id(),
                target,
                timeout: after,
            }),
            CallError::Reset(reason) => {
                RPCError::Network(NetworkError::new(&PeerError::Frame(reset(reason).into())))
            }
            CallError::Refused(reason) => {
                RPCError::Unreachable(Unreachable::new(&refused(target, reason)))
            }
            CallError::Remote(reason) => {
                RPCError::Unreachable(Unreachable::new(&PeerError::Remote {
                    peer: target,
                    reason,
                }))
            }
        }
    }

    async fn call<Req, T, F>(
        &self,
        request: Req,
        action: RPCTypes,
        option: &RPCOption,
        duplicable: bool,
        handle: F,
    ) -> Result<T, RPCError<C>>
    where
        Req: Clone + Send + 'static,
        T: Send + 'static,
        F: Fn(Arc<dyn Inbound<C>>, Req) -> super::BoxFut<'static, Result<T, String>>
            + Clone
            + Send
            + 'static,
    {
        self.net
            .call(
                &self.me,
                self.target,
                option.soft_ttl(),
                duplicable,
                request,
                handle,
            )
            .await
            .map_err(|e| self.rpc_error(e, action))
    }

    /// Reads our snapshot, sends it, waits for the target to install it.
    async fn send_snapshot(
        &self,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, D>,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let signature = snapshot.meta.signature();
        let storage_error = |e: io::Error| {
            StreamingError::StorageError(StorageError::from_io_error(
                ErrorSubject::Snapshot(Some(signature.clone())),
                ErrorVerb::Read,
                e,
            ))
        };
        let own = match &self.me {
            Sender::Endpoint(inc) => inc.inbound.lock().clone(),
            Sender::Current(id) => self.net.route(*id).map(|(_, inbound)| inbound),
        };
        let Some(own) = own else {
            return Err(storage_error(io::Error::other(
                "this server has no snapshot storage attached to the net",
            )));
        };
        let data: Box<dyn Any + Send> = Box::new(snapshot.snapshot);
        let bytes = own.read_snapshot(data).await.map_err(storage_error)?;
        let meta = snapshot.meta;
        let budget = self.net.config().snapshot_timeout;
        let request = (vote, meta, bytes);
        self.net
            .call(
                &self.me,
                self.target,
                budget,
                false,
                request,
                |inbound, (vote, meta, bytes)| {
                    Box::pin(async move { inbound.install_snapshot(vote, meta, bytes).await })
                },
            )
            .await
            .map_err(|e| match e {
                CallError::Timeout(after) => StreamingError::Timeout(Timeout {
                    action: RPCTypes::InstallSnapshot,
                    id: self.me.id(),
                    target: self.target,
                    timeout: after,
                }),
                e => self.rpc_error(e, RPCTypes::InstallSnapshot).into(),
            })
    }
}

fn reset(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, reason)
}

fn refused(target: u64, reason: String) -> PeerError {
    PeerError::Unreachable {
        addr: format!("memory:{target}"),
        source: io::Error::new(io::ErrorKind::ConnectionRefused, reason),
    }
}

impl<C, D> RaftNetworkV2<C> for MemoryClient<C, D>
where
    C: RaftTypeConfig<NodeId = u64, Node = BasicNode>,
    C::Entry: Clone,
    D: Send + 'static,
{
    type SnapshotData = D;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        self.call(
            rpc,
            RPCTypes::AppendEntries,
            &option,
            true,
            |inbound, rpc| Box::pin(async move { inbound.append_entries(rpc).await }),
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        self.call(rpc, RPCTypes::Vote, &option, true, |inbound, rpc| {
            Box::pin(async move { inbound.vote(rpc).await })
        })
        .await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        self.call(rpc, RPCTypes::Vote, &option, true, |inbound, rpc| {
            Box::pin(async move { inbound.pre_vote(rpc).await })
        })
        .await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<C>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<C>, RPCError<C>> {
        self.call(
            req,
            RPCTypes::TransferLeader,
            &option,
            false,
            |inbound, req| Box::pin(async move { inbound.transfer_leader(req).await }),
        )
        .await
    }

    /// Within [`super::MemoryNetConfig::snapshot_timeout`]; openraft's `hard_ttl` is ignored,
    /// as over TCP.
    async fn full_snapshot(
        &mut self,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, D>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let cancel = pin!(cancel);
        tokio::select! {
            biased;
            closed = cancel => Err(StreamingError::Closed(closed)),
            result = self.send_snapshot(vote, snapshot) => result,
        }
    }
}
