//! What `/metrics` exports, read from [`StatusSource`] at scrape time (the request path only
//! bumps atomics). ZooKeeper's names and types where Corral measures the same thing: the
//! numeric `mntr` gauges, the counters among them, `fsynctime` and `snapshottime` (ms
//! summaries), and with `exportJvmInfo` the `process_*` figures of the client library's
//! standard exports. Corral's own figures are prefixed `corral_`. Nothing is exported that
//! Corral does not measure.

use super::exposition::Exposition;
use crate::four_letter::VERSION;
use crate::status::StatusSource;

/// `mntr` rows that ZooKeeper registers as counters in `ServerMetrics`, not gauges.
const COUNTERS: [&str; 5] = [
    "connection_rejected",
    "request_throttle_wait_count",
    "stale_requests_dropped",
    "connection_drop_count",
    "sessionless_connections_expired",
];

/// `mntr` rows that are Corral's own (no ZooKeeper metric of that name), exported under
/// Prometheus' naming rules (`corral_` prefix, `_total` on counters).
const CORRAL_ROWS: [(&str, &str); 2] = [
    ("watch_events_sent", "corral_watch_events_sent_total"),
    ("last_zxid", "corral_last_zxid"),
];

/// The page for one scrape.
pub(crate) fn render(status: &StatusSource, export_process: bool) -> String {
    let mut page = Exposition::default();
    for (key, value) in status.monitor_rows(VERSION) {
        let Some(number) = value.as_f64() else {
            continue;
        };
        if let Some((_, name)) = CORRAL_ROWS.iter().find(|(row, _)| *row == key) {
            match name.ends_with("_total") {
                true => page.counter(name, key, number),
                false => page.gauge(name, key, number),
            }
        } else if COUNTERS.contains(&key) {
            page.counter(key, key, number);
        } else {
            page.gauge(key, key, number);
        }
    }
    let fsync = status.fsync_times();
    page.summary(
        "fsynctime",
        "fsynctime",
        fsync.count,
        fsync.total_micros as f64 / 1000.0,
    );
    let snapshots = status.snapshot_times();
    page.summary(
        "snapshottime",
        "snapshottime",
        snapshots.count,
        snapshots.total_micros as f64 / 1000.0,
    );
    page.gauge(
        "corral_log_fsync_max_seconds",
        "The longest group-commit fsync of the log since start",
        fsync.max_micros as f64 / 1e6,
    );
    page.counter(
        "corral_log_fsync_slow_total",
        "Group-commit fsyncs of the log longer than 1 s (ZooKeeper's fsync_threshold_exceed_count)",
        fsync.over_threshold as f64,
    );
    page.gauge(
        "corral_snapshot_max_seconds",
        "The longest snapshot file write since start",
        snapshots.max_micros as f64 / 1e6,
    );
    if export_process {
        process(&mut page);
    }
    page.finish()
}

/// The `process_*` figures Prometheus' standard exports give a JVM, measured from `/proc`.
fn process(page: &mut Exposition) {
    let (open_fds, max_fds) = crate::status::monitor::file_descriptors();
    page.gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        open_fds as f64,
    );
    page.gauge(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        max_fds as f64,
    );
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(fields) = stat.rsplit_once(") ").map(|(_, rest)| rest) else {
        return;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    // SAFETY: as above.
    let page_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let field = |n: usize| fields.get(n).and_then(|v| v.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of stat(5): 11 and 12 counted from 0 after the name.
    if let (Some(user), Some(system)) = (field(11), field(12)) {
        if ticks > 0 {
            page.counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                (user + system) / ticks as f64,
            );
        }
    }
    // starttime (field 22: 19 here) counts clock ticks since boot; /proc/stat has the boot time.
    let boot_s = std::fs::read_to_string("/proc/stat").ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    if let (Some(start_ticks), Some(boot_s), true) = (field(19), boot_s, ticks > 0) {
        page.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            boot_s + start_ticks / ticks as f64,
        );
    }
    // vsize and rss are fields 23 and 24 of stat(5): 20 and 21 here.
    if let Some(virtual_bytes) = field(20) {
        page.gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            virtual_bytes,
        );
    }
    if let (Some(rss_pages), true) = (field(21), page_bytes > 0) {
        page.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            rss_pages * page_bytes as f64,
        );
    }
}
