//! Four-letter words on the client port: a fresh connection whose first four bytes spell a
//! known command gets plain text back and is closed. Formats follow ZooKeeper's so that
//! `zkServer.sh status`, monitoring scripts and exporters parse them unchanged.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::config::slices::FourLetterSettings;
use crate::status::monitor::{dir_bytes, MonitorValue};
use crate::status::{ConfFacts, StatusSource};

/// The version string clients and tools parse: a ZooKeeper 3.9 version with our suffix.
pub(crate) const VERSION: &str =
    concat!("3.9.3-corral-", env!("CARGO_PKG_VERSION"), ", built on n/a");

/// ZooKeeper's words, plus `snap` (Corral's own: take a snapshot now; ZooKeeper 3.9 offers the
/// same through its AdminServer). A word no ZooKeeper knows is harmless on the wire: as a frame
/// length "snap" exceeds jute.maxbuffer, so ZooKeeper would just close the connection.
const KNOWN: [&str; 19] = [
    "ruok", "stat", "srvr", "cons", "crst", "srst", "conf", "envi", "dump", "wchs", "wchc", "wchp",
    "dirs", "mntr", "isro", "hash", "gtmk", "stmk", "snap",
];

/// ZooKeeper's answer to most words while the server is not serving (no leader is known).
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// The words ZooKeeper answers with [`NOT_SERVING`] while it is not serving.
const NEEDS_SERVING: [&str; 14] = [
    "stat", "srvr", "cons", "crst", "srst", "conf", "dump", "wchs", "wchc", "wchp", "dirs", "mntr",
    "hash", "snap",
];

/// The command the first four bytes name, if any.
pub(crate) fn recognise(prefix: &[u8]) -> Option<&'static str> {
    KNOWN.iter().copied().find(|w| w.as_bytes() == prefix)
}

/// The trace mask `stmk` sets and `gtmk` reports (ZooKeeper's default), shared with the
/// AdminServer's `get_trace_mask` / `set_trace_mask`.
static TRACE_MASK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0b1_0000_0010);

pub(crate) fn trace_mask() -> i64 {
    TRACE_MASK.load(Ordering::Relaxed)
}

pub(crate) fn set_trace_mask(mask: i64) {
    TRACE_MASK.store(mask, Ordering::Relaxed);
}

/// The answer to `word` (already whitelisted or not: this checks).
pub(crate) async fn answer(
    word: &str,
    argument: Option<i64>,
    status: &StatusSource,
    allowed: &FourLetterSettings,
) -> String {
    if !allowed.allowed(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    if NEEDS_SERVING.contains(&word) && !status.server_summary().serving {
        return NOT_SERVING.to_owned();
    }
    match word {
        "ruok" => "imok".to_owned(),
        "srvr" => server_stats(status, false),
        "stat" => server_stats(status, true),
        "isro" => "rw".to_owned(),
        "conf" => conf(status.conf()),
        "envi" => envi(),
        "mntr" => mntr(status),
        "cons" => connections(status),
        "crst" => {
            status.reset_connection_stats();
            "Connection stats reset.\n".to_owned()
        }
        "srst" => {
            status.reset_server_stats();
            "Server stats reset.\n".to_owned()
        }
        "dump" => dump(status),
        "wchs" => {
            let w = status.watch_summary();
            format!(
                "{} connections watching {} paths\nTotal watches:{}\n",
                w.connections, w.paths, w.total
            )
        }
        "wchc" => {
            let mut out = String::new();
            for (session, paths) in status.watches_by_session() {
                let _ = writeln!(out, "0x{session:x}");
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
            out
        }
        "wchp" => {
            let mut out = String::new();
            for (path, sessions) in status.watches_by_path() {
                let _ = writeln!(out, "{path}");
                for session in sessions {
                    let _ = writeln!(out, "\t0x{session:x}");
                }
            }
            out
        }
        "dirs" => {
            let conf = status.conf();
            let data = dir_bytes(&conf.data_dir);
            let log = dir_bytes(&conf.data_log_dir);
            format!("datadir_size: {data}\nlogdir_size: {log}\n")
        }
        "hash" => {
            let (zxid, digest) = status.digest();
            format!("{zxid:x}: {digest}\n")
        }
        "snap" => match status.trigger_snapshot().await {
            Ok(zxid) => format!("Snapshot requested at zxid 0x{zxid:x}\n"),
            Err(err) => format!("Snapshot not possible: {err}\n"),
        },
        "gtmk" => format!("{}\n", trace_mask()),
        "stmk" => {
            let mask = argument.unwrap_or(0);
            set_trace_mask(mask);
            format!("{mask}\n")
        }
        _ => String::new(),
    }
}

fn server_stats(status: &StatusSource, with_clients: bool) -> String {
    let mut out = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        out.push_str("Clients:\n");
        for conn in status.connections() {
            let _ = writeln!(
                out,
                " /{}[1](queued={},recved={},sent={})",
                conn.peer, conn.outstanding, conn.packets_received, conn.packets_sent
            );
        }
        out.push('\n');
    }
    let s = status.server_summary();
    let _ = write!(
        out,
        "Latency min/avg/max: {}/{:.4}/{}\nReceived: {}\nSent: {}\nConnections: {}\n\
         Outstanding: {}\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
        s.latency.min_ms,
        s.latency.avg_ms,
        s.latency.max_ms,
        s.packets_received,
        s.packets_sent,
        s.connections,
        s.outstanding_requests,
        s.zxid,
        s.mode,
        s.node_count,
    );
    if let Some(leader) = status.quorum_summary().and_then(|q| q.leader) {
        let sizes = leader.proposal_sizes;
        let _ = writeln!(
            out,
            "Proposal sizes last/min/max: {}/{}/{}",
            sizes.last_bytes, sizes.min_bytes, sizes.max_bytes
        );
    }
    out
}

fn conf(c: &ConfFacts) -> String {
    format!(
        "clientPort={}\nsecureClientPort=-1\ndataDir={}\ndataDirSize={}\ndataLogDir={}\n\
         dataLogSize={}\ntickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\n\
         maxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
        c.client_addr.port(),
        c.data_dir.display(),
        dir_bytes(&c.data_dir),
        c.data_log_dir.display(),
        dir_bytes(&c.data_log_dir),
        c.tick_time_ms,
        c.max_client_cnxns,
        c.min_session_timeout_ms,
        c.max_session_timeout_ms,
        c.server_id,
    ) + c.quorum_conf.as_deref().unwrap_or("")
}

fn envi() -> String {
    let mut out = String::from("Environment:\n");
    for (key, value) in environment() {
        let _ = writeln!(out, "{key}={value}");
    }
    out
}

/// ZooKeeper's `Environment.list()` in its order (`envi`, the AdminServer's `environment`).
/// Corral is no JVM: the `java.*` entries say so, and the JVM's memory figures are `n/a`.
pub(crate) fn environment() -> Vec<(&'static str, String)> {
    let read = |path: &str| std::fs::read_to_string(path).map(|h| h.trim().to_owned());
    let na = || "n/a".to_owned();
    vec![
        ("zookeeper.version", VERSION.to_owned()),
        (
            "host.name",
            read("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".to_owned()),
        ),
        ("java.version", "n/a (corral is not a JVM)".to_owned()),
        ("java.vendor", na()),
        ("java.home", na()),
        ("java.class.path", na()),
        ("java.library.path", na()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", "<NA>".to_owned()),
        ("os.name", capitalised_os().to_owned()),
        ("os.arch", std::env::consts::ARCH.to_owned()),
        (
            "os.version",
            read("/proc/sys/kernel/osrelease").unwrap_or_default(),
        ),
        ("user.name", std::env::var("USER").unwrap_or_default()),
        ("user.home", std::env::var("HOME").unwrap_or_default()),
        (
            "user.dir",
            std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        ("os.memory.free", na()),
        ("os.memory.max", na()),
        ("os.memory.total", na()),
    ]
}

fn capitalised_os() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        other => other,
    }
}

fn mntr(status: &StatusSource) -> String {
    let mut out = String::new();
    for (key, value) in status.monitor_rows(VERSION) {
        let _ = match value {
            MonitorValue::Text(text) => writeln!(out, "zk_{key}\t{text}"),
            MonitorValue::Int(v) => writeln!(out, "zk_{key}\t{v}"),
            MonitorValue::Float(v) => writeln!(out, "zk_{key}\t{v:.4}"),
        };
    }
    out
}

fn connections(status: &StatusSource) -> String {
    let mut out = String::new();
    for conn in status.connections() {
        let l = &conn.latency;
        let _ = writeln!(
            out,
            " /{}[1](queued={},recved={},sent={},sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},\
             lzxid=0x{:x},lresp=0,llat={},minlat={},avglat={},maxlat={})",
            conn.peer,
            conn.outstanding,
            conn.packets_received,
            conn.packets_sent,
            conn.session_id,
            conn.last_op,
            conn.established_ms,
            conn.session_timeout_ms,
            conn.last_cxid,
            conn.last_zxid,
            l.last_ms,
            l.min_ms,
            l.avg_ms as u64,
            l.max_ms,
        );
    }
    out.push('\n');
    out
}

fn dump(status: &StatusSource) -> String {
    let dump = status.session_dump();
    let mut out = String::from("SessionTracker dump:\nSession Sets (");
    let total: usize = dump.by_deadline.iter().map(|(_, ids)| ids.len()).sum();
    let _ = writeln!(out, "{})/({}):", dump.by_deadline.len(), total);
    for (deadline, ids) in dump.by_deadline {
        let _ = writeln!(out, "{} expire at {deadline}:", ids.len());
        for id in ids {
            let _ = writeln!(out, "\t0x{id:x}");
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", dump.ephemerals.len());
    for (session, paths) in dump.ephemerals {
        let _ = writeln!(out, "0x{session:x}:");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_known_words() {
        assert_eq!(recognise(b"ruok"), Some("ruok"));
        assert_eq!(recognise(b"mntr"), Some("mntr"));
        assert_eq!(recognise(&[0, 0, 0, 45]), None);
        assert_eq!(recognise(b"RUOK"), None);
    }

    #[test]
    fn version_parses_like_zookeeper() {
        assert!(VERSION.starts_with("3.9."));
        assert!(VERSION.contains("-corral-"));
    }
}
