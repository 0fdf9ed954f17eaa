//! Differential tests: the same operations against Apache ZooKeeper (Debian's 3.8.0, from its
//! jars) and against Corral, every reply and every watch event compared field by field.
//!
//! Why: Corral's product is wire compatibility; comparing with the real server finds the cases
//! nobody thought to write a test for. Corral implements 3.9 while Debian ships 3.8.0, so the
//! handful of places where those two versions differ are listed once, with references, in
//! `versions.rs`; the generator steers clear of exactly those cases (or the comparison
//! normalises exactly those fields), and `corral39.rs` checks Corral's 3.9 behaviour for each.
//!
//! Map:
//! - `servers`: one Apache ZooKeeper and one Corral per test process, same settings.
//! - `pair`: a session held on both servers; `compare`: normal forms of replies and events;
//!   `duo`: helpers for the hand-written tests.
//! - `model`: the shadow state the generator consults; `gen`: the seeded generator.
//! - `runner`: runs one sequence, comparing after every step; `versions`: 3.8 vs 3.9.
//! - `sequences` (here): at least 500 generated sequences per run, several at a time.
//! - `targeted`: hand-written differential cases (built-in nodes, path validation, sequential
//!   names, cversion/pzxid, getACL masking, handshake, reconnects, setWatches).
//! - `corral39`: Corral's 3.9 behaviour where the versions differ.
//! - `ensembles`: the generated sequences against a three-server ensemble of each, through a
//!   follower (`ensemble_sequences`, `DIFF_ENSEMBLE_SEQUENCES`, default 100).
//!
//! Replaying: a failure prints its seed; `DIFF_SEED=<n> cargo test -p corral --test
//! differential generated_sequences` runs that sequence alone, and `DIFF_TRACE=1` prints each
//! step with its normalised reply and the events. `DIFF_SEQUENCES=<n>` and `DIFF_BASE_SEED=<n>`
//! change how many sequences run and where their seeds start (to explore beyond CI's seeds).
//!
//! Without Java or the ZooKeeper jars every test prints `SKIP: <reason>` and passes
//! (`scripts/install-test-deps.sh` installs them).

mod compare;
mod corral39;
mod duo;
mod ensembles;
mod gen;
mod model;
mod pair;
mod runner;
mod servers;
mod targeted;
mod versions;

use std::sync::Arc;
use std::time::Instant;

use runner::{Sequence, Stats};
use tokio::sync::Semaphore;

/// Sequences per run unless `DIFF_SEQUENCES` says otherwise.
const SEQUENCES_DEFAULT: u64 = 500;
/// First seed unless `DIFF_BASE_SEED` says otherwise.
const BASE_SEED_DEFAULT: u64 = 1;
/// Sequences against the two ensembles unless `DIFF_ENSEMBLE_SEQUENCES` says otherwise.
const ENSEMBLE_SEQUENCES_DEFAULT: u64 = 100;
/// Sequences in flight at once: they mostly wait on round trips, so more than the cores.
const CONCURRENCY: usize = 16;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// A multi-threaded runtime for one test (the servers are separate processes).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn generated_sequences() {
    let Some(targets) = servers::shared("generated_sequences") else {
        return;
    };
    run_sequences(
        targets,
        seeds("DIFF_SEQUENCES", SEQUENCES_DEFAULT),
        "differential",
    );
}

/// The same sequences through a follower of a three-server ensemble of each.
#[test]
fn ensemble_sequences() {
    if !corral_testkit::apache_zk_or_skip("ensemble_sequences") {
        return;
    }
    let ensembles = ensembles::start().expect("both ensembles start");
    let seeds = seeds("DIFF_ENSEMBLE_SEQUENCES", ENSEMBLE_SEQUENCES_DEFAULT);
    run_sequences(ensembles.targets.clone(), seeds, "differential (ensembles)");
    ensembles::compare_operator_view(&ensembles).expect("the same operator view");
}

fn seeds(count_var: &str, count_default: u64) -> Vec<u64> {
    match env_u64("DIFF_SEED") {
        Some(seed) => vec![seed],
        None => {
            let base = env_u64("DIFF_BASE_SEED").unwrap_or(BASE_SEED_DEFAULT);
            let count = env_u64(count_var).unwrap_or(count_default);
            (base..base + count).collect()
        }
    }
}

fn run_sequences(targets: servers::Targets, seeds: Vec<u64>, what: &str) {
    let started = Instant::now();
    let total = runtime().block_on(async {
        let targets = Arc::new(targets);
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = Vec::with_capacity(seeds.len());
        for seed in seeds.iter().copied() {
            let (targets, limit) = (targets.clone(), limit.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore");
                Sequence::new(&targets, seed).run().await
            }));
        }
        let mut total = Stats::default();
        let mut failures = Vec::new();
        for task in tasks {
            match task.await.expect("sequence task panicked") {
                Ok(stats) => total.add(&stats),
                Err(message) => failures.push(message),
            }
        }
        if let Some(first) = failures.first() {
            let others: Vec<String> = failures[1..]
                .iter()
                .map(|f| f.lines().take(3).collect::<Vec<_>>().join(" | "))
                .collect();
            panic!(
                "{} of {} sequences differ; the first:\n{first}\nthe others:\n{}",
                failures.len(),
                seeds.len(),
                others.join("\n")
            );
        }
        total
    });
    println!(
        "{what}: {} sequences, {} steps, {} requests, {} events compared in {:?}; \
         version differences normalised: {:?}",
        total.sequences,
        total.steps,
        total.requests,
        total.events,
        started.elapsed(),
        total.normalised
    );
    assert_eq!(total.sequences, seeds.len());
}

#[test]
fn version_difference_table_is_complete() {
    // Every key used by the generator or the comparison is in the table, once.
    let keys: Vec<&str> = versions::DIFFERENCES.iter().map(|d| d.key).collect();
    for key in [
        versions::NOTIFICATION_ZXID,
        versions::EXISTS_NEEDS_READ,
        versions::BARE_CHECK,
        versions::MULTI_CREATE_TYPES,
        versions::CREATE_TTL_NON_TTL_MODE,
        versions::WATCH_MODES,
    ] {
        assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{key}");
    }
    for d in versions::DIFFERENCES
        .iter()
        .chain(versions::CORRAL_DIFFERENCES)
    {
        assert!(!d.reference.is_empty() && !d.what.is_empty() && !d.handling.is_empty());
    }
}
