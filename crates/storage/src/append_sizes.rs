//! Sizes of the entries appended to the log: last, smallest and largest, since the last reset.
//!
//! On a Raft leader every append is one of its own proposals, which is what ZooKeeper's
//! `Proposal sizes last/min/max` (`srvr`, `stat`) and `zk_*_proposal_size` (`mntr`) report;
//! the server resets these when it becomes leader. Lock-free: the append path pays three
//! relaxed atomic operations per entry.

use std::sync::atomic::{AtomicI64, Ordering};

/// "No entry since the reset", as ZooKeeper prints it.
const NONE: i64 = -1;

/// Last, smallest and largest encoded entry, in bytes.
#[derive(Debug)]
pub struct AppendSizes {
    last_bytes: AtomicI64,
    min_bytes: AtomicI64,
    max_bytes: AtomicI64,
}

/// One reading of [`AppendSizes`]; all -1 before the first entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendSizesReading {
    pub last_bytes: i64,
    pub min_bytes: i64,
    pub max_bytes: i64,
}

impl Default for AppendSizes {
    fn default() -> Self {
        AppendSizes {
            last_bytes: AtomicI64::new(NONE),
            min_bytes: AtomicI64::new(NONE),
            max_bytes: AtomicI64::new(NONE),
        }
    }
}

impl AppendSizes {
    pub fn record(&self, bytes: usize) {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.last_bytes.store(bytes, Ordering::Relaxed);
        self.max_bytes.fetch_max(bytes, Ordering::Relaxed);
        let _ = self
            .min_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |min| {
                (min == NONE || bytes < min).then_some(bytes)
            });
    }

    /// Back to "no entry yet".
    pub fn reset(&self) {
        self.last_bytes.store(NONE, Ordering::Relaxed);
        self.min_bytes.store(NONE, Ordering::Relaxed);
        self.max_bytes.store(NONE, Ordering::Relaxed);
    }

    pub fn read(&self) -> AppendSizesReading {
        AppendSizesReading {
            last_bytes: self.last_bytes.load(Ordering::Relaxed),
            min_bytes: self.min_bytes.load(Ordering::Relaxed),
            max_bytes: self.max_bytes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_min_and_max_since_the_reset() {
        let sizes = AppendSizes::default();
        let none = AppendSizesReading {
            last_bytes: -1,
            min_bytes: -1,
            max_bytes: -1,
        };
        assert_eq!(sizes.read(), none);
        for bytes in [40, 10, 90, 30] {
            sizes.record(bytes);
        }
        assert_eq!(
            sizes.read(),
            AppendSizesReading {
                last_bytes: 30,
                min_bytes: 10,
                max_bytes: 90
            }
        );
        sizes.reset();
        assert_eq!(sizes.read(), none);
        sizes.record(7);
        assert_eq!(sizes.read().min_bytes, 7);
    }
}
