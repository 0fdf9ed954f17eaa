//! zkload: load against any ZooKeeper-compatible server or ensemble, driven through the
//! `zookeeper-client` crate, a client Corral did not write, so a benchmark of Corral does not
//! rest on Corral's own client (`corral bench` uses `corral-client`).
//!
//! A run: open `--sessions` sessions (spread over the connect string's servers), make a root
//! node, its parents and `--keys` keys; for each `--op` in turn, a warm-up phase and a measured
//! phase with `--in-flight` requests pipelined per session; then delete everything it made and
//! close the sessions. The report gives ops/s, latency percentiles, failures by kind and, with
//! `--pid`, the servers' CPU time per op over each measured phase.
//!
//! Map:
//! - [`args`]: the command line and its validation into a [`Config`].
//! - [`session`]: opening (under one deadline) and closing the sessions.
//! - [`tree`]: making and removing the run's nodes, pipelined; [`layout`]: their paths.
//! - [`driver`]: one session through one phase.
//! - [`stats`]: latency histograms, failures by kind; [`cpu`]: `/proc/<pid>/stat`.
//! - [`report`]: the [`Report`], as a table or JSON.
//!
//! `scripts/bench/compare.sh` and `scripts/bench/ensemble-compare.sh` run it beside
//! `corral bench` against Corral and Apache ZooKeeper.

pub mod args;
pub mod cpu;
pub mod driver;
pub mod error;
pub mod layout;
pub mod report;
pub mod session;
pub mod stats;
pub mod tree;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use zookeeper_client as zk;

pub use args::{Args, Config, Op, Spread};
pub use error::LoadError;
pub use report::Report;

use driver::Plan;
use layout::Layout;
use report::{OpResult, Settings};
use session::Session;
use stats::Tally;
use tree::CleanupReport;

/// Runs the load `config` describes. Fails only when the sessions cannot be opened or the
/// nodes cannot be made (after removing whatever was made); failures of requests while the
/// load runs are counted in the report.
pub async fn run(config: &Config) -> Result<Report, LoadError> {
    let seed = config.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let layout = Layout::new(config.root.as_deref());
    let value = vec![b'v'; config.value_bytes];
    let mut sessions = session::open_all(config).await?;

    let prepared = tree::prepare(
        &clients(&sessions),
        &layout,
        config.sessions,
        config.keys,
        &value,
    )
    .await;
    match prepared {
        Ok(()) => {}
        // Not ours: nothing to remove.
        Err(err @ LoadError::RootExists(_)) => {
            session::close(clients(&sessions)).await;
            return Err(err);
        }
        Err(err) => {
            finish(config, sessions, &layout).await;
            return Err(err);
        }
    }

    let plan = |op: Op, round: usize| Plan {
        op,
        layout: layout.clone(),
        keys: config.keys,
        value: value.clone(),
        read_ratio: config.read_ratio,
        in_flight: config.in_flight,
        seed: seed.wrapping_add(round as u64),
    };
    let mut results = Vec::with_capacity(config.ops.len());
    for (round, &op) in config.ops.iter().enumerate() {
        let plan = Arc::new(plan(op, round));
        if !config.warmup.is_zero() {
            run_phase(&mut sessions, &plan, Instant::now() + config.warmup).await;
        }
        let before = cpu::Reading::now(&config.pids);
        let started = Instant::now();
        let tally = run_phase(&mut sessions, &plan, started + config.measure).await;
        let elapsed_s = started.elapsed().as_secs_f64();
        let cpu = before.until(&cpu::Reading::now(&config.pids), tally.ops);
        results.push(OpResult::new(op, tally, elapsed_s, cpu));
    }

    let cleanup = finish(config, sessions, &layout).await;
    Ok(Report {
        settings: Settings::new(config, &layout.root, seed),
        results,
        cleanup,
    })
}

fn clients(sessions: &[Session]) -> Vec<zk::Client> {
    sessions.iter().map(|s| s.client.clone()).collect()
}

/// Every session through one phase, each on its own task (so they spread over the runtime's
/// threads); what they measured, merged.
async fn run_phase(sessions: &mut Vec<Session>, plan: &Arc<Plan>, deadline: Instant) -> Tally {
    let tasks: Vec<_> = sessions
        .drain(..)
        .map(|session| tokio::spawn(driver::drive(session, plan.clone(), deadline)))
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        // A driver does not panic; if one did, its session is lost and the run goes on, which
        // cleanup tolerates (that session's created nodes are left and reported as failed
        // deletes of its parent).
        if let Ok((session, tally)) = task.await {
            sessions.push(session);
            total.merge(tally);
        }
    }
    sessions.sort_by_key(|s| s.index);
    total
}

/// Removes the run's nodes through the sessions still usable (or a spare session when none
/// is), then closes every session.
async fn finish(config: &Config, sessions: Vec<Session>, layout: &Layout) -> CleanupReport {
    let mut created = vec![0; config.sessions];
    for s in &sessions {
        created[s.index] = s.next_create;
    }
    let mut usable: Vec<zk::Client> = sessions
        .iter()
        .map(|s| s.client.clone())
        .filter(session::is_usable)
        .collect();
    if usable.is_empty() {
        usable.extend(session::open_spare(config).await);
    }
    let report = if usable.is_empty() {
        CleanupReport {
            root: layout.root.clone(),
            skipped: Some("no session could be opened".into()),
            ..CleanupReport::default()
        }
    } else {
        tree::cleanup(&usable, layout, &created, config.keys).await
    };
    let mut all = clients(&sessions);
    all.extend(usable);
    drop(sessions);
    session::close(all).await;
    report
}
