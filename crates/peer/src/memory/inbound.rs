//! A server's inbound side as the memory net holds it: its [`InboundHandler`] and
//! [`SnapshotIo`], type-erased behind boxed futures so that [`super::MemoryNet`] is generic over
//! openraft's type configuration only.
//!
//! Snapshots travel as bytes, as over TCP: the sender's `SnapshotIo::open` is read to the end,
//! the receiver's `SnapshotIo::receive` sink is written and finished, and the handler installs
//! the result. The sink's I/O runs on the calling task (a simulation must not hand work to
//! other threads; its file systems are in memory).

use std::any::Any;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use openraft::{RaftTypeConfig, Snapshot};
use tokio::io::AsyncReadExt;

use crate::handler::InboundHandler;
use crate::snapshot::SnapshotIo;

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Bytes handed to the receiver's sink per write.
const SNAPSHOT_WRITE_BYTES: usize = 1024 * 1024;

/// One attached server's inbound side.
pub(crate) trait Inbound<C: RaftTypeConfig>: Send + Sync + 'static {
    fn append_entries(
        &self,
        rpc: AppendEntriesRequest<C>,
    ) -> BoxFut<'_, Result<AppendEntriesResponse<C>, String>>;
    fn vote(&self, rpc: VoteRequest<C>) -> BoxFut<'_, Result<VoteResponse<C>, String>>;
    fn pre_vote(&self, rpc: VoteRequest<C>) -> BoxFut<'_, Result<VoteResponse<C>, String>>;
    fn transfer_leader(
        &self,
        rpc: TransferLeaderRequest<C>,
    ) -> BoxFut<'_, Result<TransferLeaderResponse<C>, String>>;
    /// Receives a whole snapshot's bytes into the snapshot storage and installs it.
    fn install_snapshot(
        &self,
        vote: VoteOf<C>,
        meta: SnapshotMetaOf<C>,
        bytes: Vec<u8>,
    ) -> BoxFut<'_, Result<SnapshotResponse<C>, String>>;
    fn app_request(&self, from: u64, body: Bytes) -> BoxFut<'_, Result<Bytes, String>>;
    fn app_message(&self, from: u64, body: Bytes) -> BoxFut<'_, Result<(), String>>;
    /// The bytes of one of this server's snapshots (`data` is its snapshot data, boxed).
    fn read_snapshot(&self, data: Box<dyn Any + Send>) -> BoxFut<'_, io::Result<Vec<u8>>>;
    /// Server `from` went down: over TCP its connections to this server would close now.
    fn raft_connection_closed(&self, from: u64);
}

/// The handler and snapshot storage one server attached.
pub(crate) struct Attached<H, S> {
    pub(crate) handler: Arc<H>,
    pub(crate) snapshots: Arc<S>,
}

impl<C, H, S> Inbound<C> for Attached<H, S>
where
    C: RaftTypeConfig,
    H: InboundHandler<C, SnapshotData = S::Data>,
    S: SnapshotIo<C>,
{
    fn append_entries(
        &self,
        rpc: AppendEntriesRequest<C>,
    ) -> BoxFut<'_, Result<AppendEntriesResponse<C>, String>> {
        Box::pin(self.handler.append_entries(rpc))
    }

    fn vote(&self, rpc: VoteRequest<C>) -> BoxFut<'_, Result<VoteResponse<C>, String>> {
        Box::pin(self.handler.vote(rpc))
    }

    fn pre_vote(&self, rpc: VoteRequest<C>) -> BoxFut<'_, Result<VoteResponse<C>, String>> {
        Box::pin(self.handler.pre_vote(rpc))
    }

    fn transfer_leader(
        &self,
        rpc: TransferLeaderRequest<C>,
    ) -> BoxFut<'_, Result<TransferLeaderResponse<C>, String>> {
        Box::pin(self.handler.transfer_leader(rpc))
    }

    fn install_snapshot(
        &self,
        vote: VoteOf<C>,
        meta: SnapshotMetaOf<C>,
        bytes: Vec<u8>,
    ) -> BoxFut<'_, Result<SnapshotResponse<C>, String>> {
        Box::pin(async move {
            let received = (|| -> io::Result<S::Data> {
                let mut sink = self.snapshots.receive(&meta)?;
                for chunk in bytes.chunks(SNAPSHOT_WRITE_BYTES) {
                    sink.write(chunk)?;
                }
                sink.finish()
            })();
            let data = received.map_err(|e| format!("receiving the snapshot failed: {e}"))?;
            let snapshot = Snapshot {
                meta,
                snapshot: data,
            };
            self.handler
                .install_snapshot(vote, snapshot)
                .await
                .map_err(|reason| format!("installing the snapshot failed: {reason}"))
        })
    }

    fn app_request(&self, from: u64, body: Bytes) -> BoxFut<'_, Result<Bytes, String>> {
        Box::pin(self.handler.app_request(from, body))
    }

    fn app_message(&self, from: u64, body: Bytes) -> BoxFut<'_, Result<(), String>> {
        Box::pin(self.handler.app_message(from, body))
    }

    fn raft_connection_closed(&self, from: u64) {
        self.handler.raft_connection_closed(from);
    }

    fn read_snapshot(&self, data: Box<dyn Any + Send>) -> BoxFut<'_, io::Result<Vec<u8>>> {
        Box::pin(async move {
            let data = data.downcast::<S::Data>().map_err(|_| {
                io::Error::other("snapshot data of another type than the attached storage's")
            })?;
            let mut reader = self.snapshots.open(&data)?;
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).await?;
            // The data (a file, say) stays alive until its bytes are read.
            drop(data);
            Ok(bytes)
        })
    }
}
