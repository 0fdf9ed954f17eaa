//! Rebuilding ZooKeeper's tree as its restart would: the newest snapshot that decodes (newer
//! ones that do not are skipped and reported, as ZooKeeper skips them), then every logged txn
//! after its zxid, in order, with `DataTree.processTxn`'s rules; finally the ephemerals of
//! sessions no longer in the table are deleted, as ZooKeeper does once loaded.
//!
//! Beyond ZooKeeper's own checks, a log that skips zxids within an epoch (a missing log file)
//! or goes backwards stops the replay: the tree would silently lack acknowledged writes.

use std::path::PathBuf;

use corral_zkdata::model::digest::DigestCheck;
use corral_zkdata::txnlog::{self, LogEnd};
use corral_zkdata::{snapshot, ZkTree};

use super::error::MigrateError;
use super::progress::Progress;
use super::source::{self, ZkFiles};

/// What the replay read and found.
pub(crate) struct Replayed {
    pub(crate) tree: ZkTree,
    /// The snapshot used and its zxid (`None`: no snapshot, the replay started empty).
    pub(crate) snapshot: Option<(PathBuf, i64)>,
    /// Newer snapshots passed over, and why.
    pub(crate) skipped_snapshots: Vec<String>,
    /// Logs read: file and txns applied from it.
    pub(crate) logs: Vec<(PathBuf, u64)>,
    /// Logs cut short (their valid prefix used): file, offset, reason.
    pub(crate) truncated: Vec<String>,
    pub(crate) txns_applied: u64,
    pub(crate) digests: DigestCheck,
    /// Extended types in effect (asked for, or evident from the data).
    pub(crate) extended_types: bool,
    /// Ephemerals deleted because their session was not in the table.
    pub(crate) dead_ephemerals: Vec<String>,
}

pub(crate) fn replay(
    files: &ZkFiles,
    extended_types: bool,
    jute_maxbuffer: usize,
) -> Result<Replayed, MigrateError> {
    let mut progress = Progress::new();
    let mut skipped = Vec::new();
    let mut loaded = None;
    for file in &files.snapshots {
        if file.compression.is_some() {
            return Err(MigrateError::CompressedSnapshot {
                path: file.path.clone(),
            });
        }
        eprintln!("reading {}", file.path.display());
        let bytes = source::read(&file.path)?;
        match snapshot::read(&bytes, file.zxid) {
            Ok(snap) => {
                loaded = Some((file, snap));
                break;
            }
            Err(e) => skipped.push(format!("{}: {e}", file.path.display())),
        }
    }
    if loaded.is_none() && !files.snapshots.is_empty() {
        return Err(MigrateError::NoValidSnapshot { reasons: skipped });
    }
    let (tree, snapshot, stored_digest) = match loaded {
        Some((file, snap)) => (snap.tree, Some((file.path.clone(), file.zxid)), snap.digest),
        None => (ZkTree::new(), None, None),
    };
    let snap_zxid = snapshot.as_ref().map_or(0, |s| s.1);
    let digests = DigestCheck::new(snap_zxid, stored_digest, tree.digest());
    let mut out = Replayed {
        tree,
        snapshot,
        skipped_snapshots: skipped,
        logs: Vec::new(),
        truncated: Vec::new(),
        txns_applied: 0,
        digests,
        extended_types,
        dead_ephemerals: Vec::new(),
    };
    let logs = source::logs_after(&files.logs, snap_zxid);
    let total_bytes: u64 = logs
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let mut done_bytes = 0u64;
    for file in &logs {
        let bytes = source::read(&file.path)?;
        let scan = txnlog::scan(&bytes, jute_maxbuffer).map_err(|e| MigrateError::CorruptFile {
            path: file.path.clone(),
            offset: e.offset,
            reason: e.reason,
        })?;
        let mut applied = 0;
        for record in &scan.records {
            let zxid = record.entry.zxid();
            let last = out.tree.last_zxid;
            if zxid <= last {
                // Already in the snapshot (or a log overlapping the previous one).
                continue;
            }
            let same_epoch = zxid >> 32 == last >> 32;
            if same_epoch && zxid != last + 1 && (out.txns_applied > 0 || out.snapshot.is_some()) {
                return Err(MigrateError::LogOrder {
                    path: file.path.clone(),
                    offset: record.offset,
                    reason: format!(
                        "txn {zxid:#x} follows {last:#x}: the txns between them are missing \
                         (a log file deleted or lost?)"
                    ),
                });
            }
            out.tree
                .apply(&record.entry)
                .map_err(|source| MigrateError::Apply {
                    path: file.path.clone(),
                    offset: record.offset,
                    source,
                })?;
            out.digests
                .after_txn(zxid, record.entry.digest.as_ref(), out.tree.digest());
            applied += 1;
            out.txns_applied += 1;
            progress.tick(|| {
                format!(
                    "replaying {}: {} txns, {:.0}% of the logs",
                    file.path.display(),
                    out.txns_applied,
                    percent(done_bytes + record.offset, total_bytes)
                )
            });
        }
        match scan.end {
            LogEnd::Clean => {}
            LogEnd::Truncated { offset, reason } => out.truncated.push(format!(
                "{}: cut short at byte offset {offset} ({reason}); the {} whole records before \
                 it were used, as ZooKeeper does",
                file.path.display(),
                scan.records.len()
            )),
            LogEnd::Corrupt { offset, reason } => {
                return Err(MigrateError::CorruptFile {
                    path: file.path.clone(),
                    offset,
                    reason,
                })
            }
        }
        done_bytes += bytes.len() as u64;
        out.logs.push((file.path.clone(), applied));
    }
    out.extended_types = extended_types || out.tree.saw_ttl_create || out.tree.has_ttl_owners();
    out.dead_ephemerals = out.tree.kill_dead_sessions(out.extended_types);
    Ok(out)
}

fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    }
}
