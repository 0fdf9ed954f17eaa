//! The load of one cycle: several sessions, each with several writes in flight, until the
//! server is killed under them.
//!
//! Every worker draws its ops from its own seeded generator (seed, cycle, worker), so a seed
//! replays the same op sequences and kill delay; the interleaving of replies is the OS's.
//! A reply received means the server applied (so committed, so fsync'd) the write: it is
//! *acknowledged*. A request whose connection died first is *in doubt*: it may or may not
//! survive, and the check after the restart decides which, and that it is all or nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use corral_client::ops::multi_op;
use corral_client::{Client, ClientError, Reply};
use corral_proto::consts::{perms, CreateMode};
use corral_proto::Acl;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use crate::model::{key_path, Key, Op, MULTI_DIR, PLAIN_DIR, SEQ_PREFIX};
use crate::support::{self, Node};

/// Longest wait for the next reply once the killed server has been reaped (its dead
/// connections fail every request at once; this only bounds a hang). Before that no limit
/// applies: SIGKILL takes effect only when the process leaves an uninterruptible sleep, and
/// an fsync on a disk loaded by other work has kept a server alive, silent, for over 20 s.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Resolves `DRAIN_TIMEOUT` after the server is known dead (never before).
async fn drain_deadline(server_dead: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which happens only after the kill as well.
    let _ = server_dead.wait_for(|dead| *dead).await;
    tokio::time::sleep(DRAIN_TIMEOUT).await;
}

/// How one crash test drives and configures its server.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Test name (for seeds and messages).
    pub name: &'static str,
    /// Kill/restart cycles.
    pub cycles: u64,
    /// Concurrent sessions.
    pub workers: usize,
    /// Counter keys per worker.
    pub keys_per_worker: usize,
    /// Writes in flight per session.
    pub depth: usize,
    /// Data length of created nodes, inclusive range.
    pub data_bytes: (usize, usize),
    /// The kill comes this many ms after the load starts, inclusive range.
    pub kill_after_ms: (u64, u64),
    /// Writes one worker sends per cycle at most (bounds the tree if a kill is late).
    pub ops_per_worker_max: usize,
    /// Read back every node's data every this many cycles (and after the last).
    pub full_check_every: u64,
    /// zoo.cfg keys.
    pub cfg: Vec<(&'static str, &'static str)>,
    /// In about half the cycles, instead of after a random delay, kill as soon as a
    /// temporary file (`*.tmp`: a snapshot being written, a segment being created, the raft
    /// state being replaced) shows up in this directory (or at twice the end of the delay
    /// range if none does).
    pub kill_on_tmp_in: Option<TmpIn>,
    /// zoo.cfg's dataLogDir is a directory of its own (not the dataDir).
    pub separate_log_dir: bool,
    /// Percentage of cycles that also simulate a power loss eating the end of the last log
    /// record, when that record was never acknowledged (see `tear`).
    pub tear_percent: u32,
    /// Percentage of cycles whose restart is first attempted and killed during start-up
    /// (at a random point of its first 300 ms); the directory's first start is always.
    pub startup_kill_percent: u32,
}

/// Where a targeted kill watches for temporary files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmpIn {
    /// `dataDir/corral-snapshots`.
    Snapshots,
    /// `dataLogDir/corral-log`.
    Log,
}

/// When the kill comes.
#[derive(Debug, Clone, Copy)]
pub enum KillAt {
    /// This long after the load starts.
    After(Duration),
    /// As soon as a `*.tmp` file appears in `dir`, or at `deadline`.
    OnTmpFile { dir: TmpIn, deadline: Duration },
}

/// How often the targeted kill looks for a temporary file.
const TMP_POLL_INTERVAL: Duration = Duration::from_micros(250);

fn has_tmp(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        })
        .unwrap_or(false)
}

impl Profile {
    /// Total counter keys.
    pub fn key_count(&self) -> usize {
        self.workers * self.keys_per_worker
    }
}

/// What one worker saw, or the cycle's workers together.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Writes with their replies.
    pub acked: Vec<(Op, Reply)>,
    /// Writes without a reply.
    pub in_doubt: Vec<Op>,
    /// The workers' keys, updated by acknowledged sets.
    pub keys: Vec<Key>,
    /// Wrong replies (an error code, a wrong version, ...).
    pub violations: Vec<String>,
}

impl Outcome {
    fn absorb(&mut self, other: Outcome) {
        self.acked.extend(other.acked);
        self.in_doubt.extend(other.in_doubt);
        self.keys.extend(other.keys);
        self.violations.extend(other.violations);
    }
}

/// Deterministic generator of one worker's ops.
struct Plan {
    rng: StdRng,
    cycle: u64,
    worker: usize,
    n: u64,
    data_bytes: (usize, usize),
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

impl Plan {
    fn payload(&mut self, tag: &str) -> Vec<u8> {
        let len = self.rng.gen_range(self.data_bytes.0..=self.data_bytes.1);
        let mut data = format!("{tag} c{} w{} n{} ", self.cycle, self.worker, self.n).into_bytes();
        while data.len() < len {
            data.push(self.rng.gen_range(b'a'..=b'z'));
        }
        data
    }

    /// The next op; `free_keys` are this worker's keys with no set in flight.
    fn next(&mut self, free_keys: &[&Key]) -> Op {
        self.n += 1;
        // Mostly sets (they do not grow the tree), then creates of the three kinds.
        let roll = self.rng.gen_range(0..100);
        if roll < 60 && !free_keys.is_empty() {
            let key = free_keys[self.rng.gen_range(0..free_keys.len())];
            let mut data = format!(
                "k{} v{} c{} w{} ",
                key.index,
                key.version + 1,
                self.cycle,
                self.worker
            )
            .into_bytes();
            let pad = self.rng.gen_range(0..32);
            data.extend((0..pad).map(|_| b'.'));
            return Op::Set {
                key: key.index,
                expected: key.version,
                data,
            };
        }
        if roll >= 87 {
            let count = self.rng.gen_range(2..=3);
            let nodes = (0..count)
                .map(|j| {
                    let path = format!(
                        "{MULTI_DIR}/c{}-w{}-{}-{j}",
                        self.cycle, self.worker, self.n
                    );
                    (path, self.payload("multi"))
                })
                .collect();
            return Op::Multi { nodes };
        }
        if (75..87).contains(&roll) {
            return Op::Seq {
                data: self.payload("seq"),
            };
        }
        Op::Plain {
            path: format!("{PLAIN_DIR}/c{}-w{}-{}", self.cycle, self.worker, self.n),
            data: self.payload("plain"),
        }
    }
}

async fn send(client: Client, op: Op) -> (Op, Result<Reply, ClientError>) {
    let result = match &op {
        Op::Plain { path, data } => {
            client
                .create(path, data, open_acl(), CreateMode::Persistent)
                .await
        }
        Op::Seq { data } => {
            client
                .create(
                    SEQ_PREFIX,
                    data,
                    open_acl(),
                    CreateMode::PersistentSequential,
                )
                .await
        }
        Op::Set {
            key,
            expected,
            data,
        } => client.set_data(&key_path(*key), data, *expected).await,
        Op::Multi { nodes } => {
            let ops = nodes
                .iter()
                .map(|(path, data)| {
                    multi_op::create(path, data, open_acl(), CreateMode::Persistent)
                })
                .collect();
            client.multi(ops).await
        }
    };
    (op, result)
}

/// One worker: keeps `depth` writes in flight until the connection dies, then collects the
/// replies that still arrive and the ops left in doubt.
async fn worker(
    addr: String,
    profile: Profile,
    seed: u64,
    cycle: u64,
    index: usize,
    mut keys: Vec<Key>,
    mut server_dead: watch::Receiver<bool>,
) -> Outcome {
    let mut plan = Plan {
        rng: StdRng::seed_from_u64(
            seed ^ cycle.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ (index as u64).wrapping_mul(0xff51_afd7_ed55_8ccd),
        ),
        cycle,
        worker: index,
        n: 0,
        data_bytes: profile.data_bytes,
    };
    let mut out = Outcome::default();
    let client = match support::connect(&addr).await {
        Ok(client) => client,
        Err(_) => {
            // The kill came before the session existed: nothing was sent.
            out.keys = keys;
            return out;
        }
    };
    let mut in_flight = FuturesUnordered::new();
    let mut busy: BTreeSet<usize> = BTreeSet::new();
    let mut sent = 0;
    let mut dead = false;
    loop {
        while !dead && in_flight.len() < profile.depth && sent < profile.ops_per_worker_max {
            let free: Vec<&Key> = keys.iter().filter(|k| !busy.contains(&k.index)).collect();
            let op = plan.next(&free);
            if let Op::Set { key, .. } = &op {
                busy.insert(*key);
            }
            sent += 1;
            in_flight.push(send(client.clone(), op));
        }
        let next = tokio::select! {
            next = in_flight.next() => match next {
                Some(next) => next,
                None => break,
            },
            () = drain_deadline(&mut server_dead) => {
                out.violations.push(format!(
                    "worker {index}: no reply and no connection error within {DRAIN_TIMEOUT:?} \
                     of the server's death ({} requests in flight)",
                    in_flight.len()
                ));
                break;
            }
        };
        match next {
            (op, Ok(reply)) => {
                if let Op::Set {
                    key,
                    expected,
                    data,
                } = &op
                {
                    busy.remove(key);
                    match reply.stat() {
                        Some(stat) if reply.code() == corral_proto::ErrorCode::Ok => {
                            if stat.version != expected + 1 {
                                out.violations.push(format!(
                                    "setData {} with version {expected} acknowledged with \
                                     version {} (expected {})",
                                    key_path(*key),
                                    stat.version,
                                    expected + 1
                                ));
                            }
                            if let Some(k) = keys.iter_mut().find(|k| k.index == *key) {
                                k.version = stat.version;
                                k.data = data.clone();
                            }
                        }
                        _ => out.violations.push(format!(
                            "setData {} with version {expected} (the last acknowledged) \
                             failed: {:?} — an acknowledged set was lost or a phantom one applied",
                            key_path(*key),
                            reply.result
                        )),
                    }
                }
                out.acked.push((op, reply));
            }
            (op, Err(_)) => {
                // The connection is gone (the kill): this op and every later one are in doubt.
                dead = true;
                out.in_doubt.push(op);
            }
        }
        if in_flight.is_empty() && (dead || sent >= profile.ops_per_worker_max) {
            break;
        }
    }
    drop(client);
    out.keys = keys;
    out
}

/// Runs the workers against the running server, kills it `kill_after` into the load, and
/// gathers what every worker saw. The server is dead when this returns.
pub async fn load_and_kill(
    node: &mut Node,
    profile: &Profile,
    seed: u64,
    cycle: u64,
    kill_at: KillAt,
    keys: &[Key],
) -> Outcome {
    let addr = node.addr();
    let (dead_tx, dead_rx) = watch::channel(false);
    let mut handles = Vec::new();
    for w in 0..profile.workers {
        let mine: Vec<Key> = keys
            .iter()
            .filter(|k| k.index % profile.workers == w)
            .cloned()
            .collect();
        handles.push(tokio::spawn(worker(
            addr.clone(),
            profile.clone(),
            seed,
            cycle,
            w,
            mine,
            dead_rx.clone(),
        )));
    }
    match kill_at {
        KillAt::After(delay) => {
            tokio::time::sleep(delay).await;
            tokio::task::block_in_place(|| node.kill());
        }
        KillAt::OnTmpFile { dir, deadline } => {
            // Polls on this (blocked) worker thread; the load runs on the other one.
            let watched = match dir {
                TmpIn::Snapshots => node.data_dir().join("corral-snapshots"),
                TmpIn::Log => node.log_dir().join("corral-log"),
            };
            tokio::task::block_in_place(|| {
                let start = std::time::Instant::now();
                while start.elapsed() < deadline && !has_tmp(&watched) {
                    std::thread::sleep(TMP_POLL_INTERVAL);
                }
                node.kill();
            });
        }
    }
    // `kill` returns once the process is reaped: its sockets are closed now.
    dead_tx.send_replace(true);
    let mut outcome = Outcome::default();
    for (w, handle) in handles.into_iter().enumerate() {
        match tokio::time::timeout(DRAIN_TIMEOUT * 2, handle).await {
            Ok(Ok(worker)) => outcome.absorb(worker),
            Ok(Err(e)) => outcome.violations.push(format!("worker {w} panicked: {e}")),
            Err(_) => outcome
                .violations
                .push(format!("worker {w} did not finish after the kill")),
        }
    }
    outcome.keys.sort_by_key(|k| k.index);
    outcome
}
