//! Crash tests with real processes: a `corral server` is SIGKILLed under concurrent,
//! pipelined, acknowledged writes, restarted on the same data directory, and checked against
//! a model of everything acknowledged so far. Hundreds of kill/restart cycles per run.
//!
//! What is checked after every restart (see [`verify`]): no acknowledged create, multi or
//! setData is lost; writes in flight at the kill are all-or-nothing (a multi of 2–3 creates
//! wholly present or wholly absent, a set at the acknowledged version or exactly one past it
//! with its own data) and, once found absent, never reappear; sequential numbering has no
//! gap and `cversion`/`numChildren` agree; the server's zxid is not behind any acknowledged
//! reply. After every kill `corral data inspect` must find no corruption (a crash may only
//! leave a torn tail and temporary files). After the last cycle the server is stopped
//! gracefully, restarted (`ruok` must answer `imok`), fully checked, stopped again, and
//! `corral data dump` of the directory must equal the model.
//!
//! The three tests differ in where the kills land:
//! - `kill_under_load`: ordinary group commit, preallocation growth (256 KiB steps) and
//!   1 MiB segments, so old segments are purged behind the snapshots;
//! - `kill_during_snapshots`: `snapCount=80` and larger nodes, so a snapshot (plus snapshot
//!   and log purging) runs most of the time; kills that leave a `snapshot-*.tmp` are counted;
//! - `kill_during_segment_rollover`: 4 KiB segments (`corral.logSegmentBytes`) and 4 KiB
//!   preallocation, so the log rolls over every few dozen entries; kills that leave a
//!   `log-*.seg.tmp` are counted. Its log is in a separate `dataLogDir` (and the offline
//!   tools get `--log-dir`).
//!
//! In a quarter of the cycles a power loss is simulated on top of the kill (see [`tear`]):
//! the last log record, if it was never acknowledged, loses its end; `corral data inspect`
//! must report the torn tail, the restart must repair it, and the write must be absent.
//!
//! In 15% of the cycles (and before the directory's first start) a server is also killed
//! while starting (recovery, election, first writes), before the restart that is checked.
//!
//! Seeded: each test prints its seed; `CRASH_SEED=<n>` replays the op sequences and kill
//! delays (the interleaving of replies is the OS's). `CRASH_CYCLES=<n>` overrides the number
//! of cycles (e.g. a long soak). A failure keeps the data directory and prints its path.
//!
//! [`data_tools`] tests `corral data inspect` and `corral data dump` on known data, a torn
//! tail, and corrupted snapshot, segment and state files.
//!
//! Map: [`support`] (server process, seeds, bounded waits), [`model`], [`workload`] (the
//! load and the kill), [`verify`] (checks after a restart), [`cycle`] (one test's loop),
//! [`offline`] (inspect/dump against the model), [`tear`] (the simulated power loss),
//! [`data_tools`].

mod cycle;
mod data_tools;
mod model;
mod offline;
mod support;
mod tear;
mod verify;
mod workload;

use workload::{Profile, TmpIn};

/// Cycles per test unless `CRASH_CYCLES` says otherwise.
fn cycles(default: u64) -> u64 {
    std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
fn kill_under_load() {
    cycle::run(&Profile {
        name: "kill_under_load",
        cycles: cycles(80),
        workers: 4,
        keys_per_worker: 8,
        depth: 8,
        data_bytes: (16, 200),
        kill_after_ms: (5, 250),
        ops_per_worker_max: 2_000,
        full_check_every: 16,
        cfg: vec![
            ("snapCount", "2000"),
            ("preAllocSize", "256"),
            ("corral.logSegmentBytes", "1048576"),
        ],
        kill_on_tmp_in: None,
        separate_log_dir: false,
        tear_percent: 25,
        startup_kill_percent: 15,
    });
}

#[test]
fn kill_during_snapshots() {
    cycle::run(&Profile {
        name: "kill_during_snapshots",
        cycles: cycles(80),
        workers: 3,
        keys_per_worker: 8,
        depth: 8,
        data_bytes: (200, 1500),
        kill_after_ms: (5, 250),
        ops_per_worker_max: 2_000,
        full_check_every: 16,
        cfg: vec![("snapCount", "80"), ("preAllocSize", "1024")],
        kill_on_tmp_in: Some(TmpIn::Snapshots),
        separate_log_dir: false,
        tear_percent: 25,
        startup_kill_percent: 15,
    });
}

#[test]
fn kill_during_segment_rollover() {
    cycle::run(&Profile {
        name: "kill_during_segment_rollover",
        cycles: cycles(80),
        workers: 4,
        keys_per_worker: 8,
        depth: 8,
        data_bytes: (16, 120),
        kill_after_ms: (5, 250),
        ops_per_worker_max: 2_000,
        full_check_every: 16,
        cfg: vec![
            ("snapCount", "400"),
            ("preAllocSize", "4"),
            ("corral.logSegmentBytes", "4096"),
        ],
        kill_on_tmp_in: Some(TmpIn::Log),
        separate_log_dir: true,
        tear_percent: 25,
        startup_kill_percent: 15,
    });
}
