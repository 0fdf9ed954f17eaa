//! Size: 5 keys x 2,000 operations from 8 concurrent sessions, with unknown outcomes, must be
//! decided (not given up on). Measured on the 2-core development machine in a debug build:
//! see the eprintln output (`cargo test -p corral-history perf -- --nocapture`); it is well
//! under a second. No timing assertion: machines differ, correctness must not.

use std::time::Instant;

use corral_history::{check_all, CheckOptions};

use crate::sim::{simulate, Config};

#[test]
fn five_keys_of_two_thousand_ops() {
    for seed in [1, 2] {
        let (history, initial) = simulate(Config {
            keys: 5,
            sessions: 8,
            ops: 10_000,
            unknown_per_mille: 30,
            repeat_per_mille: 100,
            seed,
        });
        let start = Instant::now();
        let verdict = check_all(&history, &initial, &CheckOptions::default());
        eprintln!(
            "seed {seed}: {} ops checked in {:?}: {verdict}",
            history.len(),
            start.elapsed()
        );
        assert!(verdict.is_ok(), "{verdict}");
    }
}
