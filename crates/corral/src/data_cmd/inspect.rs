//! `corral data inspect`: renders a [`DirReport`] as text or JSON, with the verdict.
//!
//! The verdict is "OK" when a restart would recover cleanly (a torn tail of the last segment
//! and temporary files left by a crash are noted, not counted: the server repairs them), and
//! lists every problem otherwise; the caller exits non-zero then.

use std::io::{self, Write};
use std::path::Path;

use serde_json::{json, Value};

use super::scan::{
    DirReport, LogId, SegmentStatus, SnapshotStatus, StateReport, TreeCheck, VersionStatus,
};

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn version_text(status: &VersionStatus) -> String {
    match status {
        VersionStatus::NoDirectory => "missing directory".into(),
        VersionStatus::Absent => "no version file".into(),
        VersionStatus::Supported => {
            format!("format {}", corral_storage::version::STORAGE_FORMAT_VERSION)
        }
        VersionStatus::Unknown(found) => format!("UNKNOWN format {found:?}"),
        VersionStatus::Unreadable(why) => format!("unreadable version file: {why}"),
    }
}

fn log_id_text(id: &Option<LogId>) -> String {
    match id {
        Some(id) => format!("index {} (term {})", id.index, id.leader_id.term),
        None => "none".into(),
    }
}

/// What a restart would do: the snapshot it restores and the entries it replays.
fn recovery_text(report: &DirReport) -> String {
    let snapshot_index = report.newest_valid_snapshot().map(|s| s.name_index);
    let start = match snapshot_index {
        Some(i) => format!("restores snapshot index {i}"),
        None => "starts from an empty tree".into(),
    };
    let from = snapshot_index.map_or(0, |i| i.saturating_add(1));
    match report.log_range() {
        Some((first, last)) if first.max(from) <= last => {
            let first = first.max(from);
            format!(
                "{start} and replays log entries {first}..={last} ({} entries)",
                (last - first).saturating_add(1)
            )
        }
        _ => format!("{start}; no log entries after it"),
    }
}

/// Prints the report; `json` selects one JSON object instead of text.
pub fn print(report: &DirReport, json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        let value = to_json(report);
        serde_json::to_writer_pretty(&mut *out, &value).map_err(io::Error::other)?;
        writeln!(out)
    } else {
        print_text(report, out)
    }
}

fn print_text(report: &DirReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "snapshots: {} ({})",
        report.snapshot_dir.display(),
        version_text(&report.snapshot_version)
    )?;
    if report.snapshots.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for s in &report.snapshots {
        let verdict = match &s.status {
            SnapshotStatus::Valid {
                last_log_term,
                content_bytes,
                ..
            } => format!(
                "term {last_log_term}  OK (checksums verified, {content_bytes} content bytes)"
            ),
            SnapshotStatus::Corrupt {
                offset: Some(offset),
                reason,
            } => format!("CORRUPT at byte offset {offset}: {reason}"),
            SnapshotStatus::Corrupt {
                offset: None,
                reason,
            } => format!("CORRUPT: {reason}"),
        };
        writeln!(
            out,
            "  {}  index {}  {} bytes  {verdict}",
            file_name(&s.path),
            s.name_index,
            s.file_bytes
        )?;
    }
    if let (Some(newest), Some(tree)) = (report.newest_valid_snapshot(), &report.newest_tree) {
        match tree {
            TreeCheck::Decodes { nodes, sessions } => writeln!(
                out,
                "  newest valid: {} (tree decodes: {nodes} nodes, {sessions} sessions)",
                file_name(&newest.path)
            )?,
            TreeCheck::Fails(why) => writeln!(
                out,
                "  newest valid: {} (CORRUPT tree: {why})",
                file_name(&newest.path)
            )?,
        }
    }
    writeln!(
        out,
        "log: {} ({})",
        report.log_dir.display(),
        version_text(&report.log_version)
    )?;
    if report.segments.is_empty() {
        writeln!(out, "  (no segments)")?;
    }
    for seg in &report.segments {
        let name = file_name(&seg.path);
        match &seg.status {
            SegmentStatus::BelowPurgePoint => writeln!(
                out,
                "  {name}  from index {}  {} bytes  below the purge point (deleted at next start)",
                seg.name_first_index, seg.file_bytes
            )?,
            SegmentStatus::Scanned {
                records,
                last_index,
                data_bytes,
                torn,
                ..
            } => {
                let range = match last_index {
                    Some(last) => format!("entries {}..={last}", seg.name_first_index),
                    None => format!("no entries (from index {})", seg.name_first_index),
                };
                let tail = match torn {
                    Some((offset, reason)) => format!(
                        "torn tail at byte offset {offset}: {reason} (never acknowledged; \
                         truncated at next start)"
                    ),
                    None => "clean".into(),
                };
                writeln!(
                    out,
                    "  {name}  {range}  {records} records  {data_bytes} of {} bytes  {tail}",
                    seg.file_bytes
                )?;
            }
            SegmentStatus::Corrupt { offset, reason } => writeln!(
                out,
                "  {name}  {} bytes  CORRUPT at byte offset {offset}: {reason}",
                seg.file_bytes
            )?,
        }
    }
    match &report.state {
        StateReport::Absent => writeln!(out, "raft state: none (nothing voted yet)")?,
        StateReport::Ok {
            vote,
            committed,
            purged,
        } => writeln!(
            out,
            "raft state: vote {}, committed {} (saved lazily: may lag), purged {}",
            vote.as_ref().map_or("none".to_string(), |v| v.to_string()),
            log_id_text(committed),
            log_id_text(purged)
        )?,
        StateReport::Corrupt { offset, reason } => {
            writeln!(out, "raft state: CORRUPT at byte offset {offset}: {reason}")?
        }
    }
    for (path, bytes) in &report.leftovers {
        writeln!(
            out,
            "note: leftover temporary file {} ({bytes} bytes) from an interrupted write; never \
             referenced, removed at next start",
            path.display()
        )?;
    }
    if report.snapshot_version == VersionStatus::NoDirectory {
        writeln!(
            out,
            "note: there is no snapshot directory {} (is DIR the server's dataDir?)",
            report.snapshot_dir.display()
        )?;
    }
    if report.log_version == VersionStatus::NoDirectory {
        writeln!(
            out,
            "note: there is no log directory {} (pass --log-dir when dataLogDir is not dataDir)",
            report.log_dir.display()
        )?;
    }
    for path in &report.foreign {
        writeln!(
            out,
            "note: {} is not a Corral file (ignored)",
            path.display()
        )?;
    }
    let problems = report.problems();
    if problems.is_empty() {
        writeln!(out, "verdict: OK: a restart {}", recovery_text(report))?;
    } else {
        writeln!(out, "verdict: CORRUPT ({} problems)", problems.len())?;
        for problem in &problems {
            writeln!(out, "  - {problem}")?;
        }
    }
    Ok(())
}

fn log_id_json(id: &Option<LogId>) -> Value {
    match id {
        Some(id) => json!({ "index": id.index, "term": id.leader_id.term }),
        None => Value::Null,
    }
}

fn to_json(report: &DirReport) -> Value {
    let snapshots: Vec<Value> = report
        .snapshots
        .iter()
        .map(|s| match &s.status {
            SnapshotStatus::Valid {
                last_log_index,
                last_log_term,
                content_bytes,
            } => json!({
                "file": s.path, "index": last_log_index, "term": last_log_term,
                "bytes": s.file_bytes, "content_bytes": content_bytes, "status": "ok",
            }),
            SnapshotStatus::Corrupt { offset, reason } => json!({
                "file": s.path, "index": s.name_index, "bytes": s.file_bytes,
                "status": "corrupt", "offset": offset, "reason": reason,
            }),
        })
        .collect();
    let segments: Vec<Value> = report
        .segments
        .iter()
        .map(|seg| match &seg.status {
            SegmentStatus::BelowPurgePoint => json!({
                "file": seg.path, "first_index": seg.name_first_index,
                "file_bytes": seg.file_bytes, "status": "below_purge_point",
            }),
            SegmentStatus::Scanned {
                records,
                last_index,
                last_term,
                data_bytes,
                torn,
            } => json!({
                "file": seg.path, "first_index": seg.name_first_index,
                "last_index": last_index, "last_term": last_term, "records": records,
                "data_bytes": data_bytes, "file_bytes": seg.file_bytes,
                "status": if torn.is_some() { "torn_tail" } else { "clean" },
                "torn_offset": torn.as_ref().map(|t| t.0),
                "reason": torn.as_ref().map(|t| t.1.clone()),
            }),
            SegmentStatus::Corrupt { offset, reason } => json!({
                "file": seg.path, "first_index": seg.name_first_index,
                "file_bytes": seg.file_bytes, "status": "corrupt",
                "offset": offset, "reason": reason,
            }),
        })
        .collect();
    let state = match &report.state {
        StateReport::Absent => json!({ "status": "absent" }),
        StateReport::Ok {
            vote,
            committed,
            purged,
        } => json!({
            "status": "ok",
            "vote": vote.as_ref().map(|v| v.to_string()),
            "committed": log_id_json(committed),
            "purged": log_id_json(purged),
        }),
        StateReport::Corrupt { offset, reason } => {
            json!({ "status": "corrupt", "offset": offset, "reason": reason })
        }
    };
    let newest = report.newest_valid_snapshot().map(|s| {
        let (nodes, sessions, tree_error) = match &report.newest_tree {
            Some(TreeCheck::Decodes { nodes, sessions }) => (Some(*nodes), Some(*sessions), None),
            Some(TreeCheck::Fails(why)) => (None, None, Some(why.clone())),
            None => (None, None, None),
        };
        json!({
            "file": s.path, "index": s.name_index, "nodes": nodes, "sessions": sessions,
            "tree_error": tree_error,
        })
    });
    let problems = report.problems();
    json!({
        "snapshot_dir": report.snapshot_dir,
        "log_dir": report.log_dir,
        "snapshot_version": version_text(&report.snapshot_version),
        "log_version": version_text(&report.log_version),
        "snapshots": snapshots,
        "newest_valid_snapshot": newest,
        "segments": segments,
        "log_range": report.log_range().map(|(first, last)| json!({ "first": first, "last": last })),
        "state": state,
        "leftovers": report.leftovers.iter().map(|(p, b)| json!({ "file": p, "bytes": b })).collect::<Vec<_>>(),
        "foreign": report.foreign,
        "recovery": recovery_text(report),
        "problems": problems,
        "verdict": if problems.is_empty() { "ok" } else { "corrupt" },
    })
}
