//! Four-letter words on the client port: a fresh connection whose first four bytes spell a
//! known command gets plain text back and is closed. Formats follow ZooKeeper's so that
//! `zkServer.sh status`, monitoring scripts and exporters parse them unchanged.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use crate::server::Context;

/// The version string clients and tools parse: a ZooKeeper 3.9 version with our suffix.
pub const VERSION: &str = concat!("3.9.3-corral-", env!("CARGO_PKG_VERSION"), ", built on n/a");

/// ZooKeeper's words, plus `snap` (Corral's own: take a snapshot now; ZooKeeper 3.9 offers the
/// same through its AdminServer). A word no ZooKeeper knows is harmless on the wire: as a frame
/// length "snap" exceeds jute.maxbuffer, so ZooKeeper would just close the connection.
const KNOWN: [&str; 19] = [
    "ruok", "stat", "srvr", "cons", "crst", "srst", "conf", "envi", "dump", "wchs", "wchc", "wchp",
    "dirs", "mntr", "isro", "hash", "gtmk", "stmk", "snap",
];

/// The command the first four bytes name, if any.
pub fn recognise(prefix: &[u8]) -> Option<&'static str> {
    KNOWN.iter().copied().find(|w| w.as_bytes() == prefix)
}

/// The trace mask `stmk` sets and `gtmk` reports (ZooKeeper's default).
static TRACE_MASK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0b1_0000_0010);

pub async fn answer(word: &str, argument: Option<i64>, ctx: &Context) -> String {
    if !ctx.core.config.four_letter_allowed(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    match word {
        "ruok" => "imok".to_owned(),
        "srvr" => server_stats(ctx, false),
        "stat" => server_stats(ctx, true),
        "isro" => "rw".to_owned(),
        "conf" => conf(ctx),
        "envi" => envi(ctx),
        "mntr" => mntr(ctx),
        "cons" => connections(ctx),
        "crst" => {
            for conn in ctx.core.connections.all() {
                conn.stats.reset();
            }
            "Connection stats reset.\n".to_owned()
        }
        "srst" => {
            ctx.core.stats.reset();
            "Server stats reset.\n".to_owned()
        }
        "dump" => dump(ctx),
        "wchs" => {
            let (conns, paths, total) = ctx.core.watches.lock().summary();
            format!("{conns} connections watching {paths} paths\nTotal watches:{total}\n")
        }
        "wchc" => {
            let mut out = String::new();
            for (conn, paths) in ctx.core.watches.lock().by_connection() {
                let session = ctx.core.connections.get(conn).map_or(0, |h| h.session_id());
                let _ = writeln!(out, "0x{session:x}");
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
            out
        }
        "wchp" => {
            let mut out = String::new();
            for (path, conns) in ctx.core.watches.lock().by_path() {
                let _ = writeln!(out, "{path}");
                for conn in conns {
                    let session = ctx.core.connections.get(conn).map_or(0, |h| h.session_id());
                    let _ = writeln!(out, "\t0x{session:x}");
                }
            }
            out
        }
        "dirs" => {
            let data = dir_bytes(&ctx.core.config.data_dir);
            let log = dir_bytes(&ctx.core.config.data_log_dir);
            format!("datadir_size: {data}\nlogdir_size: {log}\n")
        }
        "hash" => {
            let tree = ctx.core.tree.read();
            format!("{:x}: {}\n", ctx.core.last_zxid(), tree.digest())
        }
        "snap" => match ctx.raft.trigger().snapshot().await {
            Ok(()) => format!("Snapshot requested at zxid 0x{:x}\n", ctx.core.last_zxid()),
            Err(err) => format!("Snapshot not possible: {err}\n"),
        },
        "gtmk" => format!("{}\n", TRACE_MASK.load(Ordering::Relaxed)),
        "stmk" => {
            let mask = argument.unwrap_or(0);
            TRACE_MASK.store(mask, Ordering::Relaxed);
            format!("{mask}\n")
        }
        _ => String::new(),
    }
}

fn server_stats(ctx: &Context, with_clients: bool) -> String {
    let core = &ctx.core;
    let mut out = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        out.push_str("Clients:\n");
        for conn in core.connections.all() {
            let _ = writeln!(
                out,
                " /{}[1](queued={},recved={},sent={})",
                conn.peer,
                conn.outstanding_writes(),
                conn.stats.packets_received.load(Ordering::Relaxed),
                conn.stats.packets_sent.load(Ordering::Relaxed)
            );
        }
        out.push('\n');
    }
    let (min, avg, max) = core.stats.latency();
    let node_count = core.tree.read().node_count();
    let _ = write!(
        out,
        "Latency min/avg/max: {min}/{avg:.4}/{max}\nReceived: {}\nSent: {}\nConnections: {}\n\
         Outstanding: {}\nZxid: 0x{:x}\nMode: standalone\nNode count: {node_count}\n",
        core.stats.packets_received.load(Ordering::Relaxed),
        core.stats.packets_sent.load(Ordering::Relaxed),
        core.connections.len(),
        outstanding(ctx),
        core.last_zxid(),
    );
    out
}

fn outstanding(ctx: &Context) -> usize {
    ctx.core
        .connections
        .all()
        .iter()
        .map(|c| c.outstanding_writes())
        .sum()
}

fn conf(ctx: &Context) -> String {
    let c = &ctx.core.config;
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
    )
}

fn envi(_ctx: &Context) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let user = std::env::var("USER").unwrap_or_default();
    let home = std::env::var("HOME").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "Environment:\nzookeeper.version={VERSION}\nhost.name={host}\njava.version=n/a (corral is not a JVM)\n\
         java.vendor=n/a\njava.home=n/a\njava.class.path=n/a\njava.library.path=n/a\n\
         java.io.tmpdir={}\njava.compiler=<NA>\nos.name={}\nos.arch={}\nos.version={kernel}\n\
         user.name={user}\nuser.home={home}\nuser.dir={cwd}\nos.memory.free=n/a\n\
         os.memory.max=n/a\nos.memory.total=n/a\n",
        std::env::temp_dir().display(),
        capitalised_os(),
        std::env::consts::ARCH,
    )
}

fn capitalised_os() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        other => other,
    }
}

fn mntr(ctx: &Context) -> String {
    let core = &ctx.core;
    let (min, avg, max) = core.stats.latency();
    let (node_count, ephemerals, data_bytes) = {
        let tree = core.tree.read();
        (
            tree.node_count(),
            tree.ephemeral_count(),
            tree.approximate_data_bytes(),
        )
    };
    let watch_count = core.watches.lock().total_watches();
    let (open_fds, max_fds) = file_descriptors();
    let rows: Vec<(&str, String)> = vec![
        ("version", VERSION.to_owned()),
        ("server_state", "standalone".to_owned()),
        ("avg_latency", format!("{avg:.4}")),
        ("max_latency", max.to_string()),
        ("min_latency", min.to_string()),
        (
            "packets_received",
            core.stats
                .packets_received
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        (
            "packets_sent",
            core.stats.packets_sent.load(Ordering::Relaxed).to_string(),
        ),
        ("num_alive_connections", core.connections.len().to_string()),
        ("outstanding_requests", outstanding(ctx).to_string()),
        ("uptime", core.started.elapsed().as_millis().to_string()),
        ("znode_count", node_count.to_string()),
        ("watch_count", watch_count.to_string()),
        ("ephemerals_count", ephemerals.to_string()),
        ("approximate_data_size", data_bytes.to_string()),
        ("global_sessions", core.sessions.len().to_string()),
        ("local_sessions", "0".to_owned()),
        ("open_file_descriptor_count", open_fds.to_string()),
        ("max_file_descriptor_count", max_fds.to_string()),
        (
            "auth_failed_count",
            core.stats.auth_failed.load(Ordering::Relaxed).to_string(),
        ),
        (
            "connection_rejected",
            core.stats
                .connections_rejected
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        (
            "watch_events_sent",
            core.stats
                .watch_events_sent
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        ("last_zxid", core.last_zxid().to_string()),
    ];
    let mut out = String::new();
    for (key, value) in rows {
        let _ = writeln!(out, "zk_{key}\t{value}");
    }
    out
}

fn connections(ctx: &Context) -> String {
    let mut out = String::new();
    for conn in ctx.core.connections.all() {
        let s = &conn.stats;
        let count = s.latency_count.load(Ordering::Relaxed).max(1);
        let established = SystemTime::now()
            .checked_sub(conn.established.elapsed())
            .unwrap_or(SystemTime::UNIX_EPOCH)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis();
        let _ = writeln!(
            out,
            " /{}[1](queued={},recved={},sent={},sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},\
             lzxid=0x{:x},lresp=0,llat={},minlat={},avglat={},maxlat={})",
            conn.peer,
            conn.outstanding_writes(),
            s.packets_received.load(Ordering::Relaxed),
            s.packets_sent.load(Ordering::Relaxed),
            conn.session_id(),
            s.last_op.lock(),
            established,
            conn.session_timeout_ms.load(Ordering::Relaxed),
            s.last_cxid.load(Ordering::Relaxed),
            s.last_zxid.load(Ordering::Relaxed),
            s.last_latency_ms.load(Ordering::Relaxed),
            s.min_latency_ms.load(Ordering::Relaxed),
            s.total_latency_ms.load(Ordering::Relaxed) / count,
            s.max_latency_ms.load(Ordering::Relaxed),
        );
    }
    out.push('\n');
    out
}

fn dump(ctx: &Context) -> String {
    let core = &ctx.core;
    let mut out = String::from("SessionTracker dump:\nSession Sets (");
    let groups = core.sessions.by_deadline();
    let total: usize = groups.iter().map(|(_, ids)| ids.len()).sum();
    let _ = writeln!(out, "{})/({}):", groups.len(), total);
    for (deadline, ids) in groups {
        let _ = writeln!(out, "{} expire at {deadline}:", ids.len());
        for id in ids {
            let _ = writeln!(out, "\t0x{id:x}");
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let by_session = core.tree.read().ephemerals_by_session();
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", by_session.len());
    for (session, paths) in by_session {
        let _ = writeln!(out, "0x{session:x}:");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\n");
    out
}

fn dir_bytes(path: &std::path::Path) -> u64 {
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

fn file_descriptors() -> (usize, u64) {
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
