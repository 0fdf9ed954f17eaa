//! The transport's settings and every limit it enforces, in one place, so that each bound on
//! memory, time or connections has a name (ARCHITECTURE.md, invariant 6).

use std::time::Duration;

/// Largest frame either side sends or accepts. It must hold one AppendEntries batch; a batch
/// that encodes larger is split by the sender (see `client.rs`), so this is a memory bound,
/// not a limit on the log.
pub const FRAME_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;
/// How long a TCP connect may take before the peer counts as unreachable.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(3);
/// How long either side waits for the other's half of the handshake.
pub const HANDSHAKE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// Bytes of snapshot per chunk frame.
pub const SNAPSHOT_CHUNK_BYTES_DEFAULT: usize = 1024 * 1024;
/// A snapshot transfer fails when no chunk (or keep-alive) moves for this long; there is no
/// limit on the whole transfer, so a multi-gigabyte snapshot installs on a slow link.
pub const SNAPSHOT_IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Messages an ordered stream queues before `send` waits.
pub const STREAM_QUEUE_MAX_DEFAULT: usize = 4096;
/// An ordered stream whose queued bytes cannot be written for this long is broken.
pub const STREAM_IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// Largest hello or hello reply: far above any real one (an ensemble id and a few integers),
/// small enough that a stranger cannot make the server buffer much before it is refused.
pub const HELLO_BYTES_MAX: usize = 4096;
/// Inbound connections served at once; one more is closed at accept, with a warning.
pub const INBOUND_CONNECTIONS_MAX: usize = 1024;
/// Idle Raft connections kept per peer for the next client `openraft` creates (it creates one
/// per election per voter).
pub const IDLE_CONNECTIONS_PER_PEER_MAX: usize = 4;
/// Concurrent app requests per link; each one holds a connection for its round trip, so this
/// bounds the connections a burst of requests opens. Later requests wait (within their timeout).
pub const APP_REQUEST_CONNECTIONS_MAX: usize = 8;
/// Bytes of queued stream messages written to the socket in one go.
pub const STREAM_WRITE_BATCH_BYTES_MAX: usize = 64 * 1024;
/// TCP keep-alive on every peer socket: a peer that vanished without a FIN or RST (power
/// loss, a partition) is noticed by the kernel, so a half-open connection does not hold an
/// inbound slot or sit in a pool forever.
pub const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Interval between keep-alive probes once the connection is idle.
pub const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Room left in a frame beside a snapshot chunk's bytes (enum tag and length prefix).
pub const SNAPSHOT_CHUNK_OVERHEAD_BYTES: usize = 16;
/// An AppendEntries carries entries up to about this many bytes (fewer entries, answered
/// `PartialSuccess`, when openraft hands more); one larger entry still goes alone. Why: a
/// follower appends and fsyncs a whole RPC before answering, and a batch of hundreds of
/// megabytes (openraft sends up to `max_payload_entries` entries of any size) would outlast
/// any reasonable RPC timeout.
pub const APPEND_BYTES_TARGET_DEFAULT: usize = 4 * 1024 * 1024;
/// AppendEntries a pipeline (`Channel::RaftAppend`) keeps unanswered at most. Pipelining is
/// what lets a follower hear of a commit while the next batch is still being flushed (a
/// client on a follower is answered one replication round sooner), and lets the next batch
/// leave before the previous one is answered.
pub const APPEND_INFLIGHT_MAX_DEFAULT: usize = 8;
/// Encoded bytes of unanswered AppendEntries a pipeline keeps at most (one request is always
/// allowed): the memory the receiver may hold for one leader.
pub const APPEND_INFLIGHT_BYTES_MAX_DEFAULT: usize = 16 * 1024 * 1024;
/// The least time an RPC is given, whatever openraft's budget (`soft_ttl`, 3/4 of the
/// heartbeat interval, a few hundred milliseconds): a busy follower's fsync or a loaded
/// machine's scheduling can take longer, and a timed-out RPC costs a reconnection and a
/// backoff (elections, at worst) for no gain.
pub const RPC_TIMEOUT_MIN_DEFAULT: Duration = Duration::from_secs(1);

/// Settings of one server's side of the transport. Both the outbound side ([`crate::PeerNetwork`])
/// and the inbound side ([`crate::serve`]) take one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// This server's id (ZooKeeper's `myid`): sent in every hello, and every inbound hello
    /// must name it as its target.
    pub my_id: u64,
    /// Servers of different ensembles refuse each other, so a misconfigured address never
    /// joins two clusters.
    pub ensemble_id: String,
    /// [`FRAME_BYTES_MAX_DEFAULT`]; both sides of a connection should agree.
    pub frame_bytes_max: usize,
    /// [`CONNECT_TIMEOUT_DEFAULT`].
    pub connect_timeout: Duration,
    /// [`HANDSHAKE_TIMEOUT_DEFAULT`]; also how long a silent inbound connection lives.
    pub handshake_timeout: Duration,
    /// [`SNAPSHOT_CHUNK_BYTES_DEFAULT`]; openraft's `snapshot_max_chunk_size` is not used.
    pub snapshot_chunk_bytes: usize,
    /// [`SNAPSHOT_IDLE_TIMEOUT_DEFAULT`]; openraft's `install_snapshot_timeout` is not used.
    pub snapshot_idle_timeout: Duration,
    /// [`STREAM_QUEUE_MAX_DEFAULT`], in messages.
    pub stream_queue_max: usize,
    /// [`STREAM_IDLE_TIMEOUT_DEFAULT`].
    pub stream_idle_timeout: Duration,
    /// [`APPEND_BYTES_TARGET_DEFAULT`].
    pub append_bytes_target: usize,
    /// [`RPC_TIMEOUT_MIN_DEFAULT`].
    pub rpc_timeout_min: Duration,
    /// [`APPEND_INFLIGHT_MAX_DEFAULT`]; 0 turns pipelining off (one AppendEntries at a
    /// time, each answered before the next is sent, on the `Raft` channel).
    pub append_inflight_max: usize,
    /// [`APPEND_INFLIGHT_BYTES_MAX_DEFAULT`].
    pub append_inflight_bytes_max: usize,
}

impl PeerConfig {
    /// The defaults above, for server `my_id` of ensemble `ensemble_id`.
    pub fn new(my_id: u64, ensemble_id: impl Into<String>) -> Self {
        PeerConfig {
            my_id,
            ensemble_id: ensemble_id.into(),
            frame_bytes_max: FRAME_BYTES_MAX_DEFAULT,
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            handshake_timeout: HANDSHAKE_TIMEOUT_DEFAULT,
            snapshot_chunk_bytes: SNAPSHOT_CHUNK_BYTES_DEFAULT,
            snapshot_idle_timeout: SNAPSHOT_IDLE_TIMEOUT_DEFAULT,
            stream_queue_max: STREAM_QUEUE_MAX_DEFAULT,
            stream_idle_timeout: STREAM_IDLE_TIMEOUT_DEFAULT,
            append_bytes_target: APPEND_BYTES_TARGET_DEFAULT,
            rpc_timeout_min: RPC_TIMEOUT_MIN_DEFAULT,
            append_inflight_max: APPEND_INFLIGHT_MAX_DEFAULT,
            append_inflight_bytes_max: APPEND_INFLIGHT_BYTES_MAX_DEFAULT,
        }
    }

    /// Chunk size actually used: never so large that a chunk frame would exceed
    /// `frame_bytes_max` (the receiver would drop the connection), never zero.
    pub(crate) fn chunk_bytes(&self) -> usize {
        let room = self
            .frame_bytes_max
            .saturating_sub(SNAPSHOT_CHUNK_OVERHEAD_BYTES);
        self.snapshot_chunk_bytes.min(room).max(1)
    }

    /// Queue length actually used: a zero-length tokio channel would panic.
    pub(crate) fn queue_len(&self) -> usize {
        self.stream_queue_max.max(1)
    }

    /// Interval of the receiver's keep-alives while it finishes and installs a snapshot: well
    /// inside the sender's idle timeout.
    pub(crate) fn keepalive_interval(&self) -> Duration {
        (self.snapshot_idle_timeout / 4).max(Duration::from_millis(1))
    }
}
