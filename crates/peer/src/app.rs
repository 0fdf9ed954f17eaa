//! [`AppLink`]: the server's own messages to one peer, opaque bytes to this crate: request /
//! response (read-index, session revalidation) and ordered one-way streams (`stream.rs`).
//!
//! A link runs over TCP (from a [`crate::PeerNetwork`]) or over a [`crate::memory::MemoryNet`]
//! (which implements [`OverNet`]); callers cannot tell them apart.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::config::{PeerConfig, APP_REQUEST_CONNECTIONS_MAX};
use crate::conn::{within, Conn};
use crate::error::PeerError;
use crate::frame::encode_frame;
use crate::handshake::Channel;
use crate::message::{AppReply, AppRequest, Blob};
use crate::pool::PeerSlot;
use crate::stream::AppStream;

/// The server's own messages to one peer. Cheap to clone; clones (and links to the same peer
/// from the same [`crate::PeerNetwork`]) share connections and the request cap.
#[derive(Clone)]
pub struct AppLink {
    over: Over,
}

#[derive(Clone)]
enum Over {
    Tcp(TcpLink),
    Memory(Arc<dyn OverNet>),
}

#[derive(Clone)]
struct TcpLink {
    config: Arc<PeerConfig>,
    slot: Arc<PeerSlot>,
}

pub(crate) type LinkFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A link that is not a TCP connection (the memory net's): the same contract as
/// [`AppLink::request`] and [`AppLink::open_stream`].
pub(crate) trait OverNet: Send + Sync + 'static {
    fn target(&self) -> u64;
    fn request(&self, body: Bytes, timeout: Duration) -> LinkFuture<'_, Result<Bytes, PeerError>>;
    fn open_stream(&self) -> LinkFuture<'_, Result<AppStream, PeerError>>;
}

impl AppLink {
    pub(crate) fn new(config: Arc<PeerConfig>, slot: Arc<PeerSlot>) -> Self {
        AppLink {
            over: Over::Tcp(TcpLink { config, slot }),
        }
    }

    pub(crate) fn memory(link: Arc<dyn OverNet>) -> Self {
        AppLink {
            over: Over::Memory(link),
        }
    }

    /// The peer's server id.
    pub fn target(&self) -> u64 {
        match &self.over {
            Over::Tcp(tcp) => tcp.slot.id,
            Over::Memory(link) => link.target(),
        }
    }

    /// Sends `body` and returns the peer's answer, all within `timeout` (waiting for one of
    /// the `APP_REQUEST_CONNECTIONS_MAX` request slots included). Each request in flight holds
    /// its own connection, handed back for the next request on success; a failed or timed-out
    /// request drops it. The peer's handler error comes back as [`PeerError::Remote`].
    pub async fn request(&self, body: Bytes, timeout: Duration) -> Result<Bytes, PeerError> {
        match &self.over {
            Over::Tcp(tcp) => tcp.request(body, timeout).await,
            Over::Memory(link) => link.request(body, timeout).await,
        }
    }

    /// Opens a new ordered one-way stream on its own connection (connecting now, so an
    /// unreachable peer is an error here). See [`AppStream`].
    pub async fn open_stream(&self) -> Result<AppStream, PeerError> {
        match &self.over {
            Over::Tcp(tcp) => tcp.open_stream().await,
            Over::Memory(link) => link.open_stream().await,
        }
    }
}

impl TcpLink {
    async fn request(&self, body: Bytes, timeout: Duration) -> Result<Bytes, PeerError> {
        let frame = encode_frame(
            &AppRequest::Request(Blob(body)),
            self.config.frame_bytes_max,
        )?;
        let result = within(timeout, self.round_trip(&frame)).await;
        if let Err(e @ PeerError::Timeout(_)) = &result {
            self.slot.request_failed(e);
        }
        result
    }

    async fn round_trip(&self, frame: &[u8]) -> Result<Bytes, PeerError> {
        let _permit = self
            .slot
            .app_permits
            .acquire()
            .await
            .map_err(|_| PeerError::Protocol("app request slots closed".into()))?;
        let mut conn = self.connection().await?;
        let reply = async {
            conn.send_frame(frame).await?;
            conn.recv::<AppReply>().await
        }
        .await;
        match reply {
            Ok(reply) => {
                self.slot.put_idle(conn, APP_REQUEST_CONNECTIONS_MAX);
                self.slot.succeeded();
                match reply {
                    AppReply::Ok(Blob(body)) => Ok(body),
                    AppReply::Failed(reason) => Err(PeerError::Remote {
                        peer: self.slot.id,
                        reason,
                    }),
                }
            }
            Err(e) => {
                self.slot.lost(conn, &e);
                Err(e)
            }
        }
    }

    async fn connection(&self) -> Result<Conn, PeerError> {
        match self.slot.take_idle(Channel::AppRequest) {
            Some(conn) => Ok(conn),
            None => self.slot.dial(&self.config, Channel::AppRequest).await,
        }
    }

    async fn open_stream(&self) -> Result<AppStream, PeerError> {
        let conn = self.slot.dial(&self.config, Channel::AppStream).await?;
        AppStream::start(conn, &self.config)
    }
}
