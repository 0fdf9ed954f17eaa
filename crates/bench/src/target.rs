//! One server under test for the whole run: its sessions, its nodes, its workloads.
//!
//! Lifecycle: `connect` opens every session, `prepare` creates the root, the parents and the
//! keys, `run_workload` runs warmup then measurement, `cleanup` deletes everything the run made
//! (children first, in multi batches), `close` ends the sessions.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_client::corral_proto::consts::{perms, CreateMode};
use corral_client::corral_proto::multi::MultiOp;
use corral_client::corral_proto::{Acl, ErrorCode};
use corral_client::ops::multi_op;
use corral_client::{Client, ConnectOptions};

use crate::args::{BenchArgs, Target, Workload};
use crate::batch::{self, BatchError, Tally};
use crate::cpu::CpuSample;
use crate::driver::{self, Plan, Session, Stop};
use crate::error::BenchError;
use crate::layout::Layout;
use crate::report::{CleanupReport, WorkloadResult};
use crate::stats::{Latency, SessionOutcome};

#[derive(Debug)]
pub struct TargetRun {
    pub target: Target,
    pub layout: Layout,
    sessions: Vec<Session>,
    keys: Arc<Vec<String>>,
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

impl TargetRun {
    /// Opens `args.sessions` sessions to the target, spread round robin over its servers.
    pub async fn connect(
        index: usize,
        target: &Target,
        args: &BenchArgs,
    ) -> Result<TargetRun, BenchError> {
        let options = ConnectOptions {
            timeout_ms: args.session_timeout_ms,
            in_flight_max: args.in_flight.max(16),
            ..ConnectOptions::default()
        };
        let connects =
            (0..args.sessions).map(|i| Client::connect(target.server_for(i), options.clone()));
        let mut sessions = Vec::with_capacity(args.sessions);
        for (index, client) in futures::future::join_all(connects)
            .await
            .into_iter()
            .enumerate()
        {
            let client = client.map_err(|source| BenchError::Client {
                target: target.name.clone(),
                source,
            })?;
            // Nobody reads notifications here (no watches are set); drop them unread.
            drop(client.take_notifications());
            sessions.push(Session {
                index,
                client,
                next_create: 0,
                failed_creates: Vec::new(),
            });
        }
        Ok(TargetRun {
            target: target.clone(),
            layout: Layout::new(index),
            sessions,
            keys: Arc::new(Vec::new()),
        })
    }

    fn clients(&self) -> Vec<Client> {
        self.sessions.iter().map(|s| s.client.clone()).collect()
    }

    fn setup_error(&self, err: BatchError) -> BenchError {
        match err {
            BatchError::Client(source) => BenchError::Client {
                target: self.target.name.clone(),
                source,
            },
            BatchError::Op { path, code } => BenchError::Setup {
                target: self.target.name.clone(),
                path,
                code,
            },
            BatchError::Timeout { path } => BenchError::Timeout {
                target: self.target.name.clone(),
                path,
                timeout_s: batch::BATCH_REPLY_TIMEOUT.as_secs(),
            },
        }
    }

    /// Creates the root, the parents and `key_space` keys holding `value`.
    pub async fn prepare(&mut self, key_space: usize, value: &Bytes) -> Result<(), BenchError> {
        let clients = self.clients();
        let create = |path: &str, data: &[u8]| {
            multi_op::create(path, data, open_acl(), CreateMode::Persistent)
        };
        let mut parents = vec![
            create(&self.layout.root, b""),
            create(&self.layout.keys_parent(), b""),
            create(&self.layout.create_parent(), b""),
        ];
        for session in &self.sessions {
            parents.push(create(&self.layout.session_parent(session.index), b""));
        }
        // The parents must exist before their children: one ordered multi on one session.
        batch::run_strict(&clients[..1], parents)
            .await
            .map_err(|err| self.setup_error(err))?;
        // Known before they exist, so cleanup after a half-done setup still finds them.
        self.keys = Arc::new((0..key_space).map(|i| self.layout.key(i)).collect());
        let ops = self.keys.iter().map(|key| create(key, value)).collect();
        batch::run_strict(&clients, ops)
            .await
            .map_err(|err| self.setup_error(err))?;
        Ok(())
    }

    /// Runs `workload`: `warmup` unmeasured, then measured until `duration` or `requests`.
    pub async fn run_workload(
        &mut self,
        workload: Workload,
        args: &BenchArgs,
        value: &Bytes,
        seed: u64,
    ) -> WorkloadResult {
        let plan = Arc::new(Plan {
            workload,
            layout: self.layout.clone(),
            keys: self.keys.clone(),
            value: value.clone(),
            acl: open_acl(),
            read_ratio: args.read_ratio,
            in_flight: args.in_flight,
            seed,
        });
        if args.warmup_s > 0.0 {
            let stop = Stop {
                deadline: Some(Instant::now() + Duration::from_secs_f64(args.warmup_s)),
                budget: None,
            };
            self.run_sessions(&plan, stop).await;
        }
        let stop = match args.requests {
            Some(requests) => Stop {
                deadline: None,
                budget: Some(Arc::new(AtomicU64::new(requests))),
            },
            None => Stop {
                deadline: Some(Instant::now() + Duration::from_secs_f64(args.duration_s)),
                budget: None,
            },
        };
        let cpu_before = CpuSample::take(&self.target.pids);
        let started = Instant::now();
        let outcome = self.run_sessions(&plan, stop).await;
        let elapsed_s = started.elapsed().as_secs_f64();
        let cpu = cpu_before.usage(&CpuSample::take(&self.target.pids), outcome.ops);
        let mut result = WorkloadResult::new(
            workload,
            &self.target,
            &outcome,
            elapsed_s,
            Latency::of(&outcome.latency_us),
        );
        result.cpu = Some(cpu);
        result
    }

    /// Runs every session to `stop` on its own task; merges what they measured.
    async fn run_sessions(&mut self, plan: &Arc<Plan>, stop: Stop) -> SessionOutcome {
        let tasks: Vec<_> = self
            .sessions
            .drain(..)
            .map(|session| tokio::spawn(driver::drive(session, plan.clone(), stop.clone())))
            .collect();
        let mut total = SessionOutcome::default();
        for task in tasks {
            match task.await {
                Ok((session, outcome)) => {
                    self.sessions.push(session);
                    total.merge(outcome);
                }
                Err(err) => {
                    total
                        .failure
                        .get_or_insert_with(|| format!("session task: {err}"));
                }
            }
        }
        self.sessions.sort_by_key(|s| s.index);
        total
    }

    /// Deletes everything the run may have made, children first. Tolerant of nodes that are
    /// not there (a failed or partial setup), so it is safe to call at any point.
    pub async fn cleanup(&mut self) -> CleanupReport {
        let mut clients: Vec<Client> = self
            .clients()
            .into_iter()
            .filter(|c| c.close_reason().is_none())
            .collect();
        let mut report = CleanupReport {
            target: self.target.name.clone(),
            root: self.layout.root.clone(),
            deleted: 0,
            already_gone: 0,
            failed: 0,
        };
        if clients.is_empty() {
            // Every session broke: one fresh connection to clean up with, to the first server
            // of the target's that takes one.
            for server in self.target.servers() {
                if let Ok(client) = Client::connect(server, ConnectOptions::default()).await {
                    clients.push(client);
                    break;
                }
            }
            if clients.is_empty() {
                report.failed = 1;
                return report;
            }
        }
        let delete = |path: String| multi_op::delete(&path, -1);
        let mut created: Vec<MultiOp> = Vec::new();
        for session in &self.sessions {
            let mut failed = session.failed_creates.clone();
            failed.sort_unstable();
            for index in 0..session.next_create {
                if failed.binary_search(&index).is_err() {
                    created.push(delete(self.layout.created(session.index, index)));
                }
            }
        }
        let keys: Vec<MultiOp> = self.keys.iter().cloned().map(delete).collect();
        let mut parents: Vec<MultiOp> = self
            .sessions
            .iter()
            .map(|s| delete(self.layout.session_parent(s.index)))
            .collect();
        parents.push(delete(self.layout.create_parent()));
        parents.push(delete(self.layout.keys_parent()));
        let levels = [
            created,
            keys,
            parents,
            vec![delete(self.layout.root.clone())],
        ];
        for level in levels {
            let tally: Tally = batch::run_tolerant(&clients, level, ErrorCode::NoNode).await;
            report.deleted += tally.done;
            report.already_gone += tally.skipped;
            report.failed += tally.failed;
        }
        report
    }

    /// Closes every session (closeSession), ignoring sessions whose connection already broke.
    pub async fn close(self) {
        let closes = self.sessions.iter().map(|s| s.client.close());
        let _ = futures::future::join_all(closes).await;
    }
}
