//! Peer transport as openraft sees it.
//!
//! - [`ConfiguredPeers`]: an ensemble member's network: `corral-peer`'s TCP transport, reaching
//!   each server at the address this server's own zoo.cfg gives it. The addresses in the raft
//!   membership are those of whichever server initialised it; ZooKeeper servers each use
//!   their own configuration, and so does Corral (which also lets a test route each link
//!   through a proxy of its own).
//! - [`NoPeers`]: a standalone server is a one-voter cluster and never talks to a peer, so
//!   every RPC reports the peer unreachable.

use openraft::error::{RPCError, StreamingError, Unreachable};
use openraft::errors::ReplicationClosed;
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::SnapshotOf;
use openraft::{AnyError, OptionalSend};

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_entry::{NodeId, TypeConfig};
use corral_peer::{PeerClient, PeerNetwork};

use super::peer_link::SnapshotFiles;

type C = TypeConfig;

/// The TCP transport, with this server's configured address of each peer.
#[derive(Clone)]
pub(crate) struct ConfiguredPeers {
    network: PeerNetwork<C, SnapshotFiles>,
    endpoints: Arc<BTreeMap<NodeId, String>>,
}

impl ConfiguredPeers {
    pub(crate) fn new(
        network: PeerNetwork<C, SnapshotFiles>,
        endpoints: Arc<BTreeMap<NodeId, String>>,
    ) -> ConfiguredPeers {
        ConfiguredPeers { network, endpoints }
    }
}

impl RaftNetworkFactory<C> for ConfiguredPeers {
    type Network = PeerClient<C, SnapshotFiles>;

    async fn new_client(&mut self, target: NodeId, node: &openraft::BasicNode) -> Self::Network {
        let addr = self.endpoints.get(&target).unwrap_or(&node.addr);
        self.network.client(target, addr)
    }
}

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
