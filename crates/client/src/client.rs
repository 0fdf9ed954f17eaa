//! `Client`: one connection and session, shared by cheap clones.
//!
//! `connect` runs the handshake, then starts three tasks (reader, writer, pinger) that live
//! until the connection fails, `close()` is called, or the last clone is dropped (which aborts
//! them and closes the socket without closing the session, like a dropped TCP connection).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use corral_proto::connect::ConnectResponse;
use corral_proto::records::AuthPacket;
use corral_proto::request::Request;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::error::ClientError;
use crate::handshake;
use crate::options::ConnectOptions;
use crate::pending::{Lane, Pending};
use crate::reply::{Notifications, Reply, WireEvent};
use crate::shared::{NotifySink, Shared};
use crate::writer::Outgoing;
use crate::{pinger, reader, writer};

/// Messages waiting for the writer; callers wait when it is full.
const OUTGOING_QUEUE_MAX: usize = 1024;

/// A connected ZooKeeper session. Clones share the connection; requests from any clone are
/// pipelined on it.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    outgoing: mpsc::Sender<Outgoing>,
    in_flight: Arc<Semaphore>,
    response: ConnectResponse,
    notifications: Mutex<Option<Notifications>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Client {
    /// Connects to `addr` (`host:port`) and runs the handshake.
    pub async fn connect(addr: &str, options: ConnectOptions) -> Result<Client, ClientError> {
        let timeout_ms = options.connect_timeout_ms;
        let attempt = async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|source| ClientError::Connect {
                    addr: addr.to_owned(),
                    source: Arc::new(source),
                })?;
            stream.set_nodelay(true).map_err(ClientError::io)?;
            let mut stream = stream;
            let (response, leftover) = Client::handshake(&mut stream, &options).await?;
            let (read, write) = stream.into_split();
            Ok(Client::start(read, write, leftover, response, &options))
        };
        tokio::time::timeout(Duration::from_millis(timeout_ms), attempt)
            .await
            .map_err(|_| ClientError::ConnectTimeout { timeout_ms })?
    }

    /// Runs the handshake on an already connected stream (no timeout of its own): a TCP
    /// stream, or an in-memory one to a server running in the same process.
    pub async fn connect_stream<S>(
        mut stream: S,
        options: ConnectOptions,
    ) -> Result<Client, ClientError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (response, leftover) = Client::handshake(&mut stream, &options).await?;
        let (read, write) = tokio::io::split(stream);
        Ok(Client::start(read, write, leftover, response, &options))
    }

    async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        stream: &mut S,
        options: &ConnectOptions,
    ) -> Result<(ConnectResponse, BytesMut), ClientError> {
        let request = handshake::connect_request(options);
        let (response, leftover) =
            handshake::exchange(stream, &request, options.max_frame_bytes).await?;
        if response.timeout_ms <= 0 {
            return Err(ClientError::SessionExpired {
                timeout_ms: response.timeout_ms,
            });
        }
        Ok((response, leftover))
    }

    fn start<R, W>(
        read: R,
        write: W,
        leftover: BytesMut,
        response: ConnectResponse,
        options: &ConnectOptions,
    ) -> Client
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared::new(
            options.last_zxid_seen,
            options.wire_log.then_some(options.wire_log_events_max),
            options.max_frame_bytes,
            options.first_xid,
        ));
        let (notify_tx, notify_rx) = mpsc::unbounded_channel();
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sink = NotifySink {
            sender: notify_tx,
            queued: queued.clone(),
            queued_max: options.notifications_queued_max,
        };
        let (outgoing_tx, outgoing_rx) = mpsc::channel(OUTGOING_QUEUE_MAX);
        let mut tasks = vec![
            tokio::spawn(reader::run(read, leftover, shared.clone(), sink)),
            tokio::spawn(writer::run(write, outgoing_rx, shared.clone())),
        ];
        if options.ping {
            let timeout_ms = u64::try_from(response.timeout_ms).unwrap_or(1);
            tasks.push(tokio::spawn(pinger::run(
                shared.clone(),
                outgoing_tx.clone(),
                timeout_ms,
            )));
        }
        Client {
            inner: Arc::new(Inner {
                shared,
                outgoing: outgoing_tx,
                in_flight: Arc::new(Semaphore::new(options.in_flight_max.max(1))),
                response,
                notifications: Mutex::new(Some(Notifications {
                    receiver: notify_rx,
                    queued,
                })),
                tasks,
            }),
        }
    }

    /// The session id the server assigned (or confirmed).
    pub fn session_id(&self) -> i64 {
        self.inner.response.session_id
    }

    /// The session password, needed to re-attach to the session.
    pub fn password(&self) -> Bytes {
        self.inner.response.password.clone().unwrap_or_default()
    }

    /// The session timeout the server granted.
    pub fn negotiated_timeout_ms(&self) -> i32 {
        self.inner.response.timeout_ms
    }

    /// The ConnectResponse as received (its `read_only` is `None` when the server omitted it).
    pub fn connect_response(&self) -> &ConnectResponse {
        &self.inner.response
    }

    /// The zxid of the latest ordinary reply with a positive zxid (initially `last_zxid_seen`).
    pub fn last_zxid(&self) -> i64 {
        self.inner.shared.last_zxid.load(Ordering::Relaxed)
    }

    /// The xid the next ordinary request on this connection gets (pings and auth packets have
    /// their own). Exact while nothing else is being sent on the connection; what a caller
    /// continuing the session on a new connection passes as `ConnectOptions::first_xid`.
    pub fn next_xid(&self) -> i32 {
        self.inner.shared.next_xid.load(Ordering::Relaxed)
    }

    /// Ordinary requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.inner.shared.queues.lock().ordinary_len()
    }

    /// Why the connection ended, if it has.
    pub fn close_reason(&self) -> Option<ClientError> {
        self.inner.shared.close_reason()
    }

    /// Waits until the connection ends and returns why.
    pub async fn closed(&self) -> ClientError {
        let mut state = self.inner.shared.state.subscribe();
        let reason = match state.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        reason.unwrap_or(ClientError::Closed)
    }

    /// The notifications receiver; `None` after the first call.
    pub fn take_notifications(&self) -> Option<Notifications> {
        self.inner.notifications.lock().take()
    }

    /// Drains the wire log (empty unless `ConnectOptions::wire_log` was set).
    pub fn take_wire_log(&self) -> Vec<WireEvent> {
        match &self.inner.shared.wire_log {
            Some(log) => std::mem::take(&mut log.lock().events),
            None => Vec::new(),
        }
    }

    /// Events the wire log dropped because it was full.
    pub fn wire_log_dropped(&self) -> u64 {
        self.inner
            .shared
            .wire_log
            .as_ref()
            .map_or(0, |log| log.lock().dropped)
    }

    /// Sends `request` and waits for its reply. Requests from concurrent callers are pipelined;
    /// beyond `in_flight_max` ordinary requests in flight this waits for room first. A ping
    /// (xid -2) or auth (xid -4) request is matched in its own lane.
    pub async fn request(&self, request: Request) -> Result<Reply, ClientError> {
        let permit = match request {
            Request::Ping | Request::Auth(_) => None,
            _ => Some(self.in_flight_permit().await?),
        };
        let (waiter, reply) = oneshot::channel();
        self.send(Outgoing::Request {
            request,
            waiter: Some(waiter),
            permit,
        })
        .await?;
        self.wait(reply).await
    }

    /// Sends a ping (xid -2) and waits for its reply.
    pub async fn ping(&self) -> Result<Reply, ClientError> {
        self.request(Request::Ping).await
    }

    /// Adds authentication (`addauth scheme auth`). A failure (AUTHFAILED, after which the
    /// server closes the connection) is an error.
    pub async fn auth(&self, scheme: &str, auth: &[u8]) -> Result<Reply, ClientError> {
        let reply = self
            .request(Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: scheme.to_owned(),
                auth: Some(Bytes::copy_from_slice(auth)),
            }))
            .await?;
        match reply.result {
            Err(code) => Err(ClientError::AuthFailed(code)),
            Ok(_) => Ok(reply),
        }
    }

    /// Closes the session (closeSession, -11), waits for its reply, then closes the
    /// connection. Later requests fail with [`ClientError::Closed`].
    pub async fn close(&self) -> Result<Reply, ClientError> {
        self.inner.shared.closing.store(true, Ordering::Relaxed);
        let reply = self.request(Request::CloseSession).await;
        self.inner.shared.fail(ClientError::Closed);
        reply
    }

    /// Drops the connection without closing the session (as a network failure would).
    pub fn disconnect(&self) {
        self.inner.shared.fail(ClientError::Closed);
    }

    /// Writes `bytes` to the socket exactly as given, expecting no reply. A reply the server
    /// sends anyway is unexpected and ends the connection; use [`Client::raw_request`] when a
    /// reply is expected.
    pub async fn send_raw_bytes(&self, bytes: Bytes) -> Result<(), ClientError> {
        self.send(Outgoing::Raw {
            bytes,
            expect: None,
        })
        .await
    }

    /// Writes `body` as one frame (length prefix added), expecting no reply.
    pub async fn send_raw_frame(&self, body: &[u8]) -> Result<(), ClientError> {
        self.send_raw_bytes(frame(body)).await
    }

    /// Writes `body` as one frame and waits for the reply it should get. The xid and opcode
    /// the reply is matched and decoded by are read from the body's first 8 bytes, as the
    /// server would read its RequestHeader; a body shorter than 4 bytes matches any xid, and an
    /// unknown opcode leaves the reply body undecoded (`Response::Empty`, raw bytes in `body`).
    pub async fn raw_request(&self, body: &[u8]) -> Result<Reply, ClientError> {
        let request_xid = body
            .get(..4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let op_type = body
            .get(4..8)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let lane = request_xid.map_or(Lane::Ordinary, Lane::of_xid);
        let permit = match lane {
            Lane::Ordinary => Some(self.in_flight_permit().await?),
            Lane::Ping | Lane::Auth => None,
        };
        let (waiter, reply) = oneshot::channel();
        let pending = Pending {
            xid: request_xid,
            op_type,
            waiter: Some(waiter),
            permit,
        };
        self.send(Outgoing::Raw {
            bytes: frame(body),
            expect: Some((lane, pending)),
        })
        .await?;
        self.wait(reply).await
    }

    async fn in_flight_permit(&self) -> Result<OwnedSemaphorePermit, ClientError> {
        self.inner
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| self.reason())
    }

    async fn send(&self, message: Outgoing) -> Result<(), ClientError> {
        if let Some(reason) = self.close_reason() {
            return Err(reason);
        }
        self.inner
            .outgoing
            .send(message)
            .await
            .map_err(|_| self.reason())
    }

    async fn wait(
        &self,
        reply: oneshot::Receiver<Result<Reply, ClientError>>,
    ) -> Result<Reply, ClientError> {
        reply.await.unwrap_or_else(|_| Err(self.reason()))
    }

    /// The close reason, for a request whose waiter vanished with the connection.
    fn reason(&self) -> ClientError {
        self.close_reason().unwrap_or(ClientError::Closed)
    }
}

fn frame(body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + body.len());
    out.put_i32(i32::try_from(body.len()).unwrap_or(i32::MAX));
    out.put_slice(body);
    out.freeze()
}
