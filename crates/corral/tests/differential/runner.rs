//! Runs one generated sequence against both servers and compares every reply and every
//! connection's received frames after each step.
//!
//! A step is one operation (or a few pipelined requests of one session). After it, every live
//! session pings both servers; both servers send pings through their request pipelines, so
//! once the pings are answered every watch event the step caused has arrived. Then each
//! session's wire log (replies and events in arrival order, pings left out) is compared, after
//! the normalisations of `versions.rs`. Steps never overlap within a sequence, so the outcome
//! is deterministic; sequences run concurrently under distinct roots.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use corral_client::{ClientError, ConnectOptions};
use corral_proto::consts::watcher_type;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::records::{CreateRequest, SetWatches, SetWatches2};
use corral_proto::request::Request;
use corral_proto::response::Response;
use corral_proto::{ErrorCode, OpCode};

use crate::compare::{self, NMulti, NReply, NWire, Sessions};
use crate::gen::{Gen, Op};
use crate::model::{open_acl, Model, SessionModel, SessionState, WatchStyle};
use crate::pair::{self, Outcome, Pair};
use crate::servers::{self, Targets};
use crate::versions;

/// Session timeout of ordinary sessions: far longer than any sequence.
pub const SESSION_TIMEOUT_MS: i32 = 30_000;
/// Session timeout of the session a sequence may expire. Every step pings it, so it only
/// expires when the test stops doing so.
pub const SHORT_TIMEOUT_MS: i32 = 3_000;
/// Bound on waiting for both servers to expire a session.
pub const EXPIRY_WAIT: Duration = Duration::from_secs(20);

/// What a run counted, for the summary line.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub sequences: usize,
    pub steps: usize,
    pub requests: usize,
    pub events: usize,
    /// Normalisations applied, by `versions` key.
    pub normalised: BTreeMap<&'static str, usize>,
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.sequences += other.sequences;
        self.steps += other.steps;
        self.requests += other.requests;
        self.events += other.events;
        for (k, v) in &other.normalised {
            *self.normalised.entry(k).or_default() += v;
        }
    }

    fn note(&mut self, key: &'static str) {
        *self.normalised.entry(key).or_default() += 1;
    }
}

/// How a step's events are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Events {
    /// In wire order, interleaved with replies.
    Ordered { replayed: bool },
    /// Replies in order, events as a multiset: a session close deletes its ephemerals in an
    /// unspecified order (ZooKeeper iterates a HashSet; Corral goes in path order, see
    /// SEMANTICS.md), so the events of different nodes may come in a different order.
    CloseOrder,
    /// As `CloseOrder`, for a session expiry. The expired session's own connection is special:
    /// ZooKeeper closes it at once (`NIOServerCnxn.close`, no flush) right after applying the
    /// close, so events queued to it a moment earlier may or may not leave; Corral flushes
    /// them. For that connection, what ZooKeeper delivered must be among what Corral did.
    Expiry { expired: usize },
}

/// One session's connections, or what is left of them.
struct Conn {
    pair: Option<Pair>,
    ids: (i64, i64),
    passwords: (Bytes, Bytes),
    /// Each side's last zxid seen, kept across a disconnect for the reconnect.
    last_zxid: (i64, i64),
}

pub struct Sequence<'t> {
    seed: u64,
    targets: &'t Targets,
    model: Model,
    gen: Gen,
    conns: Vec<Conn>,
    history: Vec<String>,
    pub stats: Stats,
    /// `DIFF_TRACE` set: print every step and its (normalised) reply.
    trace: bool,
}

impl<'t> Sequence<'t> {
    pub fn new(targets: &'t Targets, seed: u64) -> Sequence<'t> {
        let root = format!("/d{seed}");
        Sequence {
            seed,
            targets,
            model: Model::new(root.clone()),
            gen: Gen::new(seed, root),
            conns: Vec::new(),
            history: Vec::new(),
            stats: Stats::default(),
            trace: std::env::var_os("DIFF_TRACE").is_some(),
        }
    }

    /// Runs the whole sequence: sessions, the root, the generated steps, teardown.
    pub async fn run(mut self) -> Result<Stats, String> {
        let (sessions, short, steps) = self.gen.shape();
        for s in 0..sessions {
            self.open_session(s, short == Some(s)).await?;
        }
        let root = self.model.root.clone();
        self.step(Op::Request {
            s: 0,
            request: Request::Create(CreateRequest {
                path: root,
                data: Some(Bytes::from_static(b"root")),
                acl: open_acl(),
                flags: 0,
            }),
        })
        .await?;
        for op in self.gen.opening(sessions) {
            self.step(op).await?;
        }
        for _ in 0..steps {
            let Some(op) = self.gen.next(&self.model) else {
                break;
            };
            self.step(op).await?;
        }
        for s in 0..self.conns.len() {
            match self.model.sessions[s].state {
                SessionState::Gone => {}
                SessionState::Disconnected => {
                    self.step(Op::Reconnect {
                        s,
                        wrong_password_first: false,
                    })
                    .await?;
                    if self.model.live(s) {
                        self.step(Op::Close { s }).await?;
                    }
                }
                SessionState::Live => self.step(Op::Close { s }).await?,
            }
        }
        self.stats.sequences = 1;
        Ok(self.stats)
    }

    fn sessions(&self) -> (Sessions, Sessions) {
        (
            Sessions(self.conns.iter().map(|c| c.ids.0).collect()),
            Sessions(self.conns.iter().map(|c| c.ids.1).collect()),
        )
    }

    fn fail(&self, what: &str, zk: &dyn std::fmt::Debug, corral: &dyn std::fmt::Debug) -> String {
        self.fail_text(what, &format!("{zk:#?}"), &format!("{corral:#?}"))
    }

    fn fail_text(&self, what: &str, zk: &str, corral: &str) -> String {
        let mut msg = String::new();
        let step = self.history.len().saturating_sub(1);
        let _ = writeln!(
            msg,
            "differential mismatch: seed {} (replay: DIFF_SEED={}), step {step}",
            self.seed, self.seed
        );
        let _ = writeln!(msg, "op: {}", self.history.last().map_or("-", |s| s));
        let _ = writeln!(msg, "what: {what}");
        let _ = writeln!(msg, "apache 3.8: {zk}");
        let _ = writeln!(msg, "corral:     {corral}");
        let _ = writeln!(msg, "history (step: op):");
        for (i, op) in self.history.iter().enumerate() {
            let _ = writeln!(msg, "  {i}: {op}");
        }
        msg
    }

    async fn open_session(&mut self, s: usize, short: bool) -> Result<(), String> {
        let (timeout, ping) = if short {
            (SHORT_TIMEOUT_MS, false)
        } else {
            (SESSION_TIMEOUT_MS, true)
        };
        self.history
            .push(format!("open session #{s} (short timeout: {short})"));
        let options = pair::options(timeout, ping);
        let pair = match Pair::connect_both(self.targets, options.clone(), options).await {
            (Ok(zk), Ok(corral)) => Pair { zk, corral },
            (zk, corral) => return Err(self.fail("connect", &zk, &corral)),
        };
        let (zk_resp, c_resp) = (pair.zk.connect_response(), pair.corral.connect_response());
        if (zk_resp.timeout_ms, zk_resp.read_only) != (c_resp.timeout_ms, c_resp.read_only) {
            return Err(self.fail("ConnectResponse", zk_resp, c_resp));
        }
        self.conns.push(Conn {
            ids: pair.session_ids(),
            passwords: (pair.zk.password(), pair.corral.password()),
            last_zxid: (0, 0),
            pair: Some(pair),
        });
        self.model.sessions.push(SessionModel::new(short));
        Ok(())
    }

    fn pair(&self, s: usize) -> Pair {
        self.conns[s]
            .pair
            .clone()
            .expect("the generator only picks connected sessions")
    }

    async fn step(&mut self, op: Op) -> Result<(), String> {
        self.history.push(format!("{op:?}"));
        self.stats.steps += 1;
        if self.trace && !matches!(op, Op::Request { .. }) {
            println!("[{}] {op:?}", self.seed);
        }
        match op {
            Op::Request { s, request } => {
                let (zk, corral) = self.pair(s).request(request.clone()).await;
                self.stats.requests += 1;
                self.compare_reply(s, &request, &zk, &corral, "reply")?;
                self.apply(s, &request, &zk);
                self.settle(Events::Ordered { replayed: false }).await
            }
            Op::Pipelined { s, requests } => {
                let outcomes = self.pair(s).pipelined(requests.clone()).await;
                self.stats.requests += requests.len();
                for (i, (request, (zk, corral))) in requests.iter().zip(&outcomes).enumerate() {
                    self.compare_reply(s, request, zk, corral, &format!("reply #{i}"))?;
                    self.apply(s, request, zk);
                }
                self.settle(Events::Ordered { replayed: false }).await
            }
            Op::AddAuth { s, scheme, auth } => {
                let (zk, corral) = self.pair(s).auth(&scheme, &auth).await;
                self.stats.requests += 1;
                let (nz, nc) = self.normal_pair(&zk, &corral);
                if nz != nc {
                    return Err(self.fail("auth reply", &zk, &corral));
                }
                if nz == NReply::Ok(compare::NBody::Empty) {
                    let super_digest = servers::super_digest();
                    self.model.note_auth(s, &scheme, &auth, &super_digest);
                }
                self.settle(Events::Ordered { replayed: false }).await
            }
            Op::Close { s } => {
                let pair = self.pair(s);
                let (zk, corral) = pair.close().await;
                self.stats.requests += 1;
                let (nz, nc) = self.normal_pair(&zk, &corral);
                if nz != nc {
                    return Err(self.fail("closeSession reply", &zk, &corral));
                }
                self.model.session_ended(s);
                self.settle(Events::CloseOrder).await
            }
            Op::Disconnect { s } => {
                let pair = self.pair(s);
                // Nothing the servers say is compared here: the session just loses its
                // connection. What was received before is compared first.
                self.settle(Events::Ordered { replayed: false }).await?;
                pair.disconnect();
                self.detach(s);
                Ok(())
            }
            Op::Reconnect {
                s,
                wrong_password_first,
            } => self.reconnect(s, wrong_password_first).await,
            Op::Expire { s } => self.expire(s).await,
        }
    }

    /// Forgets a session's connections (keeping what a reconnect needs).
    fn detach(&mut self, s: usize) {
        let conn = &mut self.conns[s];
        if let Some(pair) = conn.pair.take() {
            conn.last_zxid = (pair.zk.last_zxid(), pair.corral.last_zxid());
        }
        if self.model.sessions[s].state == SessionState::Live {
            self.model.sessions[s].state = SessionState::Disconnected;
        }
    }

    fn normal_pair(&self, zk: &Outcome, corral: &Outcome) -> (NReply, NReply) {
        let (zk_sessions, corral_sessions) = self.sessions();
        (
            compare::reply(zk, &zk_sessions),
            compare::reply(corral, &corral_sessions),
        )
    }

    fn compare_reply(
        &mut self,
        _s: usize,
        request: &Request,
        zk: &Outcome,
        corral: &Outcome,
        what: &str,
    ) -> Result<(), String> {
        let (mut nz, mut nc) = self.normal_pair(zk, corral);
        // An ACL `auth` expanded over several identities: order unspecified (compare.rs).
        if let Request::GetAcl(r) = request {
            if self
                .model
                .nodes
                .get(&r.path)
                .is_some_and(|n| n.acl_unordered)
            {
                for n in [&mut nz, &mut nc] {
                    if let NReply::Ok(compare::NBody::Acl { acl, .. }) = n {
                        compare::sort_acl(acl);
                    }
                }
            }
        }
        if let (
            Request::Multi(ops),
            NReply::Ok(compare::NBody::Multi(zr)),
            NReply::Ok(compare::NBody::Multi(cr)),
        ) = (request, &nz, &mut nc)
        {
            for ((op, z), c) in ops.iter().zip(zr).zip(cr.iter_mut()) {
                let MultiOp::Create { op, request } = op else {
                    continue;
                };
                if !versions::multi_create2_result_differs(*op, request.flags) {
                    continue;
                }
                if let (NMulti::Create { path: zp }, NMulti::Create2 { path: cp, .. }) = (z, &*c) {
                    if zp == cp {
                        *c = NMulti::Create { path: cp.clone() };
                        self.stats.note(versions::MULTI_CREATE_TYPES);
                    }
                }
            }
        }
        if nz != nc {
            return Err(self.fail_text(
                what,
                &format!("{nz:#?}\n  raw: {zk:?}"),
                &format!("{nc:#?}\n  raw: {corral:?}"),
            ));
        }
        if self.trace {
            println!("[{}] {:?}\n    -> {nz:?}", self.seed, request);
        }
        Ok(())
    }

    /// Updates the model from a request and the Apache side's outcome.
    fn apply(&mut self, s: usize, request: &Request, zk: &Outcome) {
        let Ok(reply) = zk else {
            return;
        };
        let code = reply.code();
        let ok = reply.result.as_ref().ok();
        let m = &mut self.model;
        match request {
            Request::Create(r) | Request::Create2(r) => {
                if let Some(path) = created_path(ok) {
                    m.created(s, &path, &r.acl, matches!(r.flags, 1 | 3));
                }
            }
            Request::CreateContainer(r) => {
                if let Some(path) = created_path(ok) {
                    m.created(s, &path, &r.acl, false);
                }
            }
            Request::CreateTtl(r) => {
                if let Some(path) = created_path(ok) {
                    m.created(s, &path, &r.acl, false);
                }
            }
            Request::Delete(r) if ok.is_some() => m.deleted(&r.path),
            Request::SetAcl(r) if ok.is_some() => m.acl_set(s, &r.path, &r.acl),
            Request::Multi(ops) => {
                let Some(Response::Multi(results)) = ok else {
                    return;
                };
                if results.iter().any(|r| matches!(r, MultiResult::Error(_))) {
                    return;
                }
                for (op, result) in ops.iter().zip(results) {
                    match (op, result) {
                        (
                            MultiOp::Create { op, request },
                            MultiResult::Create { path } | MultiResult::Create2 { path, .. },
                        ) => {
                            let ephemeral =
                                *op != OpCode::CreateContainer && matches!(request.flags, 1 | 3);
                            m.created(s, path, &request.acl, ephemeral);
                        }
                        (
                            MultiOp::CreateTtl(request),
                            MultiResult::Create { path } | MultiResult::Create2 { path, .. },
                        ) => {
                            m.created(s, path, &request.acl, matches!(request.flags, 1 | 3));
                        }
                        (MultiOp::Delete(r), _) => m.deleted(&r.path),
                        _ => {}
                    }
                }
            }
            Request::GetData(r) if r.watch && ok.is_some() => {
                m.note_watch(s, &r.path, WatchStyle::Standard);
                m.sessions[s].client_watches.data.insert(r.path.clone());
            }
            Request::Exists(r) if r.watch => {
                if ok.is_some() {
                    m.note_watch(s, &r.path, WatchStyle::Standard);
                    m.sessions[s].client_watches.data.insert(r.path.clone());
                } else if code == ErrorCode::NoNode {
                    m.note_watch(s, &r.path, WatchStyle::Standard);
                    m.sessions[s].client_watches.exist.insert(r.path.clone());
                }
            }
            Request::GetChildren(r) | Request::GetChildren2(r) if r.watch && ok.is_some() => {
                m.note_watch(s, &r.path, WatchStyle::Standard);
                m.sessions[s].client_watches.child.insert(r.path.clone());
            }
            Request::AddWatch(r) if ok.is_some() => {
                let recursive =
                    r.mode == corral_proto::consts::add_watch_mode::PERSISTENT_RECURSIVE;
                let style = if recursive {
                    WatchStyle::Recursive
                } else {
                    WatchStyle::Persistent
                };
                m.note_watch(s, &r.path, style);
                let watches = &mut m.sessions[s].client_watches;
                if recursive {
                    watches.recursive.insert(r.path.clone());
                } else {
                    watches.persistent.insert(r.path.clone());
                }
            }
            Request::RemoveWatches(r) if ok.is_some() => {
                let session = &mut m.sessions[s];
                let watches = &mut session.client_watches;
                match r.watcher_type {
                    watcher_type::DATA => {
                        watches.data.remove(&r.path);
                        watches.exist.remove(&r.path);
                    }
                    watcher_type::CHILDREN => {
                        watches.child.remove(&r.path);
                    }
                    _ => {
                        watches.data.remove(&r.path);
                        watches.exist.remove(&r.path);
                        watches.child.remove(&r.path);
                        watches.persistent.remove(&r.path);
                        watches.recursive.remove(&r.path);
                        session.styles.remove(&r.path);
                    }
                }
            }
            _ => {}
        }
    }

    /// Pings every connected session on both servers, then compares what each received.
    async fn settle(&mut self, events: Events) -> Result<(), String> {
        let connected: Vec<usize> = (0..self.conns.len())
            .filter(|s| self.conns[*s].pair.is_some())
            .collect();
        let barriers = futures::future::join_all(connected.iter().map(|s| {
            let pair = self.pair(*s);
            let live = self.model.live(*s);
            async move {
                if live {
                    Some(pair.barrier().await)
                } else {
                    None
                }
            }
        }))
        .await;
        for (s, barrier) in connected.iter().zip(barriers) {
            let pair = self.pair(*s);
            let (zk_log, corral_log) = pair.take_wire();
            self.compare_wire(*s, zk_log, corral_log, events)?;
            if let Some((zk, corral)) = barrier {
                let (nz, nc) = self.normal_pair(&zk, &corral);
                if nz != nc {
                    return Err(self.fail(&format!("barrier ping of session #{s}"), &zk, &corral));
                }
                if nz == NReply::Lost {
                    // The step ended the connection (a failed auth): the session lives on.
                    self.detach(*s);
                }
            }
            if self.model.sessions[*s].state == SessionState::Gone {
                self.conns[*s].pair = None;
            }
        }
        Ok(())
    }

    fn compare_wire(
        &mut self,
        s: usize,
        zk_log: Vec<corral_client::WireEvent>,
        corral_log: Vec<corral_client::WireEvent>,
        events: Events,
    ) -> Result<(), String> {
        let (mut zk, mut corral) = (compare::wire(zk_log), compare::wire(corral_log));
        let replayed = match events {
            Events::Ordered { replayed } => replayed,
            Events::CloseOrder | Events::Expiry { .. } => {
                // Replies keep their order; events are compared as a multiset.
                let key = |e: &(NWire, i64)| match &e.0 {
                    NWire::Reply { .. } => (0, String::new(), 0),
                    NWire::Event { event_type, path } => (1, path.clone(), *event_type),
                };
                zk.sort_by_key(key);
                corral.sort_by_key(key);
                false
            }
        };
        if events == (Events::Expiry { expired: s }) {
            let mut rest = corral.clone();
            let subset = zk
                .iter()
                .all(|(ze, _)| match rest.iter().position(|(ce, _)| ce == ze) {
                    Some(i) => {
                        rest.remove(i);
                        true
                    }
                    None => false,
                });
            if !subset {
                return Err(self.fail(
                    &format!("events of the expired session #{s} (3.8's must be among Corral's)"),
                    &zk,
                    &corral,
                ));
            }
            return Ok(());
        }
        let same = zk.len() == corral.len()
            && zk.iter().zip(&corral).all(|((ze, zz), (ce, cz))| {
                ze == ce
                    && match ze {
                        NWire::Reply { .. } => true,
                        NWire::Event { .. } => {
                            versions::notification_zxid_matches(*zz, *cz, replayed)
                        }
                    }
            });
        if !same {
            return Err(self.fail(
                &format!("frames received by session #{s} (replies and events, in order)"),
                &zk,
                &corral,
            ));
        }
        for (entry, _) in &zk {
            if let NWire::Event { event_type, path } = entry {
                if self.trace {
                    println!("[{}]     session #{s} event {event_type} {path}", self.seed);
                }
                self.stats.events += 1;
                self.stats.note(versions::NOTIFICATION_ZXID);
                self.model.sessions[s]
                    .client_watches
                    .on_event(*event_type, path);
            }
        }
        Ok(())
    }

    async fn reconnect(&mut self, s: usize, wrong_password_first: bool) -> Result<(), String> {
        let timeout = if self.model.sessions[s].short_timeout {
            SHORT_TIMEOUT_MS
        } else {
            SESSION_TIMEOUT_MS
        };
        let conn = &self.conns[s];
        let (ids, passwords, last_zxid) = (conn.ids, conn.passwords.clone(), conn.last_zxid);
        let attach = |id: i64, password: Bytes, zxid: i64| ConnectOptions {
            session_id: id,
            password: Some(password),
            last_zxid_seen: zxid,
            ..pair::options(timeout, !self.model.sessions[s].short_timeout)
        };
        if wrong_password_first {
            let wrong = Bytes::from_static(&[0x5a; 16]);
            let (zk, corral) = Pair::connect_both(
                self.targets,
                attach(ids.0, wrong.clone(), last_zxid.0),
                attach(ids.1, wrong, last_zxid.1),
            )
            .await;
            if connect_outcome(&zk) != connect_outcome(&corral)
                || !matches!(zk, Err(ClientError::SessionExpired { timeout_ms: 0 }))
            {
                return Err(self.fail("reconnect with a wrong password", &zk, &corral));
            }
        }
        let (zk, corral) = Pair::connect_both(
            self.targets,
            attach(ids.0, passwords.0.clone(), last_zxid.0),
            attach(ids.1, passwords.1.clone(), last_zxid.1),
        )
        .await;
        if connect_outcome(&zk) != connect_outcome(&corral) {
            return Err(self.fail("reconnect", &zk, &corral));
        }
        let (Ok(zk), Ok(corral)) = (zk, corral) else {
            // Both refused: the session is gone on both.
            self.model.session_ended(s);
            return Ok(());
        };
        let check = |c: &corral_client::Client, id: i64, password: &Bytes| {
            let r = c.connect_response();
            (
                r.session_id == id,
                r.password.as_ref() == Some(password),
                r.timeout_ms,
                r.read_only,
            )
        };
        let (zk_view, corral_view) = (
            check(&zk, ids.0, &passwords.0),
            check(&corral, ids.1, &passwords.1),
        );
        if zk_view != corral_view {
            return Err(self.fail("reconnect ConnectResponse", &zk_view, &corral_view));
        }
        let pair = Pair { zk, corral };
        self.conns[s].pair = Some(pair.clone());
        self.model.sessions[s].state = SessionState::Live;
        // As the Java client does: auth first, then the watches.
        for (scheme, auth) in self.model.sessions[s].auth_packets.clone() {
            let (zk, corral) = pair.auth(&scheme, &auth).await;
            let (nz, nc) = self.normal_pair(&zk, &corral);
            if nz != nc {
                return Err(self.fail("auth replayed after reconnect", &zk, &corral));
            }
        }
        let watches = self.model.sessions[s].client_watches.clone();
        if !watches.is_empty() {
            let list = |set: &std::collections::BTreeSet<String>| set.iter().cloned().collect();
            let request = |zxid: i64| {
                if watches.persistent.is_empty() && watches.recursive.is_empty() {
                    Request::SetWatches(SetWatches {
                        relative_zxid: zxid,
                        data_watches: list(&watches.data),
                        exist_watches: list(&watches.exist),
                        child_watches: list(&watches.child),
                    })
                } else {
                    Request::SetWatches2(SetWatches2 {
                        relative_zxid: zxid,
                        data_watches: list(&watches.data),
                        exist_watches: list(&watches.exist),
                        child_watches: list(&watches.child),
                        persistent_watches: list(&watches.persistent),
                        persistent_recursive_watches: list(&watches.recursive),
                    })
                }
            };
            let (zk_request, corral_request) = (request(last_zxid.0), request(last_zxid.1));
            let (zk, corral) = tokio::join!(
                pair.zk.request(zk_request.clone()),
                pair.corral.request(corral_request)
            );
            let (nz, nc) = self.normal_pair(&zk, &corral);
            if nz != nc {
                return Err(self.fail(
                    &format!("reply to the replayed {zk_request:?}"),
                    &zk,
                    &corral,
                ));
            }
        }
        self.settle(Events::Ordered { replayed: true }).await
    }

    async fn expire(&mut self, s: usize) -> Result<(), String> {
        let pair = self.pair(s);
        let waited = tokio::time::timeout(EXPIRY_WAIT, async {
            tokio::join!(pair.zk.closed(), pair.corral.closed())
        })
        .await;
        let (zk_closed, corral_closed) = match waited {
            Ok(both) => both,
            Err(_) => {
                let state = (pair.zk.close_reason(), pair.corral.close_reason());
                return Err(self.fail(
                    &format!("session #{s} not expired by both within {EXPIRY_WAIT:?}"),
                    &state.0,
                    &state.1,
                ));
            }
        };
        if compare::is_lost(&zk_closed) != compare::is_lost(&corral_closed) {
            return Err(self.fail(
                "how the expired session's connection ended",
                &zk_closed,
                &corral_closed,
            ));
        }
        self.model.session_ended(s);
        self.settle(Events::Expiry { expired: s }).await?;
        // The expired session cannot be resumed: both answer an invalid-session response.
        let conn = &self.conns[s];
        let attach = |id: i64, password: Bytes| ConnectOptions {
            session_id: id,
            password: Some(password),
            ..pair::options(SHORT_TIMEOUT_MS, false)
        };
        let (zk, corral) = Pair::connect_both(
            self.targets,
            attach(conn.ids.0, conn.passwords.0.clone()),
            attach(conn.ids.1, conn.passwords.1.clone()),
        )
        .await;
        if connect_outcome(&zk) != connect_outcome(&corral) {
            return Err(self.fail("reconnect to an expired session", &zk, &corral));
        }
        Ok(())
    }
}

fn created_path(ok: Option<&Response>) -> Option<String> {
    match ok? {
        Response::Create { path } | Response::Create2 { path, .. } => Some(path.clone()),
        _ => None,
    }
}

/// A connect attempt's outcome, comparable across servers.
fn connect_outcome(outcome: &Result<corral_client::Client, ClientError>) -> String {
    match outcome {
        Ok(client) => format!(
            "connected (timeout {}, readOnly {:?})",
            client.negotiated_timeout_ms(),
            client.connect_response().read_only
        ),
        Err(ClientError::SessionExpired { timeout_ms }) => {
            format!("invalid session (timeout {timeout_ms})")
        }
        Err(e) => format!("failed: {}", error_kind(e)),
    }
}

fn error_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::HandshakeRefused => "refused",
        ClientError::ConnectTimeout { .. } => "timeout",
        _ => "other",
    }
}
