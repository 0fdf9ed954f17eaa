//! Deterministic simulation of a Corral ensemble.
//!
//! A seed decides everything: the ensemble (3 or 5 servers, each started with
//! `corral_server::start_in` on its own in-memory file system and virtual clock, attached to
//! one `corral_peer::memory::MemoryNet`), the clients and what they do, and the faults
//! (partitions, isolated servers, one-way blocks, message loss, delay and duplication, power
//! losses with each of `MemVfs`'s crash modes, clean restarts). After every step the cheap
//! invariants are checked; at the end the ones that need a whole, quiet ensemble (see
//! [`invariants`] and [`run`]).
//!
//! Why a seed replays exactly: the whole ensemble runs on one thread, in a current-thread
//! tokio runtime whose clock is paused (time jumps to the next timer when nothing is ready)
//! and whose choice among ready `select!` branches is seeded (`rng_seed`, which needs
//! `--cfg tokio_unstable`, set in the workspace's `.cargo/config.toml`); openraft's random
//! election timeouts come from `corral_entry::runtime`, seeded for this thread; the net, the
//! workload and the schedule draw from generators seeded from the seed; nothing runs on
//! another thread (inline log writer and snapshot files); every map iterated is ordered.
//! [`run_seed`] returns a fingerprint of everything that happened, which the tests compare
//! between two runs.
//!
//! Replay a failing seed: `SIM_SEED=<n> cargo test -p corral-sim --release -- replay --nocapture`
//! (add `SIM_LOG=info` for the servers' logs).

pub mod cluster;
pub mod invariants;
pub mod rng;
pub mod run;
pub mod trace;
pub mod workload;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use invariants::Violation;
pub use run::{SimOptions, Summary};
pub use trace::Trace;

/// The outcome of one seed.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub seed: u64,
    pub trace: Trace,
    /// `Ok` with what ran, or the broken property (a panic anywhere is one too).
    pub result: Result<Summary, Violation>,
}

impl SeedReport {
    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }

    /// The command that replays this seed.
    pub fn replay_command(&self) -> String {
        format!(
            "SIM_SEED={} cargo test -p corral-sim --release -- replay --nocapture",
            self.seed
        )
    }

    /// What to print when the seed failed: the seed, the violation, the replay command and
    /// the last `tail` steps.
    pub fn failure_text(&self, tail: usize) -> String {
        let Err(violation) = &self.result else {
            return format!("seed={} passed", self.seed);
        };
        let mut text = format!(
            "seed={} FAILED: {violation}\nreplay: {}\nlast steps:\n",
            self.seed,
            self.replay_command()
        );
        for line in self.trace.tail(tail) {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// Runs one seed on a runtime of its own, on the calling thread.
pub fn run_seed(seed: u64, options: &SimOptions) -> SeedReport {
    corral_entry::runtime::seed_thread_rng(seed);
    let mut trace = Trace::default();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let runtime = runtime(seed);
        runtime.block_on(async {
            START.with(|start| start.set(Some(tokio::time::Instant::now())));
            run::simulate(seed, options, &mut trace).await
        })
    }));
    let result = match outcome {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".to_owned());
            Err(Violation::new("no panic", message))
        }
    };
    trace.mix(match &result {
        Ok(_) => 1,
        Err(_) => 2,
    });
    SeedReport {
        seed,
        trace,
        result,
    }
}

/// A current-thread runtime on paused time whose `select!` choices follow `seed`; a panic in
/// any task stops it (and fails the seed) instead of disappearing into a `JoinHandle`.
fn runtime(seed: u64) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .rng_seed(tokio::runtime::RngSeed::from_bytes(&seed.to_le_bytes()))
        .unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime)
        .build()
        .expect("a current-thread runtime")
}

/// Logs of the servers to stderr, filtered by `SIM_LOG` (as `RUST_LOG`), stamped with the
/// virtual time, with the trace's lines among them as they happen; for a replay.
pub fn init_logging() {
    if let Ok(filter) = std::env::var("SIM_LOG") {
        trace::ECHO.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_timer(VirtualTime)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Milliseconds of tokio's (virtual) time since the runtime started.
struct VirtualTime;

impl tracing_subscriber::fmt::time::FormatTime for VirtualTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let ms = match tokio::runtime::Handle::try_current() {
            Ok(_) => START.with(|start| start.get().map(|s| s.elapsed().as_millis())),
            Err(_) => None,
        };
        match ms {
            Some(ms) => write!(w, "{ms:>7}ms"),
            None => write!(w, "      -  "),
        }
    }
}

thread_local! {
    /// When this thread's simulation started (for the log's timestamps).
    static START: std::cell::Cell<Option<tokio::time::Instant>> =
        const { std::cell::Cell::new(None) };
}
