//! What one session measured during one workload, and how sessions add up.
//!
//! Latency is kept in an HDR histogram of microseconds per session (one writer, no locks) and
//! merged after the run; percentiles come from the merged histogram.

use std::collections::BTreeMap;

use corral_client::corral_proto::ErrorCode;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Longest latency the histograms resolve; slower replies are recorded as this.
const LATENCY_US_MAX: u64 = 60_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// One session's share of a workload.
#[derive(Debug, Clone)]
pub struct SessionOutcome {
    /// Replies received (errors included).
    pub ops: u64,
    /// Replies whose header carried an error code, by code.
    pub error_codes: BTreeMap<i32, u64>,
    pub latency_us: Histogram<u64>,
    /// Why the session's connection broke, if it did.
    pub failure: Option<String>,
}

impl Default for SessionOutcome {
    fn default() -> Self {
        SessionOutcome {
            ops: 0,
            error_codes: BTreeMap::new(),
            latency_us: new_histogram(),
            failure: None,
        }
    }
}

impl SessionOutcome {
    pub fn record(&mut self, latency_us: u64, code: ErrorCode) {
        self.ops += 1;
        self.latency_us
            .saturating_record(latency_us.clamp(1, LATENCY_US_MAX));
        if !code.is_ok() {
            *self.error_codes.entry(code.as_i32()).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: SessionOutcome) {
        self.ops += other.ops;
        for (code, count) in other.error_codes {
            *self.error_codes.entry(code).or_default() += count;
        }
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        if self.failure.is_none() {
            self.failure = other.failure;
        }
    }
}

/// Latency percentiles of a workload, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl Latency {
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency {
                p50_us: 0,
                p99_us: 0,
                p999_us: 0,
                max_us: 0,
                mean_us: 0.0,
            };
        }
        Latency {
            p50_us: histogram.value_at_quantile(0.5),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
            mean_us: histogram.mean(),
        }
    }
}

/// Error codes by name, for the report.
pub fn named_codes(codes: &BTreeMap<i32, u64>) -> BTreeMap<String, u64> {
    codes
        .iter()
        .map(|(&code, &count)| {
            let name =
                ErrorCode::from_i32(code).map_or_else(|| code.to_string(), |c| format!("{c:?}"));
            (name, count)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_and_latencies() {
        let mut a = SessionOutcome::default();
        let mut b = SessionOutcome::default();
        for us in 1..=1000 {
            a.record(us, ErrorCode::Ok);
        }
        b.record(5000, ErrorCode::NoNode);
        b.failure = Some("gone".into());
        a.merge(b);
        assert_eq!(a.ops, 1001);
        assert_eq!(a.error_codes.get(&-101), Some(&1));
        assert_eq!(a.failure.as_deref(), Some("gone"));
        let latency = Latency::of(&a.latency_us);
        assert!((495..=505).contains(&latency.p50_us), "{latency:?}");
        assert!(latency.max_us >= 4990, "{latency:?}");
        assert_eq!(named_codes(&a.error_codes).get("NoNode"), Some(&1));
    }
}
