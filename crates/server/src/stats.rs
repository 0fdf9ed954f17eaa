//! Server-wide counters behind `stat`, `srvr`, `mntr`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct ServerStats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub outstanding_requests: AtomicU64,
    latency_min_ms: AtomicU64,
    latency_max_ms: AtomicU64,
    latency_total_ms: AtomicU64,
    latency_count: AtomicU64,
    pub auth_failed: AtomicU64,
    pub connections_rejected: AtomicU64,
    pub watch_events_sent: AtomicU64,
}

impl ServerStats {
    pub fn record_latency(&self, latency_ms: u64) {
        let count = self.latency_count.fetch_add(1, Ordering::Relaxed);
        if count == 0 {
            self.latency_min_ms.store(latency_ms, Ordering::Relaxed);
        } else {
            self.latency_min_ms.fetch_min(latency_ms, Ordering::Relaxed);
        }
        self.latency_max_ms.fetch_max(latency_ms, Ordering::Relaxed);
        self.latency_total_ms
            .fetch_add(latency_ms, Ordering::Relaxed);
    }

    /// (min, avg, max) in ms, as `Latency min/avg/max` prints them.
    pub fn latency(&self) -> (u64, f64, u64) {
        let count = self.latency_count.load(Ordering::Relaxed);
        if count == 0 {
            return (0, 0.0, 0);
        }
        let total = self.latency_total_ms.load(Ordering::Relaxed);
        (
            self.latency_min_ms.load(Ordering::Relaxed),
            total as f64 / count as f64,
            self.latency_max_ms.load(Ordering::Relaxed),
        )
    }

    pub fn reset(&self) {
        for counter in [
            &self.packets_received,
            &self.packets_sent,
            &self.latency_min_ms,
            &self.latency_max_ms,
            &self.latency_total_ms,
            &self.latency_count,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}
