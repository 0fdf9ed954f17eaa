//! How long the log's fsyncs take: one reading per group commit (every file the group touched
//! synced once), counted, summed and bounded, plus how many took longer than a threshold
//! (ZooKeeper's `fsync.warningthresholdms`, 1 s). Lock-free; read by the server's operator view.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A group commit's fsyncs longer than this are counted apart (ZooKeeper's default threshold).
pub const FSYNC_WARNING_THRESHOLD: Duration = Duration::from_secs(1);

/// Fsync durations of the log since it was opened.
#[derive(Debug, Default)]
pub struct FsyncTimes {
    count: AtomicU64,
    total_micros: AtomicU64,
    max_micros: AtomicU64,
    over_threshold: AtomicU64,
}

/// A reading of [`FsyncTimes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsyncTimesReading {
    pub count: u64,
    pub total_micros: u64,
    pub max_micros: u64,
    /// Group commits whose fsyncs took longer than [`FSYNC_WARNING_THRESHOLD`].
    pub over_threshold: u64,
}

impl FsyncTimes {
    pub(crate) fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_micros.fetch_add(micros, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
        if took > FSYNC_WARNING_THRESHOLD {
            self.over_threshold.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn read(&self) -> FsyncTimesReading {
        FsyncTimesReading {
            count: self.count.load(Ordering::Relaxed),
            total_micros: self.total_micros.load(Ordering::Relaxed),
            max_micros: self.max_micros.load(Ordering::Relaxed),
            over_threshold: self.over_threshold.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sums_and_thresholds() {
        let times = FsyncTimes::default();
        times.record(Duration::from_micros(300));
        times.record(Duration::from_millis(1500));
        let r = times.read();
        assert_eq!(r.count, 2);
        assert_eq!(r.total_micros, 1_500_300);
        assert_eq!(r.max_micros, 1_500_000);
        assert_eq!(r.over_threshold, 1);
    }
}
