//! Server-wide counters behind `stat`, `srvr`, `mntr` and `/metrics`, and the latency figures
//! that the server and each connection keep the same way.

use std::sync::atomic::{AtomicU64, Ordering};

/// Min/avg/max of request latencies in ms, updated with relaxed atomics from any task.
#[derive(Debug, Default)]
pub(crate) struct LatencyStats {
    min_ms: AtomicU64,
    max_ms: AtomicU64,
    total_ms: AtomicU64,
    count: AtomicU64,
    last_ms: AtomicU64,
}

/// A reading of [`LatencyStats`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub min_ms: u64,
    pub avg_ms: f64,
    pub max_ms: u64,
    pub last_ms: u64,
    pub count: u64,
}

impl LatencyStats {
    pub(crate) fn record(&self, latency_ms: u64) {
        self.last_ms.store(latency_ms, Ordering::Relaxed);
        let count = self.count.fetch_add(1, Ordering::Relaxed);
        if count == 0 {
            self.min_ms.store(latency_ms, Ordering::Relaxed);
        } else {
            self.min_ms.fetch_min(latency_ms, Ordering::Relaxed);
        }
        self.max_ms.fetch_max(latency_ms, Ordering::Relaxed);
        self.total_ms.fetch_add(latency_ms, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> Latency {
        let count = self.count.load(Ordering::Relaxed);
        let total = self.total_ms.load(Ordering::Relaxed);
        Latency {
            min_ms: self.min_ms.load(Ordering::Relaxed),
            avg_ms: if count == 0 {
                0.0
            } else {
                total as f64 / count as f64
            },
            max_ms: self.max_ms.load(Ordering::Relaxed),
            last_ms: self.last_ms.load(Ordering::Relaxed),
            count,
        }
    }

    pub(crate) fn reset(&self) {
        for counter in [
            &self.min_ms,
            &self.max_ms,
            &self.total_ms,
            &self.count,
            &self.last_ms,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Count, sum and maximum of durations (snapshot writes): the `_count` and `_sum` of a
/// Prometheus summary, lock-free.
#[derive(Debug, Default)]
pub(crate) struct DurationSummary {
    count: AtomicU64,
    total_micros: AtomicU64,
    max_micros: AtomicU64,
}

/// A reading of [`DurationSummary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationReading {
    pub count: u64,
    pub total_micros: u64,
    pub max_micros: u64,
}

impl DurationSummary {
    pub(crate) fn record(&self, took: std::time::Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_micros.fetch_add(micros, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> DurationReading {
        DurationReading {
            count: self.count.load(Ordering::Relaxed),
            total_micros: self.total_micros.load(Ordering::Relaxed),
            max_micros: self.max_micros.load(Ordering::Relaxed),
        }
    }
}

/// Counters of the whole server.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub latency: LatencyStats,
    pub auth_failed: AtomicU64,
    pub connections_rejected: AtomicU64,
    pub watch_events_sent: AtomicU64,
    /// Times a request waited for `request_throttle_max_requests` (ZooKeeper's
    /// `request_throttle_wait_count`).
    pub throttled_requests: AtomicU64,
    /// Times a connection's reader paused because its client was not reading its replies.
    pub connections_paused: AtomicU64,
    /// Connections dropped because their client read nothing for a session timeout, or let
    /// their outbound queue pass its limit.
    pub connections_stalled: AtomicU64,
    /// Connections closed for not completing their handshake in time.
    pub sessionless_expired: AtomicU64,
    /// Throttled requests dropped because their connection closed while they waited.
    pub stale_requests_dropped: AtomicU64,
}

impl Counters {
    /// What `srst` resets (ZooKeeper's `ServerStats.reset`: packet counts and latency).
    pub(crate) fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_min_avg_max() {
        let stats = LatencyStats::default();
        assert_eq!(stats.read().count, 0);
        stats.record(4);
        stats.record(2);
        stats.record(9);
        let l = stats.read();
        assert_eq!((l.min_ms, l.max_ms, l.last_ms, l.count), (2, 9, 9, 3));
        assert!((l.avg_ms - 5.0).abs() < 1e-9);
        stats.reset();
        assert_eq!(stats.read().count, 0);
    }
}
