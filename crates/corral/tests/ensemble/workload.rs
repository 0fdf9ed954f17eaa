//! A recorded client workload over an ensemble, checked with `corral-history`.
//!
//! A few znodes are used as registers. Each worker is one client session doing, one at a
//! time: getData (Read), sync + getData (SyncRead), setData with version -1 (Write), setData
//! with the version it last saw (Cas; BADVERSION = Failed), and now and then a create of a
//! unique marker node (not part of the history: every acknowledged create must exist at the
//! end). Every operation goes into one [`History`] with invoke and complete times from one
//! monotonic clock; a connection loss or a timeout is an Unknown outcome.
//!
//! The client does not reconnect by itself, so a worker does: on connection loss or timeout
//! it drops the connection and re-attaches its session (id + password, with the last zxid it
//! saw) to the next server, or opens a new session if the old one expired. A *pinned* worker
//! only ever connects to its home server.
//!
//! [`Workload::finish`] stops the workers, reads every key with sync + getData on every
//! running server (recorded too, so the check covers the final state), compares the servers,
//! checks the markers and runs `check_all`; a failing history is written to the cluster's
//! directory, which is kept, and its path printed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_client::corral_proto::consts::CreateMode;
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::ErrorCode;
use corral_client::{Client, ClientError, ConnectOptions, Reply as ClientReply};
use corral_history::{
    check_all, CheckOptions, History, InitialState, OpId, Operation, Outcome, Register, Verdict,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cluster::{create_data_through, open_acl, Cluster};

/// The parent of the marker nodes.
const MARKERS: &str = "/markers";
/// The value every key starts with (version 0).
const INITIAL_VALUE: &[u8] = b"init";

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub keys: usize,
    /// One worker per entry: its home server.
    pub workers: Vec<WorkerSpec>,
    pub session_timeout_ms: i32,
    /// A request not answered within this is Unknown, and the connection is dropped.
    pub op_timeout: Duration,
    /// Bound on TCP connect plus handshake when (re)connecting.
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct WorkerSpec {
    pub home: usize,
    /// Only ever connects to `home`.
    pub pinned: bool,
}

impl Spec {
    /// `per_server` workers homed on each of the first `servers` servers.
    pub fn spread(servers: usize, per_server: usize) -> Spec {
        Spec {
            keys: 4,
            workers: (0..servers * per_server)
                .map(|i| WorkerSpec {
                    home: i % servers,
                    pinned: false,
                })
                .collect(),
            session_timeout_ms: 10_000,
            op_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_millis(1500),
        }
    }

    pub fn with_pinned(mut self, home: usize, count: usize) -> Spec {
        for _ in 0..count {
            self.workers.push(WorkerSpec { home, pinned: true });
        }
        self
    }
}

/// The history plus, per operation, the server its session was connected to.
pub struct Recorder {
    clock: Instant,
    inner: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    history: History,
    servers: Vec<usize>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            clock: Instant::now(),
            inner: Mutex::new(Recorded::default()),
        }
    }

    /// Nanoseconds on the history's clock.
    pub fn now(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn invoke(&self, session: i64, server: usize, operation: Operation) -> OpId {
        let mut inner = self.inner.lock().unwrap();
        let at = self.now();
        let id = inner.history.invoke(session as u64, operation, at);
        inner.servers.push(server);
        id
    }

    fn complete(&self, id: OpId, outcome: Outcome, zxid: Option<i64>) {
        let mut inner = self.inner.lock().unwrap();
        let at = self.now();
        let done = match zxid {
            Some(zxid) if outcome != Outcome::Unknown => {
                inner.history.complete_with_zxid(id, outcome, at, zxid)
            }
            _ => inner.history.complete(id, outcome, at),
        };
        done.expect("a well-formed history");
    }

    /// Operations matching `keep`, given each with the server it was sent to.
    pub fn count(&self, mut keep: impl FnMut(&corral_history::Op, usize) -> bool) -> usize {
        let inner = self.inner.lock().unwrap();
        inner
            .history
            .ops()
            .iter()
            .zip(&inner.servers)
            .filter(|(op, server)| keep(op, **server))
            .count()
    }

    fn history(&self) -> History {
        self.inner.lock().unwrap().history.clone()
    }
}

/// Whether `op` is a write or CAS that succeeded.
pub fn is_acked_write(op: &corral_history::Op) -> bool {
    !op.operation.is_read() && op.reply().is_some()
}

struct Shared {
    recorder: Arc<Recorder>,
    stop: AtomicBool,
    addrs: Vec<String>,
    keys: Vec<String>,
    spec: Spec,
}

#[derive(Debug, Default)]
struct WorkerReport {
    /// Why operations ended Unknown, by reason.
    unknown: BTreeMap<String, u64>,
    acked_markers: Vec<String>,
    maybe_markers: Vec<String>,
    sessions: u64,
    expired: u64,
    reconnects: u64,
}

pub struct Workload {
    shared: Arc<Shared>,
    initial: InitialState,
    workers: Vec<tokio::task::JoinHandle<WorkerReport>>,
    started: Instant,
}

impl Workload {
    /// Creates the keys and the marker parent (through `via`), then starts the workers.
    pub async fn start(cluster: &Cluster, via: usize, spec: Spec) -> Workload {
        let keys: Vec<String> = (0..spec.keys).map(|i| format!("/k{i}")).collect();
        for path in keys.iter().map(String::as_str).chain([MARKERS]) {
            create_data_through(cluster, via, path, INITIAL_VALUE, LEADER_SETTLE).await;
        }
        let initial: InitialState = keys
            .iter()
            .map(|k| (k.clone(), Register::new(INITIAL_VALUE, 0)))
            .collect();
        let shared = Arc::new(Shared {
            recorder: Arc::new(Recorder::new()),
            stop: AtomicBool::new(false),
            addrs: cluster.addrs(),
            keys,
            spec: spec.clone(),
        });
        let seed: u64 = rand::random();
        println!("workload: {} workers, seed {seed}", spec.workers.len());
        let workers = spec
            .workers
            .iter()
            .enumerate()
            .map(|(index, worker)| {
                let w = Worker::new(
                    index,
                    *worker,
                    shared.clone(),
                    seed.wrapping_add(index as u64),
                );
                tokio::spawn(w.run())
            })
            .collect();
        Workload {
            shared,
            initial,
            workers,
            started: Instant::now(),
        }
    }

    pub fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }

    /// Now, on the history's clock.
    pub fn now(&self) -> u64 {
        self.shared.recorder.now()
    }

    /// Successful writes and CASes completed after `since` (history clock), on any server
    /// but `except`.
    pub fn acked_writes_since(&self, since: u64, except: Option<usize>) -> usize {
        self.recorder().count(|op, server| {
            is_acked_write(op)
                && Some(server) != except
                && op.completion.as_ref().is_some_and(|c| c.at > since)
        })
    }

    /// Waits until at least `n` writes were acknowledged after `since` (on any server but
    /// `except`), failing after `within`.
    pub async fn wait_for_acked_writes(
        &self,
        since: u64,
        except: Option<usize>,
        n: usize,
        within: Duration,
        cluster: &Cluster,
    ) {
        let started = Instant::now();
        while self.acked_writes_since(since, except) < n {
            assert!(
                started.elapsed() < within,
                "fewer than {n} writes acknowledged within {within:?}\n{}",
                cluster.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One phase of a test: waits until [`PROGRESS_WRITES`] writes were acknowledged after
    /// `since` (on any server but `except`) and at least `min` has passed since the call.
    pub async fn progress(
        &self,
        cluster: &Cluster,
        since: u64,
        except: Option<usize>,
        min: Duration,
    ) {
        let started = Instant::now();
        self.wait_for_acked_writes(since, except, PROGRESS_WRITES, PROGRESS_WAIT, cluster)
            .await;
        tokio::time::sleep(min.saturating_sub(started.elapsed())).await;
    }

    /// Stops the workers, reads the final state on every running server, and checks
    /// everything (see the module documentation). Panics on a violation.
    pub async fn finish(self, cluster: &mut Cluster) {
        let ran = self.started.elapsed();
        self.shared.stop.store(true, Ordering::Relaxed);
        let mut acked = BTreeSet::new();
        let mut maybe = BTreeSet::new();
        let mut totals = WorkerReport::default();
        for worker in self.workers {
            let report = worker.await.expect("worker panicked");
            acked.extend(report.acked_markers);
            maybe.extend(report.maybe_markers);
            totals.sessions += report.sessions;
            totals.expired += report.expired;
            totals.reconnects += report.reconnects;
            for (reason, n) in report.unknown {
                *totals.unknown.entry(reason).or_default() += n;
            }
        }
        let recorder = self.shared.recorder.clone();
        let running: Vec<usize> = (0..cluster.len())
            .filter(|&i| cluster.is_running(i))
            .collect();
        // A write that timed out may still commit after the workers stopped: if the servers
        // disagree, read them all again (every read is in the history).
        let mut finals: BTreeMap<usize, FinalState> = BTreeMap::new();
        for round in 1..=FINAL_READ_ROUNDS {
            for &i in &running {
                finals.insert(i, final_state(&self.shared, cluster, i).await);
            }
            let mut states = finals.values();
            let first = states.next().expect("a server runs");
            if states.all(|state| state == first) {
                break;
            }
            println!("final reads, round {round}: the servers disagree; reading again");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let history = recorder.history();
        let mut problems = String::new();
        let (first, (first_values, first_markers)) = finals.iter().next().expect("a server");
        for (i, (values, markers)) in &finals {
            if values != first_values {
                let _ = writeln!(
                    problems,
                    "server {} and server {} disagree after sync: {:?} vs {:?}",
                    first + 1,
                    i + 1,
                    printable(first_values),
                    printable(values)
                );
            }
            if markers != first_markers {
                let _ = writeln!(
                    problems,
                    "server {} and server {} have different markers",
                    first + 1,
                    i + 1
                );
            }
        }
        let lost: Vec<&String> = acked.difference(first_markers).collect();
        if !lost.is_empty() {
            let _ = writeln!(problems, "acknowledged creates lost: {lost:?}");
        }
        let invented: Vec<&String> = first_markers
            .iter()
            .filter(|m| !acked.contains(*m) && !maybe.contains(*m))
            .collect();
        if !invented.is_empty() {
            let _ = writeln!(problems, "markers nobody created: {invented:?}");
        }
        let checking = Instant::now();
        let verdict = check_all(&history, &self.initial, &CheckOptions::default());
        let outcomes = summary(&history);
        println!(
            "workload: ran {ran:?}, {} ops ({outcomes}), {} markers acknowledged, {} sessions \
             ({} expired), {} reconnects; check {verdict} in {:?}",
            history.len(),
            acked.len(),
            totals.sessions,
            totals.expired,
            totals.reconnects,
            checking.elapsed()
        );
        if !totals.unknown.is_empty() {
            println!("workload: unknown outcomes by reason: {:?}", totals.unknown);
        }
        if !matches!(verdict, Verdict::Ok) {
            let _ = writeln!(problems, "history check: {verdict}");
        }
        if !problems.is_empty() {
            let path = cluster.root().join("history.txt");
            std::fs::write(&path, history.to_text(&self.initial)).expect("write the history");
            let logs = cluster.logs_tail(60);
            let kept = cluster.keep_root();
            panic!(
                "{problems}\nhistory: {} (directory {} kept)\n{logs}",
                kept.join("history.txt").display(),
                kept.display()
            );
        }
    }
}

/// Writes a phase wants acknowledged, and how long it may take.
pub const PROGRESS_WRITES: usize = 20;
pub const PROGRESS_WAIT: Duration = Duration::from_secs(20);

/// How many times the final state is read while the servers disagree.
const FINAL_READ_ROUNDS: usize = 3;

/// How long a setup or final-read connection may wait for the ensemble to serve.
const LEADER_SETTLE: Duration = Duration::from_secs(30);

fn summary(history: &History) -> String {
    let (mut ok, mut failed, mut unknown) = (0, 0, 0);
    for op in history.ops() {
        match op.completion.as_ref().map(|c| &c.outcome) {
            Some(Outcome::Ok(_)) => ok += 1,
            Some(Outcome::Failed) => failed += 1,
            Some(Outcome::Unknown) | None => unknown += 1,
        }
    }
    format!("{ok} ok, {failed} failed, {unknown} unknown")
}

fn printable(values: &[(Vec<u8>, i32)]) -> Vec<(String, i32)> {
    values
        .iter()
        .map(|(v, version)| (String::from_utf8_lossy(v).into_owned(), *version))
        .collect()
}

fn options(timeout_ms: i32) -> ConnectOptions {
    ConnectOptions {
        timeout_ms,
        ..ConnectOptions::default()
    }
}

/// What one server holds at the end: every key's (value, version), and the markers.
type FinalState = (Vec<(Vec<u8>, i32)>, BTreeSet<String>);

/// Every key (sync + getData, recorded) and the markers on server `i`, retrying with a new
/// session if the connection is lost meanwhile.
async fn final_state(shared: &Shared, cluster: &Cluster, i: usize) -> FinalState {
    let started = Instant::now();
    'attempt: loop {
        assert!(
            started.elapsed() < LEADER_SETTLE,
            "server {} never answered the final reads\n{}",
            i + 1,
            cluster.logs()
        );
        let client = match Client::connect(&cluster.addr(i), options(30_000)).await {
            Ok(client) => client,
            Err(e) => {
                println!("final reads: cannot connect to server {}: {e}", i + 1);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue 'attempt;
            }
        };
        let mut values = Vec::new();
        for key in &shared.keys {
            let operation = Operation::SyncRead { key: key.clone() };
            match execute(shared, &client, i, &operation).await {
                Ok(Some((Outcome::Ok(corral_history::Reply::Data { value, version }), _))) => {
                    values.push((value, version))
                }
                other => {
                    println!("final read of {key} on server {}: {other:?}", i + 1);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'attempt;
                }
            }
        }
        let markers = async {
            let sync = client.sync(MARKERS).await.ok()?;
            if sync.code() != ErrorCode::Ok {
                return None;
            }
            match client.get_children(MARKERS, false).await.ok()?.result {
                Ok(Response::GetChildren { children }) => Some(children),
                _ => None,
            }
        };
        let Some(markers) = markers.await else {
            continue 'attempt;
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
        return (values, markers.into_iter().collect());
    }
}

/// Runs `operation` on `client` and records it. `Ok(None)` when it timed out; `Err` on a
/// connection failure (both recorded as Unknown).
async fn execute(
    shared: &Shared,
    client: &Client,
    server: usize,
    operation: &Operation,
) -> Result<Option<(Outcome, Option<i64>)>, ClientError> {
    let recorder = &shared.recorder;
    let id = recorder.invoke(client.session_id(), server, operation.clone());
    let result = tokio::time::timeout(shared.spec.op_timeout, send(client, operation)).await;
    match result {
        Ok(Ok((outcome, zxid))) => {
            recorder.complete(id, outcome.clone(), zxid);
            Ok(Some((outcome, zxid)))
        }
        Ok(Err(e)) => {
            recorder.complete(id, Outcome::Unknown, None);
            Err(e)
        }
        Err(_) => {
            recorder.complete(id, Outcome::Unknown, None);
            Ok(None)
        }
    }
}

/// An error code that means the operation did not take effect; any other is Unknown.
fn error_outcome(code: ErrorCode) -> Outcome {
    match code {
        ErrorCode::BadVersion | ErrorCode::NoNode => Outcome::Failed,
        other => {
            println!("workload: error code {other:?} (outcome unknown)");
            Outcome::Unknown
        }
    }
}

fn read_outcome(reply: &ClientReply) -> Outcome {
    match &reply.result {
        Ok(Response::GetData { data, stat }) => Outcome::data(
            data.as_ref().map(|d| d.to_vec()).unwrap_or_default(),
            stat.version,
        ),
        Ok(other) => panic!("getData answered {other:?}"),
        Err(code) => error_outcome(*code),
    }
}

fn write_outcome(reply: &ClientReply) -> Outcome {
    match &reply.result {
        Ok(Response::Stat(stat)) => Outcome::written(stat.version),
        Ok(other) => panic!("setData answered {other:?}"),
        Err(code) => error_outcome(*code),
    }
}

async fn send(
    client: &Client,
    operation: &Operation,
) -> Result<(Outcome, Option<i64>), ClientError> {
    let reply = match operation {
        Operation::Read { key } => {
            let reply = client.get_data(key, false).await?;
            (read_outcome(&reply), reply.zxid)
        }
        Operation::SyncRead { key } => {
            let sync = client.sync(key).await?;
            if sync.code() != ErrorCode::Ok {
                return Ok((error_outcome(sync.code()), Some(sync.zxid)));
            }
            let reply = client.get_data(key, false).await?;
            (read_outcome(&reply), reply.zxid)
        }
        Operation::Write { key, value } => {
            let reply = client.set_data(key, value, -1).await?;
            (write_outcome(&reply), reply.zxid)
        }
        Operation::Cas {
            key,
            expected_version,
            value,
        } => {
            let reply = client.set_data(key, value, *expected_version).await?;
            (write_outcome(&reply), reply.zxid)
        }
    };
    Ok((reply.0, Some(reply.1)))
}

struct Conn {
    client: Client,
    server: usize,
}

struct Worker {
    index: usize,
    spec: WorkerSpec,
    shared: Arc<Shared>,
    rng: StdRng,
    conn: Option<Conn>,
    /// The session to re-attach to (id, password).
    session: Option<(i64, Bytes)>,
    last_zxid: i64,
    /// Where the next connection attempt starts.
    next_server: usize,
    /// The version last seen per key (for CAS).
    versions: HashMap<String, i32>,
    writes: u64,
    report: WorkerReport,
}

impl Worker {
    fn new(index: usize, spec: WorkerSpec, shared: Arc<Shared>, seed: u64) -> Worker {
        Worker {
            index,
            spec,
            shared,
            rng: StdRng::seed_from_u64(seed),
            conn: None,
            session: None,
            last_zxid: 0,
            next_server: spec.home,
            versions: HashMap::new(),
            writes: 0,
            report: WorkerReport::default(),
        }
    }

    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    async fn run(mut self) -> WorkerReport {
        while !self.stopped() {
            if !self.ensure_connected().await {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            self.step().await;
            let pause = self.rng.gen_range(2..10);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.client.close()).await;
        }
        self.report
    }

    /// Drops the connection (not the session); the next attempt starts at the next server.
    fn disconnect(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.last_zxid = self.last_zxid.max(conn.client.last_zxid());
            self.next_server = (conn.server + 1) % self.shared.addrs.len();
            conn.client.disconnect();
        }
    }

    async fn ensure_connected(&mut self) -> bool {
        if let Some(conn) = &self.conn {
            if conn.client.close_reason().is_none() {
                return true;
            }
            self.disconnect();
        }
        let n = self.shared.addrs.len();
        let candidates: Vec<usize> = if self.spec.pinned {
            vec![self.spec.home]
        } else {
            (0..n).map(|k| (self.next_server + k) % n).collect()
        };
        for server in candidates {
            if self.stopped() {
                return false;
            }
            let (session_id, password) = match &self.session {
                Some((id, password)) => (*id, Some(password.clone())),
                None => (0, None),
            };
            let options = ConnectOptions {
                timeout_ms: self.shared.spec.session_timeout_ms,
                session_id,
                password,
                last_zxid_seen: self.last_zxid,
                connect_timeout_ms: self.shared.spec.connect_timeout.as_millis() as u64,
                ..ConnectOptions::default()
            };
            match Client::connect(&self.shared.addrs[server], options).await {
                Ok(client) => {
                    if session_id == 0 {
                        self.session = Some((client.session_id(), client.password()));
                        self.report.sessions += 1;
                    } else {
                        self.report.reconnects += 1;
                    }
                    self.next_server = server;
                    self.conn = Some(Conn { client, server });
                    return true;
                }
                Err(ClientError::SessionExpired { .. }) => {
                    // The next attempt opens a new session (a new session in the history).
                    self.session = None;
                    self.report.expired += 1;
                }
                Err(_) => {}
            }
        }
        false
    }

    async fn step(&mut self) {
        let Some(conn) = &self.conn else { return };
        let client = conn.client.clone();
        let server = conn.server;
        let key = self.shared.keys[self.rng.gen_range(0..self.shared.keys.len())].clone();
        let roll = self.rng.gen_range(0..100);
        if roll < 5 {
            return self.create_marker(&client).await;
        }
        let operation = if roll < 40 {
            Operation::Read { key: key.clone() }
        } else if roll < 60 {
            Operation::SyncRead { key: key.clone() }
        } else {
            self.writes += 1;
            let value = format!("w{}-{}", self.index, self.writes).into_bytes();
            if roll < 80 {
                Operation::Write {
                    key: key.clone(),
                    value,
                }
            } else {
                Operation::Cas {
                    key: key.clone(),
                    expected_version: self.versions.get(&key).copied().unwrap_or(0),
                    value,
                }
            }
        };
        let reason = match execute(&self.shared, &client, server, &operation).await {
            Ok(Some((Outcome::Ok(reply), _))) => {
                let version = match reply {
                    corral_history::Reply::Data { version, .. }
                    | corral_history::Reply::Written { version } => version,
                };
                self.versions.insert(key, version);
                return;
            }
            Ok(Some((Outcome::Unknown, _))) => "error code".to_string(),
            Ok(Some((Outcome::Failed, _))) => return,
            Ok(None) => {
                self.disconnect();
                "timeout".to_string()
            }
            Err(e) => {
                self.disconnect();
                e.to_string()
            }
        };
        *self.report.unknown.entry(reason).or_default() += 1;
    }

    async fn create_marker(&mut self, client: &Client) {
        self.writes += 1;
        let path = format!("{MARKERS}/w{}-{}", self.index, self.writes);
        let created = tokio::time::timeout(
            self.shared.spec.op_timeout,
            client.create(&path, b"", open_acl(), CreateMode::Persistent),
        )
        .await;
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        match created {
            Ok(Ok(reply)) if reply.code() == ErrorCode::Ok => self.report.acked_markers.push(name),
            Ok(Ok(reply)) => {
                // An error code: did it take effect? Only NODEEXISTS would say so, and the
                // name is unique; count it as maybe.
                println!("marker {path}: {:?}", reply.code());
                self.report.maybe_markers.push(name);
            }
            Ok(Err(_)) | Err(_) => {
                self.report.maybe_markers.push(name);
                self.disconnect();
            }
        }
    }
}
