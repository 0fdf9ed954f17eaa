//! Peer transport. A standalone server is a one-voter cluster and never talks to a peer, so
//! every RPC here reports the peer unreachable; the replicated ensemble brings a real transport.

use openraft::error::{RPCError, StreamingError, Unreachable};
use openraft::errors::ReplicationClosed;
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::SnapshotOf;
use openraft::{AnyError, OptionalSend};

use corral_entry::{NodeId, TypeConfig};

type C = TypeConfig;

pub(crate) struct NoPeers;

pub(crate) struct NoPeer {
    target: NodeId,
}

impl RaftNetworkFactory<C> for NoPeers {
    type Network = NoPeer;

    async fn new_client(&mut self, target: NodeId, _node: &openraft::BasicNode) -> NoPeer {
        NoPeer { target }
    }
}

impl NoPeer {
    fn unreachable(&self) -> Unreachable<C> {
        Unreachable::new(&AnyError::error(format!(
            "server {} is not a peer of a standalone server",
            self.target
        )))
    }
}

impl RaftNetworkV2<C> for NoPeer {
    type SnapshotData = super::state_machine::SnapshotData;

    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<C>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        Err(RPCError::Unreachable(self.unreachable()))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<C>,
        _option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        Err(RPCError::Unreachable(self.unreachable()))
    }

    async fn full_snapshot(
        &mut self,
        _vote: <C as openraft::RaftTypeConfig>::Vote,
        _snapshot: SnapshotOf<C, Self::SnapshotData>,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        Err(StreamingError::Unreachable(self.unreachable()))
    }
}
