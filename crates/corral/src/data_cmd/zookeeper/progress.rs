//! Progress on stderr for long runs: at most one line a second, and only once a run has taken
//! a second, so small imports print nothing but their summary.

use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(1);

pub(crate) struct Progress {
    started: Instant,
    last: Instant,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        let now = Instant::now();
        Progress {
            started: now,
            last: now,
        }
    }

    /// Prints `line()` if a second has passed since the start and the last line.
    pub(crate) fn tick(&mut self, line: impl FnOnce() -> String) {
        let now = Instant::now();
        if now.duration_since(self.last) >= INTERVAL {
            self.last = now;
            eprintln!(
                "[{:>5.1}s] {}",
                now.duration_since(self.started).as_secs_f64(),
                line()
            );
        }
    }
}
