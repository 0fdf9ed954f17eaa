//! The load generator behind `corral bench`.
//!
//! Built to compare Corral with Apache ZooKeeper on the same machine: several targets run in
//! one invocation, each workload runs on every target before the next workload starts (A
//! create, B create, A set, B set, ...) so machine noise hits both alike, and the report gives
//! the ratios. Each target gets its own root node, unique per run, and everything under it is
//! deleted at the end.
//!
//! Map:
//! - [`args`]: [`BenchArgs`] (a `clap::Args`), workloads, targets, validation.
//! - [`target`]: one server for the whole run: sessions, setup, workloads, cleanup.
//! - [`driver`]: one session through one workload, `in_flight` requests outstanding.
//! - [`batch`]: pipelined multi batches for setup and cleanup.
//! - [`layout`]: where the run's nodes live.
//! - [`stats`], [`report`]: latency histograms, the [`BenchReport`] and its printing.
//! - [`populate`]: `corral bench populate`, a large tree left on each target (for memory,
//!   restart and snapshot measurements).
//! - [`fsync`]: `corral bench fsync`, the raw fdatasync rate of a disk.
//! - [`failover`]: `corral bench failover`, the write outage when an ensemble's leader is
//!   killed.
//! - [`cpu`]: server and load-generator CPU time per op from `/proc/<pid>/stat`.
//!
//! A target may be an ensemble (`name=host:port|host:port|...`): its sessions spread round
//! robin over its servers.
//!
//! `scripts/bench/compare.sh` drives all of it against Corral and Apache ZooKeeper standalone,
//! `scripts/bench/ensemble-compare.sh` against three-server ensembles of both.

pub mod args;
pub mod batch;
pub mod cpu;
pub mod driver;
pub mod error;
pub mod failover;
pub mod fsync;
pub mod layout;
pub mod populate;
pub mod report;
pub mod stats;
pub mod target;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use args::{BenchArgs, Mode, Target, Workload};
pub use error::BenchError;
pub use report::BenchReport;

use report::RunConfig;
use target::TargetRun;

/// Runs the benchmark the arguments describe and returns its report (print it with
/// [`BenchReport::print`]). Fails only when a target cannot be connected to or prepared; what
/// goes wrong during a workload is counted in the report. In populate mode any failure fails
/// the run (the tree is then incomplete); in fsync mode, an I/O error does.
pub async fn run(args: BenchArgs) -> anyhow::Result<BenchReport> {
    let targets = args.validate()?;
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    match args.mode {
        Mode::Workloads => {}
        Mode::Populate => {
            let mut populated = Vec::with_capacity(targets.len());
            for target in &targets {
                populated.push(populate::populate(target, &args).await?);
            }
            let mut report = empty_report(&args, targets, seed);
            report.populate = populated;
            return Ok(report);
        }
        Mode::Fsync => {
            let (dir, duration) = (args.dir.clone(), Duration::from_secs_f64(args.duration_s));
            let bytes = args.value_bytes;
            let result =
                tokio::task::spawn_blocking(move || fsync::probe(&dir, duration, bytes)).await??;
            let mut report = empty_report(&args, targets, seed);
            report.fsync = Some(result);
            return Ok(report);
        }
        Mode::Failover => {
            let pid = args.kill_pid.ok_or_else(|| {
                BenchError::InvalidArgs("failover needs --kill-pid (the leader's pid)".into())
            })?;
            let result =
                failover::failover(&targets[0], &args, move || failover::sigkill(pid)).await?;
            let mut report = empty_report(&args, targets, seed);
            report.failover = Some(result);
            return Ok(report);
        }
    }
    let value = Bytes::from(vec![b'v'; args.value_bytes]);
    let key_space = if args.ops.iter().any(|w| w.uses_keys()) {
        args.key_space
    } else {
        0
    };

    let mut runs = Vec::with_capacity(targets.len());
    for (index, target) in targets.iter().enumerate() {
        match TargetRun::connect(index, target, &args).await {
            Ok(run) => runs.push(run),
            Err(err) => {
                finish(runs).await;
                return Err(err.into());
            }
        }
    }
    for index in 0..runs.len() {
        if let Err(err) = runs[index].prepare(key_space, &value).await {
            finish(runs).await;
            return Err(err.into());
        }
    }

    let mut results = Vec::new();
    for (round, &workload) in args.ops.iter().enumerate() {
        for run in &mut runs {
            let seed = seed.wrapping_add(round as u64);
            tracing::info!(workload = workload.name(), target = %run.target.name, "running");
            results.push(run.run_workload(workload, &args, &value, seed).await);
        }
    }
    let cleanup = finish(runs).await;

    Ok(BenchReport {
        mode: Mode::Workloads,
        config: RunConfig {
            sessions: args.sessions,
            in_flight: args.in_flight,
            value_bytes: args.value_bytes,
            key_space,
            read_ratio: args.read_ratio,
            duration_s: args.requests.is_none().then_some(args.duration_s),
            requests: args.requests,
            warmup_s: args.warmup_s,
            seed,
        },
        ratios: report::ratios(&targets, &results),
        targets,
        results,
        cleanup,
        populate: Vec::new(),
        fsync: None,
        failover: None,
    })
}

/// A report of the populate or fsync mode, before its result is filled in.
fn empty_report(args: &BenchArgs, targets: Vec<Target>, seed: u64) -> BenchReport {
    BenchReport {
        mode: args.mode,
        config: RunConfig {
            sessions: args.sessions,
            in_flight: args.in_flight,
            value_bytes: args.value_bytes,
            key_space: 0,
            read_ratio: args.read_ratio,
            duration_s: Some(args.duration_s),
            requests: None,
            warmup_s: 0.0,
            seed,
        },
        targets,
        results: Vec::new(),
        ratios: Vec::new(),
        cleanup: Vec::new(),
        populate: Vec::new(),
        fsync: None,
        failover: None,
    }
}

/// Cleans up and closes every target.
async fn finish(runs: Vec<TargetRun>) -> Vec<report::CleanupReport> {
    let mut reports = Vec::with_capacity(runs.len());
    for mut run in runs {
        reports.push(run.cleanup().await);
        run.close().await;
    }
    reports
}
