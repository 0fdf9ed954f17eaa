//! Shared fixtures: a small type config, a recording handler, in-memory snapshot storage, a
//! server on 127.0.0.1:0 that each test starts and stops, raw-socket helpers for playing a
//! misbehaving peer, and log capture.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_peer::frame::{frame_bytes, read_frame};
use corral_peer::handshake::{Channel, Hello, HelloReply, ParsedReply, Verdict};
use corral_peer::{InboundHandler, PeerConfig, PeerNetwork, SnapshotIo, SnapshotSink};
use openraft::entry::RaftEntry;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::{BasicNode, RaftNetworkFactory};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const ENSEMBLE: &str = "test-ensemble";
pub const SERVER_ID: u64 = 2;
pub const CLIENT_ID: u64 = 1;

/// A log entry's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub n: u64,
    pub text: String,
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.n, self.text)
    }
}

openraft::declare_raft_types!(
    pub TestConfig:
        D = Payload,
        R = (),
);

pub type Entry = <TestConfig as openraft::RaftTypeConfig>::Entry;
pub type Vote = VoteOf<TestConfig>;
pub type Network = PeerNetwork<TestConfig, MemSnapshots>;

pub fn vote() -> Vote {
    openraft::Vote::new_committed(1, CLIENT_ID)
}

/// An AppendEntries with `count` entries whose payloads carry `text`.
pub fn append(count: u64, text: &str) -> AppendEntriesRequest<TestConfig> {
    AppendEntriesRequest {
        vote: vote(),
        prev_log_id: None,
        entries: (1..=count)
            .map(|i| {
                let log_id = openraft::testing::log_id::<TestConfig>(1, CLIENT_ID, i);
                Entry::new_normal(
                    log_id,
                    Payload {
                        n: i,
                        text: text.to_string(),
                    },
                )
            })
            .collect(),
        leader_commit: None,
    }
}

pub fn vote_request() -> VoteRequest<TestConfig> {
    VoteRequest::new(openraft::Vote::new(2, CLIENT_ID), None)
}

pub fn config(my_id: u64) -> PeerConfig {
    let mut config = PeerConfig::new(my_id, ENSEMBLE);
    config.connect_timeout = Duration::from_secs(2);
    config.handshake_timeout = Duration::from_secs(2);
    // The tests below check openraft's own budgets; the floor is tested on its own.
    config.rpc_timeout_min = Duration::ZERO;
    config
}

/// A handler that records what it is given. `hang_appends` appends never answer;
/// `fail_votes` makes votes fail, `fail_installs` snapshot installs; a stream message `b"poison"` is refused; an app request
/// `b"hang"` never answers.
#[derive(Default)]
pub struct Recorder {
    pub appends: Mutex<Vec<AppendEntriesRequest<TestConfig>>>,
    pub votes: Mutex<Vec<VoteRequest<TestConfig>>>,
    pub installed: Mutex<Vec<(SnapshotMetaOf<TestConfig>, Bytes)>>,
    pub messages: Mutex<Vec<Bytes>>,
    pub hang_appends: AtomicUsize,
    pub fail_votes: AtomicBool,
    pub fail_installs: AtomicBool,
    pub install_delay: Mutex<Duration>,
    /// Servers whose Raft connections to this one were reported closed.
    pub connections_closed: Mutex<Vec<u64>>,
}

impl InboundHandler<TestConfig> for Recorder {
    type SnapshotData = Bytes;

    async fn append_entries(
        &self,
        rpc: AppendEntriesRequest<TestConfig>,
    ) -> Result<AppendEntriesResponse<TestConfig>, String> {
        let hang = self
            .hang_appends
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if hang {
            std::future::pending::<()>().await;
        }
        self.appends.lock().push(rpc);
        Ok(AppendEntriesResponse::Success)
    }

    async fn vote(&self, rpc: VoteRequest<TestConfig>) -> Result<VoteResponse<TestConfig>, String> {
        if self.fail_votes.load(Ordering::SeqCst) {
            return Err("raft is shutting down".to_string());
        }
        let response = VoteResponse::new(rpc.vote, None, true);
        self.votes.lock().push(rpc);
        Ok(response)
    }

    async fn pre_vote(
        &self,
        rpc: VoteRequest<TestConfig>,
    ) -> Result<VoteResponse<TestConfig>, String> {
        Ok(VoteResponse::new(rpc.vote, None, false))
    }

    async fn transfer_leader(
        &self,
        _rpc: TransferLeaderRequest<TestConfig>,
    ) -> Result<TransferLeaderResponse<TestConfig>, String> {
        Ok(Ok(()))
    }

    async fn install_snapshot(
        &self,
        vote: Vote,
        snapshot: SnapshotOf<TestConfig, Bytes>,
    ) -> Result<SnapshotResponse<TestConfig>, String> {
        let delay = *self.install_delay.lock();
        tokio::time::sleep(delay).await;
        if self.fail_installs.load(Ordering::SeqCst) {
            return Err("the snapshot is inconsistent".to_string());
        }
        self.installed
            .lock()
            .push((snapshot.meta, snapshot.snapshot));
        Ok(SnapshotResponse::new(vote))
    }

    async fn app_request(&self, from: u64, body: Bytes) -> Result<Bytes, String> {
        match &body[..] {
            b"hang" => std::future::pending().await,
            b"fail" => Err("no such thing".to_string()),
            _ => Ok(Bytes::from(format!(
                "{from} said {}",
                String::from_utf8_lossy(&body)
            ))),
        }
    }

    async fn app_message(&self, _from: u64, body: Bytes) -> Result<(), String> {
        if &body[..] == b"poison" {
            return Err("poisoned message".to_string());
        }
        self.messages.lock().push(body);
        Ok(())
    }

    fn raft_connection_closed(&self, from: u64) {
        self.connections_closed.lock().push(from);
    }
}

/// What happened to one received snapshot's sink.
#[derive(Default)]
pub struct SinkRecord {
    pub chunks: AtomicUsize,
    pub bytes: AtomicUsize,
    pub finished: AtomicBool,
    pub dropped_unfinished: AtomicBool,
}

/// Snapshots in memory: the data is the snapshot's bytes.
#[derive(Default)]
pub struct MemSnapshots {
    pub sinks: Mutex<Vec<Arc<SinkRecord>>>,
    /// Each sink write sleeps this long (a slow disk).
    pub write_delay: Mutex<Duration>,
    /// Opened snapshots fail after this many bytes (a disk error mid-read).
    pub fail_reads_after: Mutex<Option<usize>>,
}

impl MemSnapshots {
    pub fn sink(&self, i: usize) -> Option<Arc<SinkRecord>> {
        self.sinks.lock().get(i).cloned()
    }
}

impl SnapshotIo<TestConfig> for MemSnapshots {
    type Data = Bytes;

    fn open(&self, data: &Bytes) -> io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        let limit = self.fail_reads_after.lock().unwrap_or(usize::MAX);
        Ok(Box::new(FailingReader {
            data: data.clone(),
            at: 0,
            fail_at: limit,
        }))
    }

    fn receive(
        &self,
        _meta: &SnapshotMetaOf<TestConfig>,
    ) -> io::Result<Box<dyn SnapshotSink<Bytes>>> {
        let record = Arc::new(SinkRecord::default());
        self.sinks.lock().push(record.clone());
        Ok(Box::new(MemSink {
            record,
            data: Vec::new(),
            delay: *self.write_delay.lock(),
            finished: false,
        }))
    }
}

struct MemSink {
    record: Arc<SinkRecord>,
    data: Vec<u8>,
    delay: Duration,
    finished: bool,
}

impl SnapshotSink<Bytes> for MemSink {
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        std::thread::sleep(self.delay);
        self.record.chunks.fetch_add(1, Ordering::SeqCst);
        self.record.bytes.fetch_add(chunk.len(), Ordering::SeqCst);
        self.data.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<Bytes> {
        self.finished = true;
        self.record.finished.store(true, Ordering::SeqCst);
        Ok(Bytes::from(std::mem::take(&mut self.data)))
    }
}

impl Drop for MemSink {
    fn drop(&mut self) {
        if !self.finished {
            self.record.dropped_unfinished.store(true, Ordering::SeqCst);
        }
    }
}

/// Reads `data`, but fails with an I/O error at byte `fail_at`.
struct FailingReader {
    data: Bytes,
    at: usize,
    fail_at: usize,
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at >= self.fail_at {
            return Poll::Ready(Err(io::Error::other("disk read error")));
        }
        let end = self
            .data
            .len()
            .min(self.fail_at)
            .min(self.at + buf.remaining());
        let at = self.at;
        buf.put_slice(&self.data[at..end]);
        self.at = end;
        Poll::Ready(Ok(()))
    }
}

/// A server on 127.0.0.1 that the test stops.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handler: Arc<Recorder>,
    pub snapshots: Arc<MemSnapshots>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(config(SERVER_ID)).await
    }

    pub async fn start_with(config: PeerConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve_on(listener, config, Default::default(), Default::default())
    }

    /// A server on `addr` (a restart), with the same handler and snapshots.
    pub async fn restart_at(
        addr: SocketAddr,
        config: PeerConfig,
        handler: Arc<Recorder>,
        snapshots: Arc<MemSnapshots>,
    ) -> TestServer {
        let listener = TcpListener::bind(addr).await.expect("rebind");
        Self::serve_on(listener, config, handler, snapshots)
    }

    fn serve_on(
        listener: TcpListener,
        config: PeerConfig,
        handler: Arc<Recorder>,
        snapshots: Arc<MemSnapshots>,
    ) -> TestServer {
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(corral_peer::serve::<TestConfig, _, _>(
            listener,
            config,
            handler.clone(),
            snapshots.clone(),
            stopped,
        ));
        TestServer {
            addr,
            handler,
            snapshots,
            stop,
            task,
        }
    }

    pub fn node(&self) -> BasicNode {
        BasicNode::new(self.addr)
    }

    /// Stops the server and waits until every task it started has ended.
    pub async fn stop(self) -> (Arc<Recorder>, Arc<MemSnapshots>) {
        self.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve stops")
            .expect("serve did not panic");
        (self.handler, self.snapshots)
    }
}

pub fn network(config: PeerConfig) -> Network {
    PeerNetwork::new(config, Arc::new(MemSnapshots::default()))
}

pub async fn client_to(
    net: &mut Network,
    target: u64,
    node: &BasicNode,
) -> corral_peer::PeerClient<TestConfig, MemSnapshots> {
    net.new_client(target, node).await
}

/// Polls `done` until it holds or `within` passes.
pub async fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

/// A raw connection that has passed the handshake as server `CLIENT_ID` on `channel`.
pub async fn raw_peer(addr: SocketAddr, channel: Channel) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let hello = Hello::new(&config(CLIENT_ID), SERVER_ID, channel);
    send_hello(&mut stream, &hello).await;
    match read_reply(&mut stream).await {
        Some(ParsedReply::Reply(HelloReply {
            verdict: Verdict::Welcome,
            ..
        })) => stream,
        other => panic!("handshake failed: {other:?}"),
    }
}

pub async fn send_hello(stream: &mut TcpStream, hello: &Hello) {
    let payload = hello.encode().expect("encodes");
    let frame = frame_bytes(&payload, 4096).expect("frames");
    stream.write_all(&frame).await.expect("write hello");
}

/// The reply to a hello, or `None` if the connection closed instead.
pub async fn read_reply(stream: &mut TcpStream) -> Option<ParsedReply> {
    let payload = read_frame(stream, 4096).await.ok()?;
    Some(HelloReply::decode(&payload).expect("a reply"))
}

/// True if the peer closes `stream` within `within` (reading and discarding anything first).
pub async fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

/// Log capture for the current thread (tests using it run on tokio's current-thread runtime,
/// so the server's and the client's tasks log here too).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }

    /// Lines at `level` containing every one of `needles`.
    pub fn lines(&self, level: &str, needles: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(level) && needles.iter().all(|n| line.contains(n)))
            .map(str::to_string)
            .collect()
    }
}

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}
