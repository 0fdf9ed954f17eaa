//! What sessions measured: completed requests, their latency in an HDR histogram of
//! microseconds (one per session task, merged afterwards, so recording takes no lock), and
//! failures counted by kind with the first message of each kind kept as an example.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use zookeeper_client as zk;

/// Longest latency the histogram resolves (60 s); slower replies are recorded as this.
const LATENCY_US_MAX: u64 = 60_000_000;
/// Three significant digits: 0.1 % resolution at every magnitude.
const SIGNIFICANT_DIGITS: u8 = 3;

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// The variant name of a client error (`NoNode`, `ConnectionLoss`, `SessionExpired`, ...): the
/// kind it is counted under. Taken from `Debug` so that a variant added by a later client
/// version still gets its own name instead of disappearing into "other".
pub fn error_kind(err: &zk::Error) -> String {
    let debug = format!("{err:?}");
    let end = debug
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(debug.len());
    debug[..end].to_owned()
}

/// Whether the session can do nothing more: every later request would fail at once.
pub fn is_terminal(err: &zk::Error) -> bool {
    matches!(
        err,
        zk::Error::SessionExpired
            | zk::Error::ClientClosed
            | zk::Error::AuthFailed
            | zk::Error::NoHosts
    )
}

/// Failures by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    pub by_kind: BTreeMap<String, u64>,
    /// The first message seen of each kind.
    pub examples: BTreeMap<String, String>,
}

impl Errors {
    pub fn record(&mut self, err: &zk::Error) {
        let kind = error_kind(err);
        self.examples
            .entry(kind.clone())
            .or_insert_with(|| err.to_string());
        *self.by_kind.entry(kind).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    pub fn merge(&mut self, other: Errors) {
        for (kind, count) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += count;
        }
        for (kind, example) in other.examples {
            self.examples.entry(kind).or_insert(example);
        }
    }
}

/// One session's share of a phase, or several merged.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Requests completed, failed ones included.
    pub ops: u64,
    pub errors: Errors,
    /// Latency of every completed request, failed ones included.
    pub latency_us: Histogram<u64>,
    /// Sessions that stopped early on a terminal error (expired, closed).
    pub sessions_stopped: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            ops: 0,
            errors: Errors::default(),
            latency_us: new_histogram(),
            sessions_stopped: 0,
        }
    }
}

impl Tally {
    pub fn record(&mut self, latency: Duration, result: &Result<(), zk::Error>) {
        self.ops += 1;
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, LATENCY_US_MAX));
        if let Err(err) = result {
            self.errors.record(err);
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.ops += other.ops;
        self.errors.merge(other.errors);
        self.sessions_stopped += other.sessions_stopped;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl Latency {
    /// All zero for an empty histogram (no request completed).
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn within(value: u64, want: u64) -> bool {
        // The histogram's 3 significant digits: 0.1 % either way.
        value.abs_diff(want) * 1000 <= want
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut tally = Tally::default();
        for us in 1..=10_000u64 {
            tally.record(Duration::from_micros(us), &Ok(()));
        }
        let latency = Latency::of(&tally.latency_us);
        assert!(within(latency.p50_us, 5_000), "{latency:?}");
        assert!(within(latency.p99_us, 9_900), "{latency:?}");
        assert!(within(latency.p999_us, 9_990), "{latency:?}");
        assert!(within(latency.max_us, 10_000), "{latency:?}");
        assert!((latency.mean_us - 5_000.5).abs() < 10.0, "{latency:?}");
        assert_eq!(
            Latency::of(&Tally::default().latency_us),
            Latency::default()
        );
    }

    #[test]
    fn a_slow_tail_shows_in_p99_9_and_max_only() {
        let mut tally = Tally::default();
        for _ in 0..9_985 {
            tally.record(Duration::from_micros(100), &Ok(()));
        }
        // 0.15 %: beyond the 99.9th percentile.
        for _ in 0..15 {
            tally.record(Duration::from_secs(2), &Ok(()));
        }
        let latency = Latency::of(&tally.latency_us);
        assert!(within(latency.p99_us, 100), "{latency:?}");
        assert!(within(latency.p999_us, 2_000_000), "{latency:?}");
        assert!(within(latency.max_us, 2_000_000), "{latency:?}");
        // Beyond the histogram's range: recorded at its top, not lost.
        tally.record(Duration::from_secs(3600), &Ok(()));
        assert_eq!(tally.ops, 10_001);
        assert!(within(tally.latency_us.max(), LATENCY_US_MAX));
    }

    #[test]
    fn errors_are_counted_by_kind_and_merged() {
        let mut a = Tally::default();
        let mut b = Tally::default();
        a.record(Duration::from_micros(5), &Ok(()));
        a.record(Duration::from_micros(5), &Err(zk::Error::NoNode));
        b.record(Duration::from_micros(5), &Err(zk::Error::NoNode));
        b.record(Duration::from_micros(5), &Err(zk::Error::ConnectionLoss));
        b.record(
            Duration::from_micros(5),
            &Err(zk::Error::UnexpectedError("odd".into())),
        );
        b.sessions_stopped = 1;
        a.merge(b);
        assert_eq!(a.ops, 5);
        assert_eq!(a.errors.total(), 4);
        assert_eq!(a.sessions_stopped, 1);
        let kinds: Vec<(&str, u64)> = a
            .errors
            .by_kind
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            kinds,
            [("ConnectionLoss", 1), ("NoNode", 2), ("UnexpectedError", 1)]
        );
        assert_eq!(
            a.errors.examples["UnexpectedError"],
            "unexpected error: odd"
        );
        assert_eq!(a.latency_us.len(), 5);
    }

    #[test]
    fn terminal_errors_end_a_session() {
        assert!(is_terminal(&zk::Error::SessionExpired));
        assert!(is_terminal(&zk::Error::ClientClosed));
        assert!(!is_terminal(&zk::Error::ConnectionLoss));
        assert!(!is_terminal(&zk::Error::NodeExists));
    }
}
