//! `/metrics` parses as Prometheus text (checked by `promtool check metrics` from Debian's
//! `prometheus` package) and each metric ZooKeeper also exports has ZooKeeper's type.
//! Debian ships no ZooKeeper Prometheus provider jar, so ZooKeeper's types come from its
//! 3.9 source: `ZooKeeperServer.registerMetrics` and the quorum servers' `registerGauge`
//! calls (gauges), `ServerMetrics` (counters and summaries), and the Java client's standard
//! `process_*` exports.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::http::get;
use crate::session::Session;
use crate::start_corral;

/// ZooKeeper 3.9's type of every metric Corral exports under ZooKeeper's name.
const ZOOKEEPER_TYPES: [(&str, &str); 42] = [
    ("avg_latency", "gauge"),
    ("max_latency", "gauge"),
    ("min_latency", "gauge"),
    ("packets_received", "gauge"),
    ("packets_sent", "gauge"),
    ("num_alive_connections", "gauge"),
    ("outstanding_requests", "gauge"),
    ("uptime", "gauge"),
    ("znode_count", "gauge"),
    ("watch_count", "gauge"),
    ("ephemerals_count", "gauge"),
    ("approximate_data_size", "gauge"),
    ("global_sessions", "gauge"),
    ("local_sessions", "gauge"),
    ("open_file_descriptor_count", "gauge"),
    ("max_file_descriptor_count", "gauge"),
    ("auth_failed_count", "gauge"),
    ("quorum_size", "gauge"),
    ("learners", "gauge"),
    ("synced_followers", "gauge"),
    ("synced_non_voting_followers", "gauge"),
    ("synced_observers", "gauge"),
    ("pending_syncs", "gauge"),
    ("leader_uptime", "gauge"),
    ("last_proposal_size", "gauge"),
    ("min_proposal_size", "gauge"),
    ("max_proposal_size", "gauge"),
    ("connection_rejected", "counter"),
    ("stale_requests_dropped", "counter"),
    ("connection_drop_count", "counter"),
    ("sessionless_connections_expired", "counter"),
    ("request_throttle_wait_count", "counter"),
    ("fsynctime", "summary"),
    ("snapshottime", "summary"),
    ("readlatency", "summary"),
    ("updatelatency", "summary"),
    ("process_cpu_seconds_total", "counter"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_start_time_seconds", "gauge"),
];

/// `# TYPE` lines: metric name to type; panics on a sample line of no declared family.
fn families(page: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{name} declared twice"
            );
        } else if !line.starts_with('#') && !line.is_empty() {
            let (sample, value) = line.rsplit_once(' ').expect("name value");
            let name = sample.split('{').next().unwrap();
            let family = ["_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| types.contains_key(*f)))
                .unwrap_or(name);
            assert!(types.contains_key(family), "{name} has no # TYPE");
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{line}: not a number"));
        }
    }
    types
}

/// `promtool check metrics`: exit 0 (clean) or 3 (lint only) parse; lint findings may only
/// concern ZooKeeper's own names, kept for compatibility (`znode_count` is a gauge, ...).
fn promtool(page: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            let required = std::env::var("CORRAL_REQUIRE_APACHE_ZK").is_ok_and(|v| v != "0");
            assert!(
                !required,
                "promtool is required (CORRAL_REQUIRE_APACHE_ZK is set): {err}; run \
                 scripts/install-test-deps.sh"
            );
            println!("SKIP: promtool check: {err}");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code();
    assert!(matches!(code, Some(0 | 3)), "promtool: {code:?}\n{text}");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let name = line.split_whitespace().next().unwrap_or("");
        assert!(
            ZOOKEEPER_TYPES.iter().any(|(n, _)| *n == name),
            "promtool finding on a name that is not ZooKeeper's: {line}"
        );
    }
}

#[test]
fn metrics_are_prometheus_text_with_zookeepers_types() {
    let corral = start_corral();
    let _session = Session::open(corral.client);
    let reply = get(corral.metrics, "/metrics");
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let page = reply.text();
    let types = families(&page);
    for (name, kind) in &types {
        if name.starts_with("corral_") {
            continue;
        }
        let zk = ZOOKEEPER_TYPES.iter().find(|(n, _)| n == name);
        let Some((_, zk_kind)) = zk else {
            panic!("{name} is not a ZooKeeper metric and lacks the corral_ prefix");
        };
        assert_eq!(kind, zk_kind, "{name}");
    }
    for wanted in [
        "znode_count",
        "watch_count",
        "num_alive_connections",
        "outstanding_requests",
        "packets_received",
        "fsynctime",
        "snapshottime",
        "process_resident_memory_bytes",
        "corral_log_fsync_max_seconds",
    ] {
        assert!(types.contains_key(wanted), "{wanted} missing:\n{page}");
    }
    let value = |name: &str| -> f64 {
        page.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("num_alive_connections"), 1.0);
    assert_eq!(value("watch_count"), 1.0);
    assert!(
        value("fsynctime_count") >= 1.0,
        "the session's create was fsync'd"
    );
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started_s = value("process_start_time_seconds");
    assert!(
        started_s <= now_s + 2.0 && started_s > now_s - 600.0,
        "started at {started_s}, now {now_s}"
    );
    promtool(&page);
    assert_eq!(get(corral.metrics, "/other").status, 404);
}
