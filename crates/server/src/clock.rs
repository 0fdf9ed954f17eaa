//! Time, injected. Everything that reads a clock takes it from a [`Clock`], so that a server
//! can run in a test or a simulation on virtual time.
//!
//! Two readings, kept apart because they serve different purposes: the wall clock stamps
//! txns (ZooKeeper's ctime/mtime, the "now" of TTL checks — decided once by the server that
//! proposes the txn, then replicated), and the monotonic clock measures session deadlines,
//! which must not jump when the wall clock is adjusted.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of time for one server.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn wall_ms(&self) -> i64;
    /// Milliseconds since an arbitrary origin; never goes back.
    fn monotonic_ms(&self) -> u64;
}

/// The operating system's clocks.
#[derive(Debug)]
pub struct SystemClock {
    origin: std::time::Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            origin: std::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn wall_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    fn monotonic_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Tokio's clock: virtual when the runtime's time is paused (`start_paused`, `time::advance`),
/// so in-process tests and the simulation move time at will. The wall clock is a fixed epoch
/// plus the elapsed (virtual) time.
#[derive(Debug)]
pub struct TokioClock {
    origin: tokio::time::Instant,
    wall_origin_ms: i64,
}

impl TokioClock {
    /// A clock whose wall reading starts at `wall_origin_ms`.
    pub fn new(wall_origin_ms: i64) -> TokioClock {
        TokioClock {
            origin: tokio::time::Instant::now(),
            wall_origin_ms,
        }
    }
}

impl Clock for TokioClock {
    fn wall_ms(&self) -> i64 {
        self.wall_origin_ms
            .saturating_add(i64::try_from(self.monotonic_ms()).unwrap_or(i64::MAX))
    }

    fn monotonic_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_virtual_time() {
        let clock = TokioClock::new(1_000);
        assert_eq!(clock.monotonic_ms(), 0);
        tokio::time::advance(std::time::Duration::from_millis(2_500)).await;
        assert_eq!(clock.monotonic_ms(), 2_500);
        assert_eq!(clock.wall_ms(), 3_500);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock::new().wall_ms() > 1_577_836_800_000);
    }
}
