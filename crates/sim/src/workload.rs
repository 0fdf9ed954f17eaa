//! The clients: each is one ZooKeeper session at a time (re-attached to whichever server it
//! can reach, with its last zxid seen, as a real client does), running one operation at a
//! time as a task of its own, so operations overlap with each other and with faults.
//!
//! Registers (`/r0`, `/r1`, ...) carry the history `corral-history` checks: reads, sync+reads,
//! blind writes and compare-and-sets (setData with a version). Besides them clients create and
//! delete persistent and ephemeral nodes under `/n`, close their sessions, or go away without
//! closing them (the session must then expire). Every acknowledged write is remembered for
//! the durability check, every reply's zxid checked against the session's.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_client::corral_proto::consts::{perms, CreateMode};
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::{Acl, ErrorCode};
use corral_client::{Client, ClientError, ConnectOptions, Reply};
use corral_history::{History, InitialState, OpId, Operation, Outcome, Register};
use parking_lot::Mutex;

use crate::cluster::Cluster;
use crate::invariants::acknowledged_writes::AckedWrite;
use crate::invariants::client_zxids::SessionZxid;
use crate::invariants::committed_history::{create_tag, delete_tag, set_tag, EntryKind};
use crate::invariants::session_expiry::Fate;
use crate::invariants::session_fifo::SentWrite;
use crate::invariants::Violation;
use crate::rng::Rng;

/// How long a client waits for a connection (handshake included) to one server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client waits for a reply before giving the connection up.
const OP_TIMEOUT: Duration = Duration::from_secs(4);
/// Servers a client tries before it gives an operation up.
const CONNECT_ATTEMPTS: usize = 3;
/// The session timeouts clients ask for.
const SESSION_TIMEOUTS_MS: [i32; 3] = [1_000, 1_500, 2_500];
/// Where clients create their nodes.
pub const NODES_PARENT: &str = "/n";

fn acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

/// What the simulation and its client tasks share.
pub struct Sim {
    pub cluster: Mutex<Cluster>,
    pub world: Mutex<World>,
}

/// A client's current connection.
#[derive(Clone)]
pub struct Conn {
    pub client: Client,
    pub node: u64,
}

#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: i64,
    pub password: Bytes,
    pub timeout_ms: i32,
}

pub struct ClientSlot {
    pub id: usize,
    pub busy: bool,
    pub conn: Option<Conn>,
    pub session: Option<SessionInfo>,
    pub timeout_ms: i32,
    /// Nodes this client created and has not deleted: path, ephemeral owner session.
    pub owned: Vec<(String, Option<i64>)>,
    /// The last version seen of each register (what a compare-and-set expects).
    pub versions: BTreeMap<String, i32>,
    /// The xid the session's next request gets: one counter across its connections, as the
    /// Java client keeps, so that (session, xid) names one request.
    pub next_xid: i32,
}

/// Everything the clients record.
pub struct World {
    pub rng: Rng,
    pub history: History,
    pub initial: InitialState,
    pub keys: Vec<String>,
    /// Logical time of the history: one tick per invocation or completion, in the order they
    /// happen (one thread: this is real-time order).
    pub tick: u64,
    pub clients: Vec<ClientSlot>,
    pub acked: Vec<AckedWrite>,
    /// Each session's writes, in the order its client sent them.
    pub sent: BTreeMap<i64, Vec<SentWrite>>,
    /// Every session a client was handed, and what became of it.
    pub sessions: BTreeMap<i64, Fate>,
    pub zxids: BTreeMap<i64, SessionZxid>,
    pub violations: Vec<Violation>,
    /// A hash of every reply, in order (the determinism fingerprint's share).
    pub fingerprint: u64,
    next_seq: u64,
    next_port: u32,
    pub ops_started: u64,
    /// Operations whose outcome the client could not learn.
    pub unknown: u64,
    /// Reconnections refused because the session had expired.
    pub expired_seen: u64,
}

/// One operation a client is told to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Read(String),
    SyncRead(String),
    Write(String),
    Cas(String),
    Create {
        ephemeral: bool,
    },
    Delete,
    CloseSession,
    /// Goes away without closing its session; a new client takes its place.
    Abandon,
}

impl World {
    pub fn new(rng: Rng, clients: usize, keys: usize) -> World {
        let keys: Vec<String> = (0..keys).map(|k| format!("/r{k}")).collect();
        let initial = keys
            .iter()
            .map(|k| (k.clone(), Register::new(Vec::new(), 0)))
            .collect();
        let mut world = World {
            rng,
            history: History::new(),
            initial,
            keys,
            tick: 0,
            clients: Vec::new(),
            acked: Vec::new(),
            sent: BTreeMap::new(),
            sessions: BTreeMap::new(),
            zxids: BTreeMap::new(),
            violations: Vec::new(),
            fingerprint: 0,
            next_seq: 0,
            next_port: 0,
            ops_started: 0,
            unknown: 0,
            expired_seen: 0,
        };
        for _ in 0..clients {
            world.add_client();
        }
        world
    }

    pub fn add_client(&mut self) -> usize {
        let id = self.clients.len();
        let timeout_ms = *self.rng.pick(&SESSION_TIMEOUTS_MS).unwrap_or(&2_000);
        self.clients.push(ClientSlot {
            id,
            busy: false,
            conn: None,
            session: None,
            timeout_ms,
            owned: Vec::new(),
            versions: BTreeMap::new(),
            next_xid: 1,
        });
        id
    }

    fn now(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A client address no other connection used (the per-IP limit counts addresses).
    fn addr(&mut self) -> SocketAddr {
        self.next_port += 1;
        let ip = [10, 0, (self.next_port >> 8) as u8, self.next_port as u8];
        SocketAddr::from((ip, 40_000))
    }

    fn mix(&mut self, parts: &[i64]) {
        let mut h = DefaultHasher::new();
        self.fingerprint.hash(&mut h);
        parts.hash(&mut h);
        self.fingerprint = h.finish();
    }

    /// Clients with no operation running.
    pub fn idle_clients(&self) -> Vec<usize> {
        self.clients
            .iter()
            .filter(|c| !c.busy)
            .map(|c| c.id)
            .collect()
    }

    pub fn busy_clients(&self) -> usize {
        self.clients.iter().filter(|c| c.busy).count()
    }

    /// Picks an operation for client `c`.
    pub fn plan(&mut self, c: usize) -> Op {
        let key = self.rng.pick(&self.keys).cloned().unwrap_or_default();
        let owns = !self.clients[c].owned.is_empty();
        match self.rng.below(100) {
            0..=19 => Op::Read(key),
            20..=34 => Op::SyncRead(key),
            35..=54 => Op::Write(key),
            55..=69 => Op::Cas(key),
            70..=79 => Op::Create {
                ephemeral: self.rng.chance(0.5),
            },
            80..=87 if owns => Op::Delete,
            80..=87 => Op::Create { ephemeral: false },
            88..=93 => Op::CloseSession,
            94..=96 => Op::Abandon,
            _ => Op::Read(key),
        }
    }

    /// Server `node` went away: its clients' connections are cut (a crash resets them).
    pub fn cut_connections_to(&mut self, node: u64) {
        for slot in &mut self.clients {
            if slot.conn.as_ref().is_some_and(|c| c.node == node) {
                if let Some(conn) = slot.conn.take() {
                    conn.client.disconnect();
                }
            }
        }
    }

    pub fn cut_all_connections(&mut self) {
        for slot in &mut self.clients {
            if let Some(conn) = slot.conn.take() {
                conn.client.disconnect();
            }
        }
    }

    /// Records a reply's zxid for `session` (the property is checked here).
    fn saw_zxid(&mut self, session: i64, node: u64, zxid: i64, what: &str) {
        let result = self
            .zxids
            .entry(session)
            .or_default()
            .observe(session, node, zxid, what);
        if let Err(v) = result {
            self.violations.push(v);
        }
    }

    fn highest_zxid(&self, session: i64) -> i64 {
        self.zxids.get(&session).map_or(0, |z| z.highest)
    }
}

/// Runs `op` for client `c`, then marks it idle.
pub async fn run(sim: Arc<Sim>, c: usize, op: Op) {
    run_op(&sim, c, op).await;
    sim.world.lock().clients[c].busy = false;
}

/// Marks client `c` busy with `op`; the caller spawns [`run`].
pub fn begin(sim: &Sim, c: usize) {
    let mut world = sim.world.lock();
    world.clients[c].busy = true;
    world.ops_started += 1;
}

async fn run_op(sim: &Arc<Sim>, c: usize, op: Op) {
    if op == Op::Abandon {
        abandon(sim, c);
        return;
    }
    let Some((conn, session)) = connect(sim, c).await else {
        return;
    };
    match op {
        Op::Read(key) => read(sim, c, &conn, session, key, false).await,
        Op::SyncRead(key) => read(sim, c, &conn, session, key, true).await,
        Op::Write(key) => write(sim, c, &conn, session, key, None).await,
        Op::Cas(key) => {
            let expected = {
                let mut world = sim.world.lock();
                let seen = world.clients[c].versions.get(&key).copied().unwrap_or(0);
                // Now and then a stale or future version, which must fail.
                // (Never -1: setData's "any version".)
                match world.rng.below(10) {
                    0 => (seen - 1).max(0),
                    1 => seen + 1,
                    _ => seen,
                }
            };
            write(sim, c, &conn, session, key, Some(expected)).await
        }
        Op::Create { ephemeral } => create(sim, c, &conn, session, ephemeral).await,
        Op::Delete => delete(sim, c, &conn, session).await,
        Op::CloseSession => close(sim, c, &conn, session).await,
        Op::Abandon => {}
    }
}

fn abandon(sim: &Sim, c: usize) {
    let mut world = sim.world.lock();
    let slot = &mut world.clients[c];
    if let Some(conn) = slot.conn.take() {
        conn.client.disconnect();
    }
    let session = slot.session.take();
    slot.owned.clear();
    slot.versions.clear();
    let timeout_ms = *world.rng.pick(&SESSION_TIMEOUTS_MS).unwrap_or(&2_000);
    world.clients[c].timeout_ms = timeout_ms;
    if let Some(session) = session {
        world.sessions.insert(session.id, Fate::Abandoned);
    }
}

/// The client's connection, connecting (and re-attaching its session) if it has none.
async fn connect(sim: &Sim, c: usize) -> Option<(Conn, i64)> {
    {
        let world = sim.world.lock();
        let slot = &world.clients[c];
        if let (Some(conn), Some(session)) = (&slot.conn, &slot.session) {
            if conn.client.close_reason().is_none() {
                return Some((conn.clone(), session.id));
            }
        }
    }
    for _ in 0..CONNECT_ATTEMPTS {
        let (node, options, addr) = {
            let mut world = sim.world.lock();
            let running = sim.cluster.lock().running();
            let &node = world.rng.pick(&running)?;
            let slot = &world.clients[c];
            let options = match &slot.session {
                Some(s) => ConnectOptions {
                    timeout_ms: s.timeout_ms,
                    session_id: s.id,
                    password: Some(s.password.clone()),
                    last_zxid_seen: world.highest_zxid(s.id),
                    first_xid: slot.next_xid,
                    ..ConnectOptions::default()
                },
                None => ConnectOptions {
                    timeout_ms: slot.timeout_ms,
                    ..ConnectOptions::default()
                },
            };
            (node, options, world.addr())
        };
        let resuming = options.session_id != 0;
        let (client_side, server_side) = tokio::io::duplex(64 * 1024);
        let (read, write) = tokio::io::split(server_side);
        match sim.cluster.lock().node(node) {
            Some(n) => n.connect(read, write, addr),
            None => continue,
        }
        let attempt = Client::connect_stream(client_side, options.clone());
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, attempt).await;
        crate::trace::note(|| {
            let how = match &connected {
                Ok(Ok(client)) => format!("session 0x{:x}", client.session_id()),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_owned(),
            };
            format!("client {c} connects to server {node}: {how}")
        });
        match connected {
            Ok(Ok(client)) => {
                let mut world = sim.world.lock();
                let session = SessionInfo {
                    id: client.session_id(),
                    password: client.password(),
                    timeout_ms: client.negotiated_timeout_ms(),
                };
                if !resuming {
                    world.sessions.insert(session.id, Fate::InUse);
                }
                world.mix(&[c as i64, node as i64, session.id]);
                let next_xid = client.next_xid();
                let conn = Conn { client, node };
                let slot = &mut world.clients[c];
                slot.next_xid = next_xid;
                slot.conn = Some(conn.clone());
                slot.session = Some(session.clone());
                return Some((conn, session.id));
            }
            Ok(Err(ClientError::SessionExpired { .. })) => {
                // The ensemble expired the session: the client starts a new one.
                let mut world = sim.world.lock();
                world.expired_seen += 1;
                world.mix(&[c as i64, node as i64, -1]);
                let slot = &mut world.clients[c];
                slot.session = None;
                slot.owned.retain(|(_, owner)| owner.is_none());
            }
            Ok(Err(_)) | Err(_) => {
                let pause = sim.world.lock().rng.millis(20, 200);
                tokio::time::sleep(pause).await;
            }
        }
    }
    None
}

/// The reply, or `None` when the client gave the connection up (then the outcome is unknown
/// and the connection dropped, as a ZooKeeper client does on connection loss).
async fn ask<F>(sim: &Sim, c: usize, conn: &Conn, request: F) -> Option<Reply>
where
    F: std::future::Future<Output = Result<Reply, ClientError>>,
{
    match tokio::time::timeout(OP_TIMEOUT, request).await {
        Ok(Ok(reply)) => Some(reply),
        failed => {
            crate::trace::note(|| {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no reply in time".to_owned(),
                };
                format!(
                    "client {c} gives up its connection to server {}: {why}",
                    conn.node
                )
            });
            conn.client.disconnect();
            // One operation at a time per client: the connection is still this one (or was
            // already cut).
            sim.world.lock().clients[c].conn = None;
            None
        }
    }
}

/// Records that `session` sends the write `tag` on `conn` now (after everything it sent
/// before), with the xid it is about to get: client `c` runs one operation at a time, so
/// nothing else of it is sent on the connection in between.
fn sent(sim: &Sim, c: usize, conn: &Conn, session: i64, tag: String) {
    let xid = conn.client.next_xid();
    crate::trace::note(|| format!("session 0x{session:x} sends `{tag}` (xid {xid})"));
    let mut world = sim.world.lock();
    world.clients[c].next_xid = xid.saturating_add(1);
    world
        .sent
        .entry(session)
        .or_default()
        .push(SentWrite { tag, xid });
}

fn invoke(sim: &Sim, session: i64, operation: Operation) -> OpId {
    let mut world = sim.world.lock();
    let at = world.now();
    crate::trace::note(|| format!("session 0x{session:x} invokes {operation:?}"));
    world.history.invoke(session as u64, operation, at)
}

fn complete(sim: &Sim, id: OpId, outcome: Outcome, zxid: Option<i64>) {
    let mut world = sim.world.lock();
    let at = world.now();
    crate::trace::note(|| format!("op {id} completes: {outcome:?} zxid {zxid:?}"));
    if outcome == Outcome::Unknown {
        world.unknown += 1;
    }
    let result = match zxid {
        Some(zxid) if outcome != Outcome::Unknown => {
            world.history.complete_with_zxid(id, outcome, at, zxid)
        }
        _ => world.history.complete(id, outcome, at),
    };
    if let Err(e) = result {
        world
            .violations
            .push(Violation::new("history recording", e.to_string()));
    }
}

/// Notes a reply: its zxid, the fingerprint.
fn saw(sim: &Sim, c: usize, session: i64, conn: &Conn, reply: &Reply, what: &str) {
    let mut world = sim.world.lock();
    world.saw_zxid(session, conn.node, reply.zxid, what);
    let code = reply.code().as_i32();
    world.mix(&[c as i64, session, reply.zxid, code as i64]);
}

async fn read(sim: &Sim, c: usize, conn: &Conn, session: i64, key: String, sync: bool) {
    let operation = match sync {
        true => Operation::SyncRead { key: key.clone() },
        false => Operation::Read { key: key.clone() },
    };
    let id = invoke(sim, session, operation);
    if sync {
        let Some(reply) = ask(sim, c, conn, conn.client.sync(&key)).await else {
            return complete(sim, id, Outcome::Unknown, None);
        };
        saw(sim, c, session, conn, &reply, "sync");
        if reply.code() != ErrorCode::Ok {
            return complete(sim, id, Outcome::Failed, Some(reply.zxid));
        }
    }
    let Some(reply) = ask(sim, c, conn, conn.client.get_data(&key, false)).await else {
        return complete(sim, id, Outcome::Unknown, None);
    };
    saw(sim, c, session, conn, &reply, "getData");
    match &reply.result {
        Ok(Response::GetData { data, stat }) => {
            let value = data.as_ref().map(|d| d.to_vec()).unwrap_or_default();
            sim.world.lock().clients[c]
                .versions
                .insert(key, stat.version);
            complete(
                sim,
                id,
                Outcome::data(value, stat.version),
                Some(reply.zxid),
            );
        }
        _ => complete(sim, id, Outcome::Failed, Some(reply.zxid)),
    }
}

async fn write(sim: &Sim, c: usize, conn: &Conn, session: i64, key: String, expected: Option<i32>) {
    let value = {
        let mut world = sim.world.lock();
        let seq = world.seq();
        format!("c{c}-{seq}").into_bytes()
    };
    let operation = match expected {
        None => Operation::Write {
            key: key.clone(),
            value: value.clone(),
        },
        Some(expected_version) => Operation::Cas {
            key: key.clone(),
            expected_version,
            value: value.clone(),
        },
    };
    let id = invoke(sim, session, operation);
    let tag = set_tag(&key, &value);
    sent(sim, c, conn, session, tag.clone());
    let version = expected.unwrap_or(-1);
    let request = conn.client.set_data(&key, &value, version);
    let Some(reply) = ask(sim, c, conn, request).await else {
        return complete(sim, id, Outcome::Unknown, None);
    };
    saw(sim, c, session, conn, &reply, "setData");
    match (&reply.result, reply.code()) {
        (Ok(Response::Stat(stat)), _) => {
            let mut world = sim.world.lock();
            world.clients[c].versions.insert(key.clone(), stat.version);
            world.acked.push(AckedWrite {
                zxid: reply.zxid,
                entry: EntryKind::Write {
                    session,
                    cxid: reply.xid,
                    tag,
                },
                what: format!("setData {key} v{} by client {c}", stat.version),
            });
            drop(world);
            complete(sim, id, Outcome::written(stat.version), Some(reply.zxid));
        }
        (_, ErrorCode::BadVersion) => complete(sim, id, Outcome::Failed, Some(reply.zxid)),
        // Any other error (an expired session, say): the write did not happen, but nothing
        // is assumed.
        _ => complete(sim, id, Outcome::Unknown, None),
    }
}

async fn create(sim: &Sim, c: usize, conn: &Conn, session: i64, ephemeral: bool) {
    let path = {
        let mut world = sim.world.lock();
        let seq = world.seq();
        format!("{NODES_PARENT}/c{c}-{seq}")
    };
    let mode = match ephemeral {
        true => CreateMode::Ephemeral,
        false => CreateMode::Persistent,
    };
    let tag = create_tag(&path);
    sent(sim, c, conn, session, tag.clone());
    let request = conn.client.create(&path, b"x", acl(), mode);
    let Some(reply) = ask(sim, c, conn, request).await else {
        return;
    };
    saw(sim, c, session, conn, &reply, "create");
    if reply.code() == ErrorCode::Ok {
        let mut world = sim.world.lock();
        world.acked.push(AckedWrite {
            zxid: reply.zxid,
            entry: EntryKind::Write {
                session,
                cxid: reply.xid,
                tag,
            },
            what: format!("create {path} by client {c}"),
        });
        world.clients[c]
            .owned
            .push((path, ephemeral.then_some(session)));
    }
}

async fn delete(sim: &Sim, c: usize, conn: &Conn, session: i64) {
    let path = {
        let mut world = sim.world.lock();
        let owned = world.clients[c].owned.len() as u64;
        let at = world.rng.below(owned) as usize;
        match world.clients[c].owned.get(at) {
            Some((path, _)) => path.clone(),
            None => return,
        }
    };
    let tag = delete_tag(&path);
    sent(sim, c, conn, session, tag.clone());
    let Some(reply) = ask(sim, c, conn, conn.client.delete(&path, -1)).await else {
        return;
    };
    saw(sim, c, session, conn, &reply, "delete");
    let mut world = sim.world.lock();
    if matches!(reply.code(), ErrorCode::Ok | ErrorCode::NoNode) {
        world.clients[c].owned.retain(|(p, _)| *p != path);
    }
    if reply.code() == ErrorCode::Ok {
        world.acked.push(AckedWrite {
            zxid: reply.zxid,
            entry: EntryKind::Write {
                session,
                cxid: reply.xid,
                tag,
            },
            what: format!("delete {path} by client {c}"),
        });
    }
}

async fn close(sim: &Sim, c: usize, conn: &Conn, session: i64) {
    let reply = ask(sim, c, conn, conn.client.close()).await;
    let mut world = sim.world.lock();
    let slot = &mut world.clients[c];
    slot.conn = None;
    match reply {
        Some(reply) if reply.code() == ErrorCode::Ok => {
            slot.session = None;
            slot.owned.retain(|(_, owner)| owner.is_none());
            world.sessions.insert(session, Fate::Closed);
            world.saw_zxid(session, conn.node, reply.zxid, "closeSession");
            world.mix(&[c as i64, session, reply.zxid, -11]);
        }
        // Unknown: the session may be closed or not; the client keeps it and may come back.
        _ => {}
    }
}

/// A client of its own that sync-reads every register through server `node`, recorded in the
/// history (the final state must show every acknowledged write); closes its session after.
pub async fn read_all_through(sim: &Arc<Sim>, node: u64) -> bool {
    let c = sim.world.lock().add_client();
    sim.world.lock().clients[c].busy = true;
    let (client_side, server_side) = tokio::io::duplex(64 * 1024);
    let (read_half, write_half) = tokio::io::split(server_side);
    let addr = sim.world.lock().addr();
    match sim.cluster.lock().node(node) {
        Some(n) => n.connect(read_half, write_half, addr),
        None => return false,
    }
    let options = ConnectOptions {
        timeout_ms: 4_000,
        ..ConnectOptions::default()
    };
    let attempt = Client::connect_stream(client_side, options);
    let Ok(Ok(client)) = tokio::time::timeout(CONNECT_TIMEOUT, attempt).await else {
        return false;
    };
    let session = client.session_id();
    {
        let mut world = sim.world.lock();
        world.sessions.insert(session, Fate::InUse);
        let password = client.password();
        let slot = &mut world.clients[c];
        slot.session = Some(SessionInfo {
            id: session,
            password,
            timeout_ms: 4_000,
        });
        slot.conn = Some(Conn {
            client: client.clone(),
            node,
        });
    }
    let conn = Conn { client, node };
    let keys = sim.world.lock().keys.clone();
    for key in keys {
        read(sim, c, &conn, session, key, true).await;
    }
    close(sim, c, &conn, session).await;
    true
}

/// Creates `paths` (an existing one is fine) through a client of its own on a random running
/// server, then closes its session; false if that did not work out (no leader yet, say).
pub async fn create_paths(sim: &Arc<Sim>, paths: &[String]) -> bool {
    let c = {
        let mut world = sim.world.lock();
        let c = world.add_client();
        world.clients[c].busy = true;
        c
    };
    let ok = create_paths_as(sim, c, paths).await;
    sim.world.lock().clients[c].busy = false;
    // The setup client stays in the list, idle: later steps may use it like any other.
    ok
}

async fn create_paths_as(sim: &Arc<Sim>, c: usize, paths: &[String]) -> bool {
    let Some((conn, session)) = connect(sim, c).await else {
        return false;
    };
    for path in paths {
        sent(sim, c, &conn, session, create_tag(path));
        let request = conn.client.create(path, b"", acl(), CreateMode::Persistent);
        let Some(reply) = ask(sim, c, &conn, request).await else {
            return false;
        };
        saw(sim, c, session, &conn, &reply, "create");
        if !matches!(reply.code(), ErrorCode::Ok | ErrorCode::NodeExists) {
            return false;
        }
    }
    true
}

/// The longest session timeout any client was granted.
pub fn longest_session_timeout_ms(sim: &Sim) -> u64 {
    let world = sim.world.lock();
    world
        .clients
        .iter()
        .map(|c| {
            c.timeout_ms
                .max(c.session.as_ref().map_or(0, |s| s.timeout_ms))
        })
        .max()
        .map_or(0, |ms| u64::try_from(ms).unwrap_or(0))
}
