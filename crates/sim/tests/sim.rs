//! The simulation's tests.
//!
//! - `seeds`: `SIM_SEEDS` seeds (default 1000) from `SIM_SEED_BASE` (default 0), on every
//!   core; each failing seed is printed with its violation, its replay command and its last
//!   steps. A seed that only breaks a property of [`KNOWN_BUGS`] is printed as SKIP. `SIM_STEPS`
//!   changes the steps per seed (default 40).
//! - `replay`: the seed in `SIM_SEED`, with its whole trace (and the servers' logs with
//!   `SIM_LOG=info`); does nothing without `SIM_SEED`.
//! - `a_seed_replays_exactly`: two runs of each of a few seeds give identical traces and
//!   fingerprints (every applied entry on every server, every client reply).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use corral_sim::{run_seed, SeedReport, SimOptions, Summary};

/// Steps printed after a failure.
const TAIL: usize = 25;

/// Seeds left out of the CI set, each with the reason (a known bug, written up).
const SKIPPED: &[(u64, &str)] = &[];

/// Properties a known, not yet fixed server bug breaks: a seed whose only violation is one of
/// these is printed as SKIP with the reason (and its replay command) instead of failing. The
/// seeds that hit a bug change with every change to the code, so they are matched by property,
/// not listed. Remove an entry once its bug is fixed.
const KNOWN_BUGS: &[(&str, &str)] = &[];

fn known_bug(report: &SeedReport) -> Option<&'static str> {
    let Err(violation) = &report.result else {
        return None;
    };
    KNOWN_BUGS
        .iter()
        .find(|(property, _)| *property == violation.property)
        .map(|(_, reason)| *reason)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn options() -> SimOptions {
    let mut options = SimOptions::default();
    if let Some(steps) = env_u64("SIM_STEPS") {
        options.steps = steps as usize;
    }
    options
}

#[test]
fn seeds() {
    let count = env_u64("SIM_SEEDS").unwrap_or(1000);
    let base = env_u64("SIM_SEED_BASE").unwrap_or(0);
    let options = options();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count.max(1) as usize);
    let next = Arc::new(AtomicU64::new(base));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let next = next.clone();
            let options = options.clone();
            std::thread::Builder::new()
                .name("sim".into())
                .stack_size(16 * 1024 * 1024)
                .spawn(move || {
                    let mut failed: Vec<SeedReport> = Vec::new();
                    let mut skipped = Vec::new();
                    let mut passed: Vec<Summary> = Vec::new();
                    loop {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        if seed >= base + count {
                            return (failed, skipped, passed);
                        }
                        if let Some((_, reason)) = SKIPPED.iter().find(|(s, _)| *s == seed) {
                            skipped.push(format!("SKIP seed={seed}: {reason}"));
                            continue;
                        }
                        let report = run_seed(seed, &options);
                        match (&report.result, known_bug(&report)) {
                            (Ok(summary), _) => passed.push(summary.clone()),
                            (Err(violation), Some(reason)) => skipped.push(format!(
                                "SKIP seed={seed}: known bug: {reason}\n  {violation}\n  replay: {}",
                                report.replay_command()
                            )),
                            (Err(_), None) => {
                                eprintln!("{}", report.failure_text(TAIL));
                                failed.push(report);
                            }
                        }
                    }
                })
                .expect("a simulation thread")
        })
        .collect();
    let mut failed = Vec::new();
    let mut passed = Vec::new();
    for worker in workers {
        let (f, skipped, p) = worker.join().expect("a simulation thread ended");
        failed.extend(f);
        passed.extend(p);
        for line in skipped {
            eprintln!("{line}");
        }
    }
    let sum = |f: fn(&Summary) -> u64| passed.iter().map(f).sum::<u64>();
    eprintln!(
        "{} seeds passed: {} client operations ({} with an unknown outcome), {} acknowledged \
         writes, {} in the checked histories, {} server restarts, {} snapshot restores, {} \
         terms, {} reconnections to an expired session, {} s of virtual time",
        passed.len(),
        sum(|s| s.ops),
        sum(|s| s.unknown),
        sum(|s| s.acked_writes as u64),
        sum(|s| s.history_ops as u64),
        sum(|s| s.restarts),
        sum(|s| s.restores),
        sum(|s| s.term),
        sum(|s| s.expired_seen),
        sum(|s| s.virtual_ms) / 1000,
    );
    let elapsed = started.elapsed();
    eprintln!(
        "{count} seeds from {base} in {:.1} s on {threads} threads ({:.1} seeds/s)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    failed.sort_by_key(|r| r.seed);
    let seeds: Vec<String> = failed.iter().map(|r| r.seed.to_string()).collect();
    assert!(
        failed.is_empty(),
        "{} of {count} seeds failed: {} (each printed above with its replay command)",
        failed.len(),
        seeds.join(", ")
    );
}

#[test]
fn replay() {
    let Some(seed) = env_u64("SIM_SEED") else {
        return;
    };
    corral_sim::init_logging();
    let report = run_seed(seed, &options());
    for line in &report.trace.lines {
        println!("{line}");
    }
    println!("fingerprint {:016x}", report.trace.fingerprint());
    assert!(report.passed(), "{}", report.failure_text(TAIL));
}

/// The second run of each seed is on a fresh thread (whatever a thread keeps from the seeds it
/// ran before must not matter: `seeds` runs many on each thread, `replay` one on its own).
///
/// Seed 119 snapshots often (snapCount 2): with snapshot files written on a blocking thread it
/// ran differently in 3 runs of 5; seed 3 needs the seeded `select!` and election timeouts.
#[test]
fn a_seed_replays_exactly() {
    let options = SimOptions::default();
    for seed in [3, 17, 40, 119] {
        let first = run_seed(seed, &options);
        let again = options.clone();
        let second = std::thread::spawn(move || run_seed(seed, &again))
            .join()
            .expect("the second run");
        assert_eq!(
            first.trace.lines, second.trace.lines,
            "seed {seed} ran differently the second time"
        );
        assert_eq!(
            first.trace.fingerprint(),
            second.trace.fingerprint(),
            "seed {seed}: same trace, different applied entries or replies"
        );
        assert!(first.trace.lines.len() > 30, "seed {seed} ran its steps");
    }
    let a = run_seed(3, &options);
    let b = run_seed(4, &options);
    assert_ne!(a.trace.fingerprint(), b.trace.fingerprint());
}
