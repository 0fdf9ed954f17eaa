//! `corral bench failover`: how long writes stop when an ensemble loses its leader.
//!
//! One session writes (setData of one node, one request in flight, `--value-bytes` bytes)
//! through the target's first server. After `--kill-after-s` the kill action runs (from the
//! command line: SIGKILL to `--kill-pid`, the leader). Whenever the connection is lost the
//! session re-attaches (same session id and password, as a ZooKeeper client does) to the next
//! server of the target, round robin. The only backoff is a 20 ms pause after every
//! `servers` failures in a row (a refused connect, or a connection lost before a write was
//! acknowledged on it), so that the figure is the ensemble's rather than a client's retry
//! policy (the Java client sleeps up to 1 s before each reconnect) while a server that takes
//! sessions and drops them at once is not hammered; a session the ensemble no longer knows is
//! replaced by a new one. A reply with an error code is retried after 10 ms.
//!
//! The figure: time from the kill to the reply of the first write *sent* after the kill that
//! succeeded (a write the dead leader had committed before it died does not count), waiting up
//! to `--seconds`. The report also gives the longest gap between two acknowledged writes, the
//! write latency before the kill, and a timeline of what the session saw.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use corral_client::corral_proto::consts::{perms, CreateMode};
use corral_client::corral_proto::Acl;
use corral_client::{Client, ClientError, ConnectOptions};
use serde::{Deserialize, Serialize};

use crate::args::{BenchArgs, Target};
use crate::error::BenchError;
use crate::stats::{new_histogram, Latency};

/// Bound on one TCP connect plus handshake while re-attaching.
const CONNECT_TIMEOUT_MS: u64 = 2_000;
/// Pause after as many failures in a row as the target has servers.
const ROUND_PAUSE: Duration = Duration::from_millis(20);
/// Pause before retrying a write answered with an error code.
const ERROR_PAUSE: Duration = Duration::from_millis(10);
/// Timeline entries kept: the first half of these and the last half.
const EVENTS_MAX: usize = 240;
/// How much later than planned the kill may be reported before the run gives up on it.
const KILL_SLACK: Duration = Duration::from_secs(10);

/// One thing the writing session saw, `at_ms` after the kill (negative: before).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailoverEvent {
    pub at_ms: f64,
    pub what: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailoverResult {
    pub target: String,
    pub addr: String,
    /// `--kill-pid`, when the kill was a SIGKILL from the command line.
    pub killed_pid: Option<u32>,
    /// Acknowledged writes before the kill, and their latency.
    pub writes_before_kill: u64,
    pub latency_before_kill: Latency,
    /// Whether a write sent after the kill was acknowledged within `--seconds`.
    pub recovered: bool,
    /// Kill to the reply of the first write sent after the kill that succeeded.
    pub failover_ms: Option<f64>,
    /// Kill to the first acknowledged write of any kind (one in flight at the kill counts).
    pub first_ack_after_kill_ms: Option<f64>,
    /// Longest time between two acknowledged writes (the outage as the client saw it).
    pub max_gap_ms: Option<f64>,
    /// Connections that broke (the session re-attached after each).
    pub connections_lost: u64,
    /// Connect attempts refused or failed while re-attaching.
    pub connects_failed: u64,
    /// Replies with an error code, by code.
    pub error_replies: BTreeMap<String, u64>,
    /// Whether the original session survived (`kept`: the connection never broke;
    /// `resumed`: re-attached after it broke; `new`: the ensemble had lost it).
    pub session: String,
    pub server_before: String,
    pub server_after: Option<String>,
    /// The timeline: the first and the last events (see `events_dropped`).
    pub events: Vec<FailoverEvent>,
    /// Events not kept, from between the first and the last ones.
    pub events_dropped: u64,
    /// Index in `events` where the dropped ones were (the first of the last events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_gap_at: Option<usize>,
}

/// Sends SIGKILL to `pid`.
pub fn sigkill(pid: u32) -> Result<(), String> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "kill -KILL {pid}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

/// State of the write loop.
struct Run<'a> {
    target: &'a Target,
    servers: Vec<&'a str>,
    options: ConnectOptions,
    /// Index in `servers` of the server the session is on.
    at: usize,
    /// Refused connects and lost connections since the last acknowledged write.
    failures: usize,
    /// The latest events once the first ones are kept.
    tail: VecDeque<FailoverEvent>,
    started: Instant,
    planned_kill: Instant,
    killed: Option<Instant>,
    result: FailoverResult,
}

impl Run<'_> {
    /// Milliseconds after the kill (after the planned kill while it has not happened yet),
    /// negative before it.
    fn at_ms(&self, when: Instant) -> f64 {
        let reference = self.killed.unwrap_or(self.planned_kill);
        if when >= reference {
            (when - reference).as_secs_f64() * 1e3
        } else {
            -((reference - when).as_secs_f64() * 1e3)
        }
    }

    fn event(&mut self, when: Instant, what: String) {
        let at_ms = self.at_ms(when);
        tracing::info!(at_ms, %what, "failover");
        let event = FailoverEvent { at_ms, what };
        if self.result.events.len() < EVENTS_MAX / 2 {
            self.result.events.push(event);
            return;
        }
        if self.tail.len() == EVENTS_MAX / 2 {
            self.tail.pop_front();
            self.result.events_dropped += 1;
        }
        self.tail.push_back(event);
    }

    /// The kept events in order.
    fn finish_events(&mut self) {
        if self.result.events_dropped > 0 {
            self.result.events_gap_at = Some(self.result.events.len());
        }
        self.result.events.extend(self.tail.drain(..));
    }

    /// Counts a failure; pauses after every round of them.
    async fn failed(&mut self) {
        self.failures += 1;
        if self.failures % self.servers.len() == 0 {
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }

    /// Re-attaches the session (or a new one) to the next server that takes it, round robin.
    /// `None` when `deadline` passed first.
    async fn reattach(&mut self, old: &Client, deadline: Instant) -> Option<Client> {
        let mut session_id = old.session_id();
        let mut password = Some(old.password());
        let last_zxid = old.last_zxid();
        loop {
            if Instant::now() >= deadline {
                return None;
            }
            self.at = (self.at + 1) % self.servers.len();
            let server = self.servers[self.at];
            let options = ConnectOptions {
                session_id,
                password: password.clone(),
                last_zxid_seen: last_zxid,
                ..self.options.clone()
            };
            let attempt =
                tokio::time::timeout_at(deadline.into(), Client::connect(server, options)).await;
            match attempt {
                Err(_elapsed) => return None,
                Ok(Ok(client)) => {
                    drop(client.take_notifications());
                    let resumed = session_id != 0 && client.session_id() == session_id;
                    if !resumed {
                        self.result.session = "new".into();
                    } else if self.result.session == "kept" {
                        self.result.session = "resumed".into();
                    }
                    let what = format!(
                        "connected to {server} ({} session 0x{:x})",
                        if resumed { "resumed" } else { "new" },
                        client.session_id()
                    );
                    self.event(Instant::now(), what);
                    self.result.server_after = Some(server.to_owned());
                    return Some(client);
                }
                Ok(Err(ClientError::SessionExpired { .. })) if session_id != 0 => {
                    self.event(
                        Instant::now(),
                        format!("{server}: session 0x{session_id:x} expired; opening a new one"),
                    );
                    session_id = 0;
                    password = None;
                    // The same server again, with a new session.
                    self.at = (self.at + self.servers.len() - 1) % self.servers.len();
                }
                Ok(Err(err)) => {
                    self.result.connects_failed += 1;
                    self.event(Instant::now(), format!("{server}: {err}"));
                    self.failed().await;
                }
            }
        }
    }
}

/// Runs the failover measurement on `target` (see the module doc); `kill` is the fault,
/// run once after `--kill-after-s` on a task of its own.
pub async fn failover<K>(
    target: &Target,
    args: &BenchArgs,
    kill: K,
) -> Result<FailoverResult, BenchError>
where
    K: FnOnce() -> Result<(), String> + Send + 'static,
{
    let client_error = |source| BenchError::Client {
        target: target.name.clone(),
        source,
    };
    let options = ConnectOptions {
        timeout_ms: args.session_timeout_ms,
        connect_timeout_ms: CONNECT_TIMEOUT_MS,
        ..ConnectOptions::default()
    };
    let servers = target.servers();
    let mut client = Client::connect(servers[0], options.clone())
        .await
        .map_err(client_error)?;
    drop(client.take_notifications());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = format!("/corral-bench-failover-{}-{nanos}", std::process::id());
    let value = Bytes::from(vec![b'v'; args.value_bytes]);
    let created = client
        .create(&path, &value, open_acl(), CreateMode::Persistent)
        .await
        .map_err(client_error)?;
    if let Err(code) = created.result {
        return Err(BenchError::Setup {
            target: target.name.clone(),
            path,
            code,
        });
    }

    let started = Instant::now();
    let planned_kill = started + Duration::from_secs_f64(args.kill_after_s);
    let (kill_tx, mut kill_rx) = tokio::sync::oneshot::channel();
    let killer = tokio::spawn(async move {
        tokio::time::sleep_until(planned_kill.into()).await;
        let outcome = kill();
        let _ = kill_tx.send((Instant::now(), outcome));
    });
    let mut run = Run {
        target,
        servers,
        options,
        at: 0,
        failures: 0,
        tail: VecDeque::new(),
        started,
        planned_kill,
        killed: None,
        result: FailoverResult {
            target: target.name.clone(),
            addr: target.addr.clone(),
            killed_pid: args.kill_pid,
            writes_before_kill: 0,
            latency_before_kill: Latency::of(&new_histogram()),
            recovered: false,
            failover_ms: None,
            first_ack_after_kill_ms: None,
            max_gap_ms: None,
            connections_lost: 0,
            connects_failed: 0,
            error_replies: BTreeMap::new(),
            session: "kept".into(),
            server_before: target.server_for(0).to_owned(),
            server_after: None,
            events: Vec::new(),
            events_dropped: 0,
            events_gap_at: None,
        },
    };
    let wait = Duration::from_secs_f64(args.duration_s);
    let mut before = new_histogram();
    let mut error_codes: BTreeMap<i32, u64> = BTreeMap::new();
    let mut last_ack: Option<Instant> = None;
    let mut max_gap = Duration::ZERO;
    let mut kill_failed = None;
    loop {
        if run.killed.is_none() {
            if let Ok((at, outcome)) = kill_rx.try_recv() {
                run.killed = Some(at);
                match outcome {
                    Ok(()) => run.event(at, "killed".into()),
                    Err(err) => {
                        kill_failed = Some(err);
                        break;
                    }
                }
            }
        }
        // Until the kill is known, run to its planned time plus some slack.
        let deadline = match run.killed {
            Some(killed) => killed + wait,
            None => planned_kill + KILL_SLACK + wait,
        };
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let sent = now;
        let reply =
            tokio::time::timeout_at(deadline.into(), client.set_data(&path, &value, -1)).await;
        let done = Instant::now();
        if run.killed.is_none() {
            if let Ok((at, outcome)) = kill_rx.try_recv() {
                run.killed = Some(at);
                match outcome {
                    Ok(()) => run.event(at, "killed".into()),
                    Err(err) => {
                        kill_failed = Some(err);
                        break;
                    }
                }
            }
        }
        match reply {
            Err(_elapsed) => break,
            Ok(Ok(reply)) if reply.code().is_ok() => {
                if let Some(last) = last_ack {
                    max_gap = max_gap.max(done - last);
                }
                last_ack = Some(done);
                run.failures = 0;
                match run.killed {
                    None => {
                        run.result.writes_before_kill += 1;
                        let us = u64::try_from((done - sent).as_micros()).unwrap_or(u64::MAX);
                        let _ = before.record(us.max(1));
                    }
                    Some(killed) => {
                        let since = (done - killed).as_secs_f64() * 1e3;
                        run.result.first_ack_after_kill_ms.get_or_insert(since);
                        if sent >= killed {
                            run.result.failover_ms = Some(since);
                            run.result.recovered = true;
                            let what =
                                format!("write acknowledged (sent at {:.1} ms)", run.at_ms(sent));
                            run.event(done, what);
                            break;
                        }
                        run.event(done, "write sent before the kill acknowledged".into());
                    }
                }
            }
            Ok(Ok(reply)) => {
                let code = reply.code();
                *error_codes.entry(code.as_i32()).or_default() += 1;
                run.event(done, format!("setData answered {code:?}"));
                tokio::time::sleep(ERROR_PAUSE).await;
            }
            Ok(Err(err)) => {
                if !err.is_fatal() {
                    run.event(done, format!("setData failed: {err}"));
                    continue;
                }
                run.result.connections_lost += 1;
                let server = run.servers[run.at];
                run.event(done, format!("connection to {server} lost: {err}"));
                run.failed().await;
                match run.reattach(&client, deadline).await {
                    Some(next) => client = next,
                    None => break,
                }
            }
        }
    }
    killer.abort();
    if run.killed.is_none() && kill_failed.is_none() {
        run.event(Instant::now(), "the kill never happened".into());
    }
    // Best effort: the node goes, the session closes.
    let _ = tokio::time::timeout(Duration::from_secs(5), client.delete(&path, -1)).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
    if let Some(err) = kill_failed {
        return Err(BenchError::InvalidArgs(format!("the kill failed: {err}")));
    }
    run.finish_events();
    let elapsed = run.started.elapsed();
    tracing::debug!(?elapsed, target = %run.target.name, "failover run done");
    run.result.latency_before_kill = Latency::of(&before);
    run.result.max_gap_ms = last_ack.map(|_| max_gap.as_secs_f64() * 1e3);
    run.result.error_replies = crate::stats::named_codes(&error_codes);
    Ok(run.result)
}

impl FailoverResult {
    /// The human-readable form: the figures, then the timeline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1} ms"));
        let _ = writeln!(out, "target {} = {}", self.target, self.addr);
        if let Some(pid) = self.killed_pid {
            let _ = writeln!(out, "killed pid {pid}");
        }
        let _ = writeln!(
            out,
            "before the kill: {} writes via {}, p50 {:.3} ms, p99 {:.3} ms",
            self.writes_before_kill,
            self.server_before,
            self.latency_before_kill.p50_us as f64 / 1e3,
            self.latency_before_kill.p99_us as f64 / 1e3
        );
        let _ = writeln!(
            out,
            "failover (kill to first acknowledged write sent after it): {}{}",
            ms(self.failover_ms),
            if self.recovered {
                ""
            } else {
                " (no write acknowledged in time)"
            }
        );
        let _ = writeln!(
            out,
            "first ack after the kill {}, longest gap between acks {}",
            ms(self.first_ack_after_kill_ms),
            ms(self.max_gap_ms)
        );
        let _ = writeln!(
            out,
            "connections lost {}, connects failed {}, session {}, now on {}",
            self.connections_lost,
            self.connects_failed,
            self.session,
            self.server_after.as_deref().unwrap_or(&self.server_before)
        );
        if !self.error_replies.is_empty() {
            let _ = writeln!(out, "error replies: {:?}", self.error_replies);
        }
        let _ = writeln!(out, "timeline (ms after the kill):");
        for (i, e) in self.events.iter().enumerate() {
            if self.events_gap_at == Some(i) {
                let _ = writeln!(
                    out,
                    "{:>10}  ... {} events left out",
                    "", self.events_dropped
                );
            }
            let _ = writeln!(out, "{:>10.1}  {}", e.at_ms, e.what);
        }
        out
    }
}
