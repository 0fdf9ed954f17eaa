//! The raft side of the peer transport (`corral-peer`): what this server does with the RPCs
//! other servers send it, and how snapshot files travel.
//!
//! - [`RaftInbound`] hands openraft's RPCs to this server's raft node and the server's own
//!   messages to a [`ClusterApp`] (declared here, implemented by `cluster/`), so the
//!   transport's one inbound handler serves both without this module knowing what the
//!   messages mean.
//! - [`SnapshotFiles`] sends a snapshot file as its bytes and receives one into the snapshot
//!   store, where only a file that verifies whole is renamed into place.

use std::future::Future;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use corral_entry::{SnapshotMeta, TypeConfig};
use corral_peer::{InboundHandler, SnapshotIo, SnapshotSink};
use corral_storage::snapshot::{IncomingSnapshot, SnapshotStore};
use futures::stream::{BoxStream, StreamExt};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use tokio::io::{AsyncRead, ReadBuf};

use super::leader_watch::LeaderContact;
use super::snapshot::SnapshotFile;
use super::Raft;
use crate::ids::ServerId;

type C = TypeConfig;

/// The server's own peer messages, as the inbound side of the transport delivers them.
pub(crate) trait ClusterApp: Send + Sync + 'static {
    /// A request from server `from` that expects an answer.
    fn request(
        &self,
        from: ServerId,
        body: Bytes,
    ) -> impl Future<Output = Result<Bytes, String>> + Send;
    /// One message of an ordered stream from server `from`; an error closes the stream.
    fn message(
        &self,
        from: ServerId,
        body: Bytes,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The transport's inbound handler: raft RPCs to the raft node, the rest to `app`.
pub(crate) struct RaftInbound<A> {
    raft: Raft,
    app: Arc<A>,
    /// Told of every AppendEntries: the leader is alive.
    contact: Arc<LeaderContact>,
}

impl<A> RaftInbound<A> {
    pub(crate) fn new(raft: Raft, app: Arc<A>, contact: Arc<LeaderContact>) -> RaftInbound<A> {
        RaftInbound { raft, app, contact }
    }
}

impl<A: ClusterApp> InboundHandler<C> for RaftInbound<A> {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &self,
        rpc: AppendEntriesRequest<C>,
    ) -> Result<AppendEntriesResponse<C>, String> {
        self.contact.heard();
        self.raft
            .append_entries(rpc)
            .await
            .map_err(|e| e.to_string())
    }

    /// openraft's pipelined follower path: each request is handed on without waiting for
    /// the previous one's flush, so a commit index arriving behind a batch is applied as
    /// soon as the entries it covers are durable here.
    fn stream_append(
        self: Arc<Self>,
        input: BoxStream<'static, AppendEntriesRequest<C>>,
    ) -> BoxStream<'static, Result<StreamAppendResult<C>, String>> {
        let contact = self.contact.clone();
        let input = input.inspect(move |_| contact.heard());
        self.raft
            .stream_append(input)
            .map(|answer| answer.map_err(|fatal| fatal.to_string()))
            .boxed()
    }

    async fn vote(&self, rpc: VoteRequest<C>) -> Result<VoteResponse<C>, String> {
        self.raft.vote(rpc).await.map_err(|e| e.to_string())
    }

    async fn pre_vote(&self, rpc: VoteRequest<C>) -> Result<VoteResponse<C>, String> {
        self.raft.pre_vote(rpc).await.map_err(|e| e.to_string())
    }

    async fn transfer_leader(
        &self,
        rpc: TransferLeaderRequest<C>,
    ) -> Result<TransferLeaderResponse<C>, String> {
        self.raft
            .handle_transfer_leader(rpc)
            .await
            .map_err(|e| e.to_string())
    }

    async fn install_snapshot(
        &self,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, SnapshotFile>,
    ) -> Result<SnapshotResponse<C>, String> {
        self.raft
            .install_full_snapshot(vote, snapshot)
            .await
            .map_err(|e| e.to_string())
    }

    async fn app_request(&self, from: u64, body: Bytes) -> Result<Bytes, String> {
        self.app.request(from, body).await
    }

    async fn app_message(&self, from: u64, body: Bytes) -> Result<(), String> {
        self.app.message(from, body).await
    }

    fn raft_connection_closed(&self, from: u64) {
        self.contact.connection_closed(from);
    }
}

/// Snapshot files as the transport moves them.
pub(crate) struct SnapshotFiles {
    store: Arc<SnapshotStore>,
}

impl SnapshotFiles {
    pub(crate) fn new(store: Arc<SnapshotStore>) -> SnapshotFiles {
        SnapshotFiles { store }
    }
}

impl SnapshotIo<C> for SnapshotFiles {
    type Data = SnapshotFile;

    /// On the operating system's file system, tokio's asynchronous file (the transfer streams
    /// it chunk by chunk); on any other (a simulation's in-memory one) the file is read through
    /// the store's file system, a buffer at a time, on the reading task.
    fn open(&self, data: &SnapshotFile) -> io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        if self.store.on_os_file_system() {
            let file = std::fs::File::open(&data.path)?;
            return Ok(Box::new(tokio::fs::File::from_std(file)));
        }
        let bytes = self
            .store
            .open_bytes(&data.path)
            .map_err(io::Error::other)?;
        Ok(Box::new(ReadInline(bytes)))
    }

    fn receive(&self, meta: &SnapshotMeta) -> io::Result<Box<dyn SnapshotSink<SnapshotFile>>> {
        let index = meta.last_log_id.map_or(0, |id| id.index);
        let incoming = self.store.receive(index).map_err(io::Error::other)?;
        Ok(Box::new(Receiving(incoming)))
    }
}

/// A blocking reader of a file system that does not block (in memory) as an `AsyncRead`.
struct ReadInline<R>(R);

impl<R: Read + Unpin> AsyncRead for ReadInline<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

struct Receiving(IncomingSnapshot);

impl SnapshotSink<SnapshotFile> for Receiving {
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.0.write(chunk).map_err(io::Error::other)
    }

    fn finish(self: Box<Self>) -> io::Result<SnapshotFile> {
        let info = self.0.finish().map_err(io::Error::other)?;
        Ok(SnapshotFile { path: info.path })
    }
}
