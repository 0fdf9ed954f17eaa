//! One client connection: the reader task ([`serve`]) decodes frames in order and hands them
//! to the [`pipeline`]; the [`writer`] task owns the socket's write half. What other tasks may
//! touch of a connection is its [`crate::clients::ConnectionHandle`].
//!
//! Life of a connection: the first four bytes may be a four-letter word (answered, then
//! closed); otherwise the first frame is the handshake ([`handshake`]), then requests follow
//! until the client closes, the session ends, or the client sends something ZooKeeper would
//! close the connection for.
//!
//! Architecture invariant: [`ClientServices`] is declared here, for connections; it is a set
//! of narrow handles, not a lock, and appears in no other module's signatures.

pub(crate) mod backpressure;
pub(crate) mod handshake;
pub(crate) mod inbox;
pub(crate) mod pipeline;
pub(crate) mod reads;
pub(crate) mod socket;
pub(crate) mod throttle;
pub(crate) mod writer;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::RngCore;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::clients::{
    rate_limited_log, ConnectionHandle, ConnectionIds, ConnectionRegistry, WriteGate,
};
use crate::clock::Clock;
use crate::config::slices::{AuthSettings, ConnectionLimits, FourLetterSettings};
use crate::four_letter;
use crate::metrics::Counters;
use crate::proposer::Proposer;
use crate::replica::Replica;
use crate::sessions::{SessionIdAllocator, Sessions};
use crate::status::StatusSource;
use inbox::Inbox;

/// How long a closing connection may take to flush what it has queued.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests a connection's task handles before it lets the other tasks of its worker run.
/// tokio's own budget (128 operations) let two dozen pipelining clients delay every step of
/// another session's write by thousands of requests.
const FRAMES_PER_TURN_MAX: usize = 16;

/// What a connection task uses of the server.
pub(crate) struct ClientServices {
    pub replica: Arc<Replica>,
    pub proposer: Arc<Proposer>,
    pub registry: Arc<ConnectionRegistry>,
    pub sessions: Arc<Sessions>,
    pub session_ids: SessionIdAllocator,
    pub connection_ids: ConnectionIds,
    pub status: Arc<StatusSource>,
    pub four_letter: FourLetterSettings,
    pub limits: ConnectionLimits,
    pub auth: AuthSettings,
    pub counters: Arc<Counters>,
    pub gate: Arc<WriteGate>,
    pub clock: Arc<dyn Clock>,
    pub reconfig_enabled: bool,
    /// Put every tree read behind a read barrier (`corral.linearizableReads`).
    pub linearizable_reads: bool,
    /// This server's role: while no leader is known, new connections are refused (as a
    /// ZooKeeper server that is LOOKING does).
    pub role: tokio::sync::watch::Receiver<crate::raft::RoleState>,
    /// Session passwords; seeded by the server (from the OS, or a test's seed).
    pub passwords: Mutex<StdRng>,
}

impl ClientServices {
    fn new_password(&self) -> [u8; corral_proto::connect::PASSWORD_BYTES] {
        let mut password = [0u8; corral_proto::connect::PASSWORD_BYTES];
        self.passwords.lock().fill_bytes(&mut password);
        password
    }
}

/// Why the reader stopped; every variant ends the connection.
#[derive(Debug)]
pub(crate) enum Closed {
    /// The peer closed or the socket failed.
    Eof,
    /// The server decided to close (bad frame, failed handshake, session gone...).
    Server(&'static str),
}

/// Serves one accepted connection until it closes.
pub(crate) async fn serve<R, W>(read: R, write: W, peer: SocketAddr, services: Arc<ClientServices>)
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let id = services.connection_ids.allocate();
    let handle = Arc::new(ConnectionHandle::new(
        id,
        peer,
        services.counters.clone(),
        services.gate.clone(),
        services.limits.outbound_queued_bytes_max,
        services.clock.wall_ms(),
    ));
    let max_per_ip = services.limits.connections_per_ip_max;
    if !services.registry.register(handle.clone(), max_per_ip) {
        rate_limited_log::warn(
            "max_client_cnxns",
            format_args!(
                "refusing a connection from {peer}: it already has maxClientCnxns={max_per_ip}"
            ),
        );
        services
            .counters
            .connections_rejected
            .fetch_add(1, Ordering::Relaxed);
        return;
    }
    let writer = tokio::spawn(writer::run(write, handle.clone()));
    let mut inbox = Inbox::new(read, services.limits.frame_bytes_max);
    // A connection closed from elsewhere (its session ended, the server stops) or aborted (its
    // client stopped reading) ends now, whatever the reader waits for.
    let outcome = tokio::select! {
        outcome = run(&mut inbox, &handle, &services) => outcome,
        () = handle.aborted() => Err(Closed::Server("outbound queue over its limit")),
        () = handle.closed() => Err(Closed::Server("closed by the server")),
    };
    if let Err(Closed::Server(reason)) = &outcome {
        tracing::debug!(connection = id, %peer, reason, "closing connection");
    }
    services.replica.with_watches(|w| w.remove_connection(id));
    services.registry.unregister(id);
    handle.close();
    // A client that does not read cannot hold the task forever by blocking the final flush.
    let mut writer = writer;
    if tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, &mut writer)
        .await
        .is_err()
    {
        handle.abort();
        let _ = writer.await;
    }
}

async fn run<R: AsyncRead + Unpin>(
    inbox: &mut Inbox<R>,
    handle: &Arc<ConnectionHandle>,
    services: &Arc<ClientServices>,
) -> Result<(), Closed> {
    // A connection that never completes its first frame (slowloris, a port scanner) holds a
    // task and a socket; ZooKeeper's NIO server closes such sessionless connections too.
    let timeout = services.limits.sessionless_timeout;
    let first = tokio::time::timeout(timeout, first_frame(inbox)).await;
    let connect = match first {
        Ok(Ok(FirstFrame::Connect(frame))) => frame,
        Ok(Ok(FirstFrame::FourLetter(word, argument))) => {
            let text =
                four_letter::answer(word, argument, &services.status, &services.four_letter).await;
            handle.send_raw(text.as_bytes());
            return Err(Closed::Server("four-letter word answered"));
        }
        Ok(Err(closed)) => return Err(closed),
        Err(_) => {
            services
                .counters
                .sessionless_expired
                .fetch_add(1, Ordering::Relaxed);
            rate_limited_log::warn(
                "sessionless_connection",
                format_args!(
                    "closing connection from {}: no handshake within {timeout:?}",
                    handle.peer
                ),
            );
            return Err(Closed::Server("no handshake in time"));
        }
    };
    handshake::run(&connect, handle, services).await?;
    let mut pipeline = pipeline::Pipeline::new(handle.clone(), services.clone());
    let mut frames_this_turn = 0usize;
    loop {
        while let Some(frame) = inbox.next_frame()? {
            backpressure::wait_writable(handle, services).await?;
            throttle::admit(handle, services).await?;
            pipeline.handle_frame(frame).await?;
            // A client with many requests buffered must not keep this worker thread from the
            // other connections (answered reads do not await): other tasks, among them the
            // steps of another session's write, wait behind every task's turn.
            frames_this_turn += 1;
            if frames_this_turn == FRAMES_PER_TURN_MAX {
                frames_this_turn = 0;
                tokio::task::yield_now().await;
            }
        }
        inbox.fill().await?;
    }
}

/// What a connection opens with.
enum FirstFrame {
    /// A four-letter word and its argument (`stmk` has one).
    FourLetter(&'static str, Option<i64>),
    Connect(bytes::Bytes),
}

async fn first_frame<R: AsyncRead + Unpin>(inbox: &mut Inbox<R>) -> Result<FirstFrame, Closed> {
    inbox.fill_to(4).await?;
    let Some(word) = four_letter::recognise(&inbox.buffer[..4]) else {
        return Ok(FirstFrame::Connect(inbox.read_frame().await?));
    };
    let argument = if word == "stmk" {
        inbox.fill_to(12).await?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&inbox.buffer[4..12]);
        Some(i64::from_be_bytes(raw))
    } else {
        None
    };
    Ok(FirstFrame::FourLetter(word, argument))
}
