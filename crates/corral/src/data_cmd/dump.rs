//! `corral data dump`: the tree a restart would rebuild, printed.
//!
//! As the server's start: the newest snapshot whose checksums verify (newer damaged ones are
//! skipped and named), then every log entry after it applied in order with
//! [`DataTree::apply`] (a standalone server applies its whole log on restart: every entry in
//! it becomes committed). Damage the server would refuse to start with (a corrupt segment, a
//! gap, a log purged past the snapshot, a snapshot whose tree does not decode) is an error
//! here too, not a partial dump.
//!
//! Output: nodes in path order with their Stat (ZooKeeper's field names; zxids and the
//! ephemeral owner in hex, as zkCli prints them), ACL (`scheme:id:perms`) and data (UTF-8
//! text, or hex when it is not UTF-8, or `null`), then the sessions table. `--json` streams
//! one JSON object of the same content.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use corral_proto::consts::perms;
use corral_proto::{Acl, Id, Stat};
use corral_tree::{DataTree, TreeConfig};
use openraft::EntryPayload;
use serde_json::{json, Value};

use super::scan::{self, ScanError, SnapshotStatus};

/// What `dump` was asked for.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Only paths starting with this.
    pub path_prefix: Option<String>,
    /// Do not apply the log.
    pub at_snapshot: bool,
    /// The tree's settings when there is no snapshot to take them from.
    pub tree_config: TreeConfig,
}

/// Why the tree could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The directories could not be read.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The newest valid snapshot's tree does not decode (the server would not start).
    #[error("{}: the tree does not decode: {reason}", path.display())]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The log is damaged or does not continue the snapshot.
    #[error("the log cannot be replayed: {0}")]
    Log(String),
}

/// The rebuilt tree and where it came from.
pub struct Rebuilt {
    /// The tree.
    pub tree: DataTree,
    /// The snapshot used: file, last log index, term.
    pub snapshot: Option<(PathBuf, u64, u64)>,
    /// Newer snapshots passed over because they are damaged: file, why.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    /// First and last log index replayed.
    pub replayed: Option<(u64, u64)>,
    /// Txns applied (normal entries; blank and membership entries change no tree).
    pub txns_applied: u64,
}

/// Rebuilds the tree from the directories (see the module docs).
pub fn rebuild(
    snapshot_dir: &Path,
    log_dir: &Path,
    options: &DumpOptions,
) -> Result<Rebuilt, DumpError> {
    if !snapshot_dir.is_dir() && !log_dir.is_dir() {
        return Err(ScanError::NotADataDir {
            snapshot_dir: snapshot_dir.to_path_buf(),
            log_dir: log_dir.to_path_buf(),
        }
        .into());
    }
    let mut rebuilt = Rebuilt {
        tree: DataTree::new(options.tree_config.clone()),
        snapshot: None,
        skipped_snapshots: Vec::new(),
        replayed: None,
        txns_applied: 0,
    };
    if snapshot_dir.is_dir() {
        for s in scan::scan_snapshot_files(snapshot_dir)?.iter().rev() {
            match &s.status {
                SnapshotStatus::Valid {
                    last_log_index,
                    last_log_term,
                    ..
                } => {
                    rebuilt.tree =
                        scan::open_tree(&s.path).map_err(|reason| DumpError::Snapshot {
                            path: s.path.clone(),
                            reason,
                        })?;
                    rebuilt.snapshot = Some((s.path.clone(), *last_log_index, *last_log_term));
                    break;
                }
                SnapshotStatus::Corrupt { offset, reason } => {
                    let why = match offset {
                        Some(offset) => format!("corrupt at byte offset {offset}: {reason}"),
                        None => reason.clone(),
                    };
                    rebuilt.skipped_snapshots.push((s.path.clone(), why));
                }
            }
        }
    }
    if options.at_snapshot {
        return Ok(rebuilt);
    }
    let snapshot_index = rebuilt.snapshot.as_ref().map(|s| s.1);
    let from = snapshot_index.map_or(0, |i| i.saturating_add(1));
    let log = scan::read_log_entries(log_dir, from).map_err(DumpError::Log)?;
    if let Some(purged) = log.purged {
        if snapshot_index.is_none_or(|s| purged.index > s) {
            return Err(DumpError::Log(format!(
                "the log is purged up to index {} but the newest valid snapshot ends at {}: \
                 entries in between are missing",
                purged.index,
                snapshot_index.map_or("no snapshot".to_string(), |s| format!("index {s}"))
            )));
        }
    }
    if let (Some(first), Some(_)) = (log.entries.first(), snapshot_index) {
        if first.log_id.index != from {
            return Err(DumpError::Log(format!(
                "the snapshot ends at index {} but the log continues at index {}",
                from.saturating_sub(1),
                first.log_id.index
            )));
        }
    }
    for entry in &log.entries {
        let index = entry.log_id.index;
        if let EntryPayload::Normal(log_entry) = &entry.payload {
            let zxid = i64::try_from(index)
                .map_err(|_| DumpError::Log(format!("log index {index} does not fit a zxid")))?;
            rebuilt.tree.apply(zxid, &log_entry.txn);
            rebuilt.txns_applied += 1;
        }
    }
    if let (Some(first), Some(last)) = (log.entries.first(), log.entries.last()) {
        rebuilt.replayed = Some((first.log_id.index, last.log_id.index));
    }
    Ok(rebuilt)
}

/// `cdrwa`, ZooKeeper's letters, for the permissions set.
pub fn perms_text(bits: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

fn acl_text(acl: &Acl) -> String {
    format!("{}:{}:{}", acl.id.scheme, acl.id.id, perms_text(acl.perms))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One node, read back for printing.
struct NodeView {
    path: String,
    stat: Stat,
    acl: Vec<Acl>,
    data: Option<bytes::Bytes>,
}

fn nodes<'a>(tree: &'a DataTree, prefix: Option<&str>) -> impl Iterator<Item = NodeView> + 'a {
    let superuser = [Id {
        scheme: "super".to_string(),
        id: String::new(),
    }];
    let mut paths = tree.paths();
    if let Some(prefix) = prefix {
        paths.retain(|p| p.starts_with(prefix));
    }
    paths.sort();
    paths.into_iter().filter_map(move |path| {
        let (data, stat) = tree.get_data(&path, &superuser).ok()?;
        let acl = tree.node_acl(&path).map(|a| a.to_vec()).unwrap_or_default();
        Some(NodeView {
            path,
            stat,
            acl,
            data,
        })
    })
}

fn source_text(rebuilt: &Rebuilt) -> String {
    let snapshot = match &rebuilt.snapshot {
        Some((path, index, term)) => {
            format!("snapshot {} (index {index}, term {term})", path.display())
        }
        None => "no snapshot (empty tree)".to_string(),
    };
    match rebuilt.replayed {
        Some((first, last)) => format!(
            "{snapshot} + log entries {first}..={last} ({} txns applied)",
            rebuilt.txns_applied
        ),
        None => format!("{snapshot}, no log entries applied"),
    }
}

/// Prints the tree (text or JSON).
pub fn print(
    rebuilt: &Rebuilt,
    options: &DumpOptions,
    json: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if json {
        print_json(rebuilt, options, out)
    } else {
        print_text(rebuilt, options, out)
    }
}

fn print_text(rebuilt: &Rebuilt, options: &DumpOptions, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# {}", source_text(rebuilt))?;
    for (path, why) in &rebuilt.skipped_snapshots {
        writeln!(out, "# skipped damaged snapshot {}: {why}", path.display())?;
    }
    for node in nodes(&rebuilt.tree, options.path_prefix.as_deref()) {
        let s = &node.stat;
        writeln!(out, "{}", node.path)?;
        writeln!(
            out,
            "  cZxid=0x{:x} ctime={} mZxid=0x{:x} mtime={} pZxid=0x{:x} cversion={} \
             dataVersion={} aclVersion={} ephemeralOwner=0x{:x} dataLength={} numChildren={}",
            s.czxid,
            s.ctime,
            s.mzxid,
            s.mtime,
            s.pzxid,
            s.cversion,
            s.version,
            s.aversion,
            s.ephemeral_owner,
            s.data_length,
            s.num_children
        )?;
        let acl: Vec<String> = node.acl.iter().map(acl_text).collect();
        writeln!(out, "  acl: {}", acl.join(", "))?;
        match &node.data {
            None => writeln!(out, "  data: null")?,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => writeln!(out, "  data: \"{}\"", text.escape_debug())?,
                Err(_) => writeln!(out, "  data (hex): {}", hex(bytes))?,
            },
        }
    }
    writeln!(out, "# sessions")?;
    for (id, info) in rebuilt.tree.sessions() {
        writeln!(out, "0x{id:x} timeout={}ms", info.timeout_ms)?;
    }
    Ok(())
}

fn stat_json(s: &Stat) -> Value {
    json!({
        "czxid": s.czxid, "mzxid": s.mzxid, "ctime": s.ctime, "mtime": s.mtime,
        "version": s.version, "cversion": s.cversion, "aversion": s.aversion,
        "ephemeralOwner": s.ephemeral_owner, "dataLength": s.data_length,
        "numChildren": s.num_children, "pzxid": s.pzxid,
    })
}

fn print_json(rebuilt: &Rebuilt, options: &DumpOptions, out: &mut dyn Write) -> io::Result<()> {
    let source = json!({
        "snapshot": rebuilt.snapshot.as_ref().map(|(path, index, term)| json!({
            "file": path, "index": index, "term": term,
        })),
        "log": rebuilt.replayed.map(|(first, last)| json!({
            "first": first, "last": last, "txns_applied": rebuilt.txns_applied,
        })),
        "skipped_snapshots": rebuilt.skipped_snapshots.iter().map(|(path, why)| json!({
            "file": path, "reason": why,
        })).collect::<Vec<_>>(),
        "description": source_text(rebuilt),
    });
    write!(out, "{{\"source\":")?;
    serde_json::to_writer(&mut *out, &source).map_err(io::Error::other)?;
    write!(out, ",\n\"nodes\":[")?;
    for (i, node) in nodes(&rebuilt.tree, options.path_prefix.as_deref()).enumerate() {
        let data = match &node.data {
            None => Value::Null,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => json!({ "utf8": text }),
                Err(_) => json!({ "hex": hex(bytes) }),
            },
        };
        let acl: Vec<Value> = node
            .acl
            .iter()
            .map(|a| json!({ "scheme": a.id.scheme, "id": a.id.id, "perms": perms_text(a.perms) }))
            .collect();
        let value = json!({
            "path": node.path, "stat": stat_json(&node.stat), "acl": acl, "data": data,
        });
        writeln!(out, "{}", if i == 0 { "" } else { "," })?;
        serde_json::to_writer(&mut *out, &value).map_err(io::Error::other)?;
    }
    write!(out, "],\n\"sessions\":")?;
    let sessions: Vec<Value> = rebuilt
        .tree
        .sessions()
        .iter()
        .map(|(id, info)| json!({ "id": format!("0x{id:x}"), "timeout_ms": info.timeout_ms }))
        .collect();
    serde_json::to_writer(&mut *out, &sessions).map_err(io::Error::other)?;
    writeln!(out, "}}")
}
