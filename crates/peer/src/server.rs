//! The inbound side: [`serve`] accepts peer connections, runs the handshake and hands each
//! connection, by channel, to its loop. One task per connection; a connection's requests are
//! handled one at a time, in order. Everything stops when `stop` flips (or its sender is
//! dropped), and `serve` returns only after every task it started, blocking snapshot I/O
//! included, has ended.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::RaftTypeConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

use crate::append_stream::{serve_append_stream, PipelineEnd};
use crate::config::{PeerConfig, INBOUND_CONNECTIONS_MAX};
use crate::conn::{accept, Conn};
use crate::error::{FrameError, PeerError};
use crate::handler::InboundHandler;
use crate::handshake::Channel;
use crate::message::{AppReply, AppRequest, Blob, RaftReply, RaftRequest};
use crate::snapshot::{Receiver, SnapshotIo};
use crate::stream::serve_stream;

/// Pause after a failed accept (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Serves peer connections on `listener` until `stop` becomes true.
pub async fn serve<C, H, S>(
    listener: TcpListener,
    config: PeerConfig,
    handler: Arc<H>,
    snapshots: Arc<S>,
    stop: watch::Receiver<bool>,
) where
    C: RaftTypeConfig,
    H: InboundHandler<C, SnapshotData = S::Data>,
    S: SnapshotIo<C>,
{
    let tracker = TaskTracker::new();
    let inbound = Arc::new(Semaphore::new(INBOUND_CONNECTIONS_MAX));
    let shared = Arc::new(Inbound {
        config,
        handler,
        snapshots,
        tracker: tracker.clone(),
    });
    let mut stopping = stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut stopping) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => admit::<C, H, S>(&shared, &inbound, stream, addr, &stop),
            Err(e) => {
                tracing::warn!("accepting a peer connection failed: {e}");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// Resolves once `stop` is true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

struct Inbound<H, S> {
    config: PeerConfig,
    handler: Arc<H>,
    snapshots: Arc<S>,
    tracker: TaskTracker,
}

/// Starts the connection's task, or closes it at once when `INBOUND_CONNECTIONS_MAX` are open.
fn admit<C, H, S>(
    shared: &Arc<Inbound<H, S>>,
    inbound: &Arc<Semaphore>,
    stream: TcpStream,
    addr: SocketAddr,
    stop: &watch::Receiver<bool>,
) where
    C: RaftTypeConfig,
    H: InboundHandler<C, SnapshotData = S::Data>,
    S: SnapshotIo<C>,
{
    let Ok(permit) = inbound.clone().try_acquire_owned() else {
        tracing::warn!(
            "closing peer connection from {addr}: {INBOUND_CONNECTIONS_MAX} peer connections \
             are open already"
        );
        return;
    };
    let shared = shared.clone();
    let mut stop = stop.clone();
    shared.tracker.clone().spawn(async move {
        tokio::select! {
            _ = stopped(&mut stop) => {}
            _ = connection::<C, H, S>(&shared, stream, addr, permit) => {}
        }
    });
}

async fn connection<C, H, S>(
    shared: &Inbound<H, S>,
    stream: TcpStream,
    addr: SocketAddr,
    _permit: OwnedSemaphorePermit,
) where
    C: RaftTypeConfig,
    H: InboundHandler<C, SnapshotData = S::Data>,
    S: SnapshotIo<C>,
{
    // A refused handshake was logged by `accept`.
    let Ok(mut conn) = accept(stream, addr, &shared.config).await else {
        return;
    };
    let (peer, channel, addr) = (conn.peer_id, conn.channel, conn.addr.clone());
    let result = match channel {
        Channel::Raft => {
            let result = serve_raft::<C, H>(&mut conn, &shared.handler).await;
            shared.handler.raft_connection_closed(peer);
            result
        }
        Channel::RaftAppend => {
            match serve_append_stream::<C, H>(conn, &shared.config, &shared.handler).await {
                // Closed here after a conflict: the leader is alive and reconnects.
                Ok(PipelineEnd::ByReceiver) => Ok(()),
                ended => {
                    shared.handler.raft_connection_closed(peer);
                    ended.map(|_| ())
                }
            }
        }
        Channel::Snapshot => {
            let receiver = Receiver {
                config: &shared.config,
                handler: &*shared.handler,
                snapshots: &shared.snapshots,
                tracker: &shared.tracker,
            };
            receiver.run::<C>(&mut conn).await
        }
        Channel::AppRequest => serve_app_requests::<C, H>(&mut conn, &shared.handler).await,
        Channel::AppStream => {
            serve_stream::<C, H>(&mut conn, &shared.config, &*shared.handler).await
        }
    };
    log_end(peer, &addr, channel, result);
}

/// Garbage from a peer that passed the handshake is a bug or a version skew the version did
/// not catch: warn. Anything else is a disconnection: info.
fn log_end(peer: u64, addr: &str, channel: Channel, result: Result<(), PeerError>) {
    match result {
        Ok(()) | Err(PeerError::Frame(FrameError::Closed)) => {
            tracing::info!("peer {peer} at {addr} disconnected ({channel:?})")
        }
        Err(e @ (PeerError::Decode(_) | PeerError::Protocol(_))) => tracing::warn!(
            "closing {channel:?} connection with peer {peer} at {addr}: it sent a bad message: {e}"
        ),
        Err(e) => tracing::info!("peer {peer} at {addr} disconnected ({channel:?}): {e}"),
    }
}

/// The next request, or `None` when the peer closed the connection between requests.
async fn next<T: serde::de::DeserializeOwned>(conn: &mut Conn) -> Result<Option<T>, PeerError> {
    match conn.recv::<T>().await {
        Ok(request) => Ok(Some(request)),
        Err(PeerError::Frame(FrameError::Closed)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn serve_raft<C, H>(conn: &mut Conn, handler: &H) -> Result<(), PeerError>
where
    C: RaftTypeConfig,
    H: InboundHandler<C>,
{
    while let Some(request) = next::<RaftRequest<C>>(conn).await? {
        tracing::debug!("{} from peer {}", request.name(), conn.peer_id);
        let reply = handle_raft(handler, request).await;
        conn.send(&reply).await?;
    }
    Ok(())
}

async fn handle_raft<C, H>(handler: &H, request: RaftRequest<C>) -> RaftReply<C>
where
    C: RaftTypeConfig,
    H: InboundHandler<C>,
{
    let reply = match request {
        RaftRequest::AppendEntries(rpc) => handler
            .append_entries(rpc)
            .await
            .map(RaftReply::AppendEntries),
        RaftRequest::Vote(rpc) => handler.vote(rpc).await.map(RaftReply::Vote),
        RaftRequest::PreVote(rpc) => handler.pre_vote(rpc).await.map(RaftReply::PreVote),
        RaftRequest::TransferLeader(rpc) => handler
            .transfer_leader(rpc)
            .await
            .map(RaftReply::TransferLeader),
    };
    reply.unwrap_or_else(RaftReply::Failed)
}

async fn serve_app_requests<C, H>(conn: &mut Conn, handler: &H) -> Result<(), PeerError>
where
    C: RaftTypeConfig,
    H: InboundHandler<C>,
{
    while let Some(AppRequest::Request(Blob(body))) = next::<AppRequest>(conn).await? {
        tracing::debug!(
            "app request from peer {} ({} bytes)",
            conn.peer_id,
            body.len()
        );
        let reply = match handler.app_request(conn.peer_id, body).await {
            Ok(body) => AppReply::Ok(Blob(body)),
            Err(reason) => AppReply::Failed(reason),
        };
        conn.send(&reply).await?;
    }
    Ok(())
}
