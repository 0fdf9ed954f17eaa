//! `mntr`'s figures as typed rows, in ZooKeeper's order: the 4lw prints them as text, the
//! AdminServer's `monitor` as JSON numbers and strings, and `/metrics` exports the numeric
//! ones as Prometheus gauges. One list, so the three never disagree.

use super::StatusSource;

/// One `mntr` value.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorValue {
    Text(String),
    Int(i64),
    /// Printed with four decimals by the 4lw (ZooKeeper's `avg_latency`).
    Float(f64),
}

impl MonitorValue {
    /// The number, for a numeric value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MonitorValue::Text(_) => None,
            MonitorValue::Int(v) => Some(*v as f64),
            MonitorValue::Float(v) => Some(*v),
        }
    }
}

fn int(v: impl TryInto<i64>) -> MonitorValue {
    MonitorValue::Int(v.try_into().unwrap_or(i64::MAX))
}

impl StatusSource {
    /// `mntr`'s rows (keys without the `zk_` prefix), `version` first.
    pub fn monitor_rows(&self, version: &str) -> Vec<(&'static str, MonitorValue)> {
        use MonitorValue::{Float, Text};
        let s = self.server_summary();
        let d = self.data_summary();
        let (open_fds, max_fds) = file_descriptors();
        let mut rows = vec![
            ("version", Text(version.to_owned())),
            ("server_state", Text(s.mode.to_owned())),
            ("avg_latency", Float(s.latency.avg_ms)),
            ("max_latency", int(s.latency.max_ms)),
            ("min_latency", int(s.latency.min_ms)),
            ("packets_received", int(s.packets_received)),
            ("packets_sent", int(s.packets_sent)),
            ("num_alive_connections", int(s.connections)),
            ("outstanding_requests", int(s.outstanding_requests)),
            ("uptime", int(s.uptime_ms)),
            ("znode_count", int(d.node_count)),
            ("watch_count", int(d.watches)),
            ("ephemerals_count", int(d.ephemerals)),
            ("approximate_data_size", int(d.approximate_data_bytes)),
            ("global_sessions", int(d.global_sessions)),
            // Corral has no local sessions: always none, not an unmeasured figure.
            ("local_sessions", int(0)),
            ("open_file_descriptor_count", int(open_fds)),
            ("max_file_descriptor_count", int(max_fds)),
            ("auth_failed_count", int(d.auth_failed)),
            ("connection_rejected", int(d.connections_rejected)),
            ("watch_events_sent", int(d.watch_events_sent)),
            ("request_throttle_wait_count", int(d.throttled_requests)),
            ("stale_requests_dropped", int(d.stale_requests_dropped)),
            ("connection_drop_count", int(d.connections_dropped)),
            (
                "sessionless_connections_expired",
                int(d.sessionless_expired),
            ),
            ("last_zxid", int(s.zxid)),
        ];
        if let Some(q) = self.quorum_summary() {
            rows.push(("peer_state", Text(q.peer_state.to_owned())));
            rows.push(("quorum_size", int(q.quorum_size)));
            if let Some(l) = q.leader {
                rows.push(("learners", int(l.learners)));
                rows.push(("synced_followers", int(l.synced_followers)));
                // Corral has no non-voting followers (observers are learners).
                rows.push(("synced_non_voting_followers", int(0)));
                rows.push(("synced_observers", int(l.synced_observers)));
                rows.push(("pending_syncs", int(l.pending_syncs)));
                rows.push(("leader_uptime", int(l.leader_uptime_ms)));
                let sizes = l.proposal_sizes;
                rows.push(("last_proposal_size", int(sizes.last_bytes)));
                rows.push(("min_proposal_size", int(sizes.min_bytes)));
                rows.push(("max_proposal_size", int(sizes.max_bytes)));
            }
        }
        rows
    }
}

/// Open and maximal file descriptors of this process (0 where `/proc` is missing).
pub(crate) fn file_descriptors() -> (usize, u64) {
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (open, max)
}

/// Bytes of the files under `path` (`dirs`, `conf`).
pub(crate) fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
