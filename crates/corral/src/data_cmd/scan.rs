//! Reading and checking a server's data directories without writing anything.
//!
//! [`scan_dirs`] reads every snapshot file, log segment and the raft state file the way the
//! server's start-up would (`corral-storage`'s recovery and `SnapshotStore::newest_valid`),
//! but through [`ReadOnlyVfs`], which refuses every write, and with the storage crate's pure
//! decoders ([`scan_segment`], [`decode_state_file`]) instead of `LogStore::open`, which would
//! truncate a torn tail. The result is a [`DirReport`]: plain data, printed by `inspect`;
//! `dump` uses [`read_log_entries`] on the same scan to rebuild the tree.
//!
//! Damage never panics and never stops the scan: each file's problem is recorded with its
//! byte offset and the scan goes on, so one run reports everything that is wrong.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use corral_entry::{Entry, TypeConfig, Vote};
use corral_storage::record::RECORD_BYTES_MAX;
use corral_storage::segment::{parse_segment_file_name, scan_segment, SEGMENT_FILE_BYTES_MAX};
use corral_storage::state_file::{
    decode_state_file, STATE_FILE_NAME, STATE_HEADER_BYTES, STATE_PAYLOAD_BYTES_MAX,
};
use corral_storage::version::{STORAGE_FORMAT_VERSION, VERSION_FILE_NAME};
use corral_storage::vfs::{read_whole, OpenMode, OsVfs, Vfs, VfsFile};
use corral_storage::{RecoveryPolicy, SnapshotReader};
use corral_tree::DataTree;
use openraft::type_config::alias::LogIdOf;

/// A log id of Corral's raft log.
pub type LogId = LogIdOf<TypeConfig>;

/// The version file is one short line.
const VERSION_FILE_BYTES_MAX: u64 = 64;

/// Why a scan could not run at all (damage inside files is reported, not returned).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Neither directory exists: probably not a Corral dataDir.
    #[error(
        "not a Corral data directory: neither {} nor {} exists (give the server's dataDir, and \
         --log-dir for a separate dataLogDir)",
        snapshot_dir.display(),
        log_dir.display()
    )]
    NotADataDir {
        /// Where snapshots were looked for.
        snapshot_dir: PathBuf,
        /// Where the log was looked for.
        log_dir: PathBuf,
    },
    /// A directory could not be listed.
    #[error("cannot list {}: {source}", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// A file system that refuses every write: the tools' guarantee that they change nothing,
/// enforced below the storage crate's readers rather than promised above them.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadOnlyVfs;

fn refused(what: &str, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "corral data is read-only: refusing to {what} {}",
            path.display()
        ),
    )
}

impl Vfs for ReadOnlyVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        match mode {
            OpenMode::Read => OsVfs.open(path, mode),
            OpenMode::ReadWrite | OpenMode::CreateNew => Err(refused("open for writing", path)),
        }
    }
    fn rename(&self, from: &Path, _to: &Path) -> io::Result<()> {
        Err(refused("rename", from))
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        Err(refused("remove", path))
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        OsVfs.list(dir)
    }
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            Ok(())
        } else {
            Err(refused("create directory", dir))
        }
    }
}

/// What a directory's `corral-version` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionStatus {
    /// The directory does not exist.
    NoDirectory,
    /// No version file (fine for a directory holding none of our files).
    Absent,
    /// The version this build reads.
    Supported,
    /// Another version: the server refuses the directory.
    Unknown(String),
    /// The file could not be read.
    Unreadable(String),
}

/// A snapshot file and what verifying it found.
#[derive(Debug, Clone)]
pub struct SnapshotReport {
    /// The file.
    pub path: PathBuf,
    /// The last log index its name gives.
    pub name_index: u64,
    /// File size.
    pub file_bytes: u64,
    /// Verdict.
    pub status: SnapshotStatus,
}

/// Whether a snapshot file verified.
#[derive(Debug, Clone)]
pub enum SnapshotStatus {
    /// Header, every frame checksum, the trailer totals and the openraft meta check out.
    Valid {
        /// Last log index included.
        last_log_index: u64,
        /// Its term.
        last_log_term: u64,
        /// Content bytes (the tree stream).
        content_bytes: u64,
    },
    /// Damaged: where (when the damage has a byte offset) and what.
    Corrupt {
        /// Byte offset of the bad bytes, when known.
        offset: Option<u64>,
        /// What is wrong.
        reason: String,
    },
}

/// The newest valid snapshot's tree, decoded.
#[derive(Debug, Clone)]
pub enum TreeCheck {
    /// It decodes.
    Decodes {
        /// Nodes in the tree.
        nodes: usize,
        /// Sessions in the sessions table.
        sessions: usize,
    },
    /// It does not: the server would refuse to start from it.
    Fails(String),
}

/// A segment's scan.
#[derive(Debug, Clone)]
pub struct SegmentReport {
    /// The file.
    pub path: PathBuf,
    /// The first index its name gives.
    pub name_first_index: u64,
    /// File size (including preallocated zeros).
    pub file_bytes: u64,
    /// Verdict.
    pub status: SegmentStatus,
}

/// What scanning one segment found.
#[derive(Debug, Clone)]
pub enum SegmentStatus {
    /// Wholly below the purge point: the server deletes it at start without reading it.
    BelowPurgePoint,
    /// Every record checked and decoded.
    Scanned {
        /// Records found.
        records: u64,
        /// Index of the last record, if any.
        last_index: Option<u64>,
        /// Term of the last record, if any.
        last_term: Option<u64>,
        /// Bytes of header plus records (the rest is preallocated zeros or a torn tail).
        data_bytes: u64,
        /// A torn tail (offset, reason): the last write before a crash, never acknowledged;
        /// the server truncates it.
        torn: Option<(u64, String)>,
    },
    /// Damaged beyond a torn tail: the server refuses to start.
    Corrupt {
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// The raft state file.
#[derive(Debug, Clone)]
pub enum StateReport {
    /// No state file (a log that never voted).
    Absent,
    /// Decoded.
    Ok {
        /// The vote, as openraft prints it.
        vote: Option<Vote>,
        /// Last committed log id (persisted lazily: may lag).
        committed: Option<LogId>,
        /// Last purged log id.
        purged: Option<LogId>,
    },
    /// Damaged: the server refuses to start.
    Corrupt {
        /// Byte offset.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl StateReport {
    /// The purged log id, if the file decoded and has one.
    pub fn purged(&self) -> Option<LogId> {
        match self {
            StateReport::Ok { purged, .. } => *purged,
            _ => None,
        }
    }
}

/// Everything `inspect` reports about a dataDir (+ dataLogDir).
#[derive(Debug, Clone)]
pub struct DirReport {
    /// `dataDir/corral-snapshots`.
    pub snapshot_dir: PathBuf,
    /// `dataLogDir/corral-log`.
    pub log_dir: PathBuf,
    /// The snapshot directory's version file.
    pub snapshot_version: VersionStatus,
    /// The log directory's version file.
    pub log_version: VersionStatus,
    /// Snapshot files, oldest first.
    pub snapshots: Vec<SnapshotReport>,
    /// The tree of the newest valid snapshot.
    pub newest_tree: Option<TreeCheck>,
    /// Temporary files a crash left behind (path, bytes): never referenced, removed at start.
    pub leftovers: Vec<(PathBuf, u64)>,
    /// Files that are not ours (ignored by the server).
    pub foreign: Vec<PathBuf>,
    /// Log segments, lowest first index first.
    pub segments: Vec<SegmentReport>,
    /// Gaps and overlaps between segments, a log that no longer covers the snapshot, ...
    pub log_problems: Vec<String>,
    /// The raft state file.
    pub state: StateReport,
}

impl DirReport {
    /// The newest snapshot that verified.
    pub fn newest_valid_snapshot(&self) -> Option<&SnapshotReport> {
        self.snapshots
            .iter()
            .rev()
            .find(|s| matches!(s.status, SnapshotStatus::Valid { .. }))
    }

    /// Index of the first and last entry the log holds (after the purge point).
    pub fn log_range(&self) -> Option<(u64, u64)> {
        let purged_end = self.state.purged().map_or(0, |p| p.index.saturating_add(1));
        let mut first = None;
        let mut last = None;
        for segment in &self.segments {
            if let SegmentStatus::Scanned {
                last_index: Some(l),
                ..
            } = segment.status
            {
                let start = segment.name_first_index.max(purged_end);
                if start <= l {
                    first = first.or(Some(start));
                    last = Some(l);
                }
            }
        }
        first.zip(last)
    }

    /// Everything that makes the directory unusable or shows damaged data; empty when a
    /// restart would recover cleanly. Torn tails and leftover temporary files are not here.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (dir, status) in [
            (&self.snapshot_dir, &self.snapshot_version),
            (&self.log_dir, &self.log_version),
        ] {
            match status {
                VersionStatus::Unknown(found) => problems.push(format!(
                    "{}: unknown storage format version {found:?} (this build reads \
                     {STORAGE_FORMAT_VERSION})",
                    dir.join(VERSION_FILE_NAME).display()
                )),
                VersionStatus::Unreadable(why) => {
                    problems.push(format!("{}: {why}", dir.join(VERSION_FILE_NAME).display()))
                }
                VersionStatus::Absent | VersionStatus::Supported | VersionStatus::NoDirectory => {}
            }
        }
        if self.snapshot_version == VersionStatus::Absent && !self.snapshots.is_empty() {
            problems.push(format!(
                "{} holds snapshots but no {VERSION_FILE_NAME} file",
                self.snapshot_dir.display()
            ));
        }
        if self.log_version == VersionStatus::Absent && !self.segments.is_empty() {
            problems.push(format!(
                "{} holds log segments but no {VERSION_FILE_NAME} file",
                self.log_dir.display()
            ));
        }
        for snapshot in &self.snapshots {
            if let SnapshotStatus::Corrupt { offset, reason } = &snapshot.status {
                problems.push(match offset {
                    Some(offset) => format!(
                        "{}: corrupt at byte offset {offset}: {reason}",
                        snapshot.path.display()
                    ),
                    None => format!("{}: {reason}", snapshot.path.display()),
                });
            }
        }
        if let (Some(TreeCheck::Fails(why)), Some(newest)) =
            (&self.newest_tree, self.newest_valid_snapshot())
        {
            problems.push(format!(
                "{}: the tree does not decode: {why}",
                newest.path.display()
            ));
        }
        for segment in &self.segments {
            if let SegmentStatus::Corrupt { offset, reason } = &segment.status {
                problems.push(format!(
                    "{}: corrupt at byte offset {offset}: {reason}",
                    segment.path.display()
                ));
            }
        }
        problems.extend(self.log_problems.iter().cloned());
        if let StateReport::Corrupt { offset, reason } = &self.state {
            problems.push(format!(
                "{}: corrupt at byte offset {offset}: {reason}",
                self.log_dir.join(STATE_FILE_NAME).display()
            ));
        }
        problems
    }
}

/// Scans a snapshot directory and a log directory. Fails only if neither exists or one cannot
/// be listed; damage inside files is recorded in the report.
pub fn scan_dirs(snapshot_dir: &Path, log_dir: &Path) -> Result<DirReport, ScanError> {
    if !snapshot_dir.is_dir() && !log_dir.is_dir() {
        return Err(ScanError::NotADataDir {
            snapshot_dir: snapshot_dir.to_path_buf(),
            log_dir: log_dir.to_path_buf(),
        });
    }
    let mut report = DirReport {
        snapshot_dir: snapshot_dir.to_path_buf(),
        log_dir: log_dir.to_path_buf(),
        snapshot_version: VersionStatus::NoDirectory,
        log_version: VersionStatus::NoDirectory,
        snapshots: Vec::new(),
        newest_tree: None,
        leftovers: Vec::new(),
        foreign: Vec::new(),
        segments: Vec::new(),
        log_problems: Vec::new(),
        state: StateReport::Absent,
    };
    if snapshot_dir.is_dir() {
        scan_snapshot_dir(&mut report)?;
    }
    if log_dir.is_dir() {
        scan_log_dir(&mut report)?;
    }
    check_coverage(&mut report);
    Ok(report)
}

fn list(dir: &Path) -> Result<Vec<String>, ScanError> {
    let mut names = ReadOnlyVfs.list(dir).map_err(|source| ScanError::List {
        path: dir.to_path_buf(),
        source,
    })?;
    names.sort();
    Ok(names)
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn read_version(dir: &Path, names: &[String]) -> VersionStatus {
    if !names.iter().any(|n| n == VERSION_FILE_NAME) {
        return VersionStatus::Absent;
    }
    match read_whole(
        &ReadOnlyVfs,
        &dir.join(VERSION_FILE_NAME),
        VERSION_FILE_BYTES_MAX,
    ) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let found = text.trim();
            if found.parse::<u32>().ok() == Some(STORAGE_FORMAT_VERSION) {
                VersionStatus::Supported
            } else {
                VersionStatus::Unknown(found.to_string())
            }
        }
        Err(e) => VersionStatus::Unreadable(e.to_string()),
    }
}

/// The index a final snapshot file name carries (`snapshot-<20 digits>.snap`).
pub fn parse_snapshot_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn scan_snapshot_dir(report: &mut DirReport) -> Result<(), ScanError> {
    let dir = report.snapshot_dir.clone();
    let names = list(&dir)?;
    report.snapshot_version = read_version(&dir, &names);
    for name in &names {
        let path = dir.join(name);
        if parse_snapshot_file_name(name).is_some() || name == VERSION_FILE_NAME {
            continue;
        }
        if name.starts_with("snapshot-") && name.ends_with(".tmp") {
            report.leftovers.push((path.clone(), file_bytes(&path)));
        } else {
            report.foreign.push(path);
        }
    }
    report.snapshots = verify_snapshots(&dir, &names);
    if let Some(newest) = report.newest_valid_snapshot() {
        report.newest_tree = Some(match open_tree(&newest.path) {
            Ok(tree) => TreeCheck::Decodes {
                nodes: tree.paths().len(),
                sessions: tree.sessions().len(),
            },
            Err(why) => TreeCheck::Fails(why),
        });
    }
    Ok(())
}

/// Every snapshot file of `dir` (oldest first), each verified completely.
pub fn scan_snapshot_files(dir: &Path) -> Result<Vec<SnapshotReport>, ScanError> {
    let names = list(dir)?;
    Ok(verify_snapshots(dir, &names))
}

fn verify_snapshots(dir: &Path, names: &[String]) -> Vec<SnapshotReport> {
    let mut snapshots: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|name| parse_snapshot_file_name(name).map(|index| (index, dir.join(name))))
        .collect();
    snapshots.sort();
    snapshots
        .into_iter()
        .map(|(name_index, path)| SnapshotReport {
            file_bytes: file_bytes(&path),
            status: verify_snapshot(&path, name_index),
            path,
            name_index,
        })
        .collect()
}

fn corrupt_from(err: corral_storage::Error) -> SnapshotStatus {
    match err {
        corral_storage::Error::Corrupt { offset, reason, .. } => SnapshotStatus::Corrupt {
            offset: Some(offset),
            reason,
        },
        other => SnapshotStatus::Corrupt {
            offset: None,
            reason: other.to_string(),
        },
    }
}

/// Verifies one snapshot file completely: header, every frame, the trailer totals, that the
/// header agrees with the name, and that the openraft meta decodes.
pub fn verify_snapshot(path: &Path, name_index: u64) -> SnapshotStatus {
    let mut reader = match SnapshotReader::open(&ReadOnlyVfs, path) {
        Ok(reader) => reader,
        Err(e) => return corrupt_from(e),
    };
    if let Err(e) = reader.verify_to_end() {
        return corrupt_from(e);
    }
    let meta = reader.meta();
    if meta.last_log_index != name_index {
        return SnapshotStatus::Corrupt {
            offset: Some(16),
            reason: format!(
                "header says last log index {}, the file name says {name_index}",
                meta.last_log_index
            ),
        };
    }
    if let Err(e) = corral_entry::decode_snapshot_meta(&meta.opaque) {
        return SnapshotStatus::Corrupt {
            offset: Some(36),
            reason: format!("the raft snapshot meta does not decode: {e}"),
        };
    }
    SnapshotStatus::Valid {
        last_log_index: meta.last_log_index,
        last_log_term: meta.last_log_term,
        content_bytes: reader.content_bytes(),
    }
}

/// Loads the tree of a snapshot file (verifying checksums as it streams).
pub fn open_tree(path: &Path) -> Result<DataTree, String> {
    let reader = SnapshotReader::open(&ReadOnlyVfs, path).map_err(|e| e.to_string())?;
    DataTree::load_snapshot(reader).map_err(|e| e.to_string())
}

fn is_log_tmp(name: &str) -> bool {
    name.strip_suffix(".tmp").is_some_and(|base| {
        parse_segment_file_name(base).is_some()
            || base == STATE_FILE_NAME
            || base == VERSION_FILE_NAME
    })
}

fn scan_log_dir(report: &mut DirReport) -> Result<(), ScanError> {
    let dir = report.log_dir.clone();
    let names = list(&dir)?;
    report.log_version = read_version(&dir, &names);
    for name in &names {
        let path = dir.join(name);
        if is_log_tmp(name) {
            report.leftovers.push((path.clone(), file_bytes(&path)));
        } else if parse_segment_file_name(name).is_none()
            && name != STATE_FILE_NAME
            && name != VERSION_FILE_NAME
        {
            report.foreign.push(path);
        }
    }
    report.state = read_state(&dir, &names);
    let purged_end = report.state.purged().map(|p| p.index.saturating_add(1));
    let scan = scan_segments(&dir, &names, purged_end, None);
    report.segments = scan.segments;
    report.log_problems = scan.problems;
    Ok(())
}

fn read_state(dir: &Path, names: &[String]) -> StateReport {
    if !names.iter().any(|n| n == STATE_FILE_NAME) {
        return StateReport::Absent;
    }
    let bytes = match read_whole(
        &ReadOnlyVfs,
        &dir.join(STATE_FILE_NAME),
        (STATE_HEADER_BYTES + STATE_PAYLOAD_BYTES_MAX) as u64,
    ) {
        Ok(bytes) => bytes,
        Err(corral_storage::Error::Corrupt { offset, reason, .. }) => {
            return StateReport::Corrupt { offset, reason }
        }
        Err(e) => {
            return StateReport::Corrupt {
                offset: 0,
                reason: e.to_string(),
            }
        }
    };
    let payload = match decode_state_file(&bytes) {
        Ok(payload) => payload,
        Err((offset, reason)) => return StateReport::Corrupt { offset, reason },
    };
    type Wire = (Option<Vote>, Option<LogId>, Option<LogId>);
    match postcard::take_from_bytes::<Wire>(payload) {
        Ok(((vote, committed, purged), [])) => StateReport::Ok {
            vote,
            committed,
            purged,
        },
        Ok((_, rest)) => StateReport::Corrupt {
            offset: STATE_HEADER_BYTES as u64,
            reason: format!("{} trailing bytes after the raft state", rest.len()),
        },
        Err(e) => StateReport::Corrupt {
            offset: STATE_HEADER_BYTES as u64,
            reason: format!("cannot decode the raft state: {e}"),
        },
    }
}

/// The result of scanning a log directory's segments.
pub struct SegmentsScan {
    /// One report per segment file.
    pub segments: Vec<SegmentReport>,
    /// Continuity problems (gaps, overlaps).
    pub problems: Vec<String>,
    /// Entries kept (see [`scan_segments`]), in index order.
    pub entries: Vec<Entry>,
}

/// Scans every segment of a log directory as recovery does: segments wholly below the purge
/// point are skipped, every live one is read, every record's checksum verified and its entry
/// decoded and checked to hold the index its position implies; only the last live segment may
/// end in a torn tail. Entries with index `>= keep_from` (and above the purge point) are
/// returned when `keep_from` is given.
pub fn scan_segments(
    dir: &Path,
    names: &[String],
    purged_end: Option<u64>,
    keep_from: Option<u64>,
) -> SegmentsScan {
    let mut files: Vec<(u64, &String)> = names
        .iter()
        .filter_map(|n| parse_segment_file_name(n).map(|first| (first, n)))
        .collect();
    files.sort();
    // As recovery: a segment is dead when a later one starts at or below the purge point.
    let mut live_from = 0;
    if let Some(purged_end) = purged_end {
        for (i, (first, _)) in files.iter().enumerate().skip(1) {
            if *first <= purged_end {
                live_from = i;
            }
        }
    }
    let mut out = SegmentsScan {
        segments: Vec::new(),
        problems: Vec::new(),
        entries: Vec::new(),
    };
    // End index of the previous live segment (None after a corrupt one: its end is unknown).
    let mut prev: Option<(u64, PathBuf)> = None;
    for (k, (first_index, name)) in files.iter().enumerate() {
        let path = dir.join(name);
        let file_bytes = file_bytes(&path);
        if k < live_from {
            out.segments.push(SegmentReport {
                path,
                name_first_index: *first_index,
                file_bytes,
                status: SegmentStatus::BelowPurgePoint,
            });
            continue;
        }
        let is_first_live = k == live_from;
        let is_last = k + 1 == files.len();
        match &prev {
            Some((prev_end, prev_path)) if first_index > prev_end => out.problems.push(format!(
                "missing log segment: entries from index {prev_end} are needed after {}, but the \
                 next segment {} starts at index {first_index}",
                prev_path.display(),
                path.display()
            )),
            Some((prev_end, prev_path)) if first_index < prev_end => out.problems.push(format!(
                "{} starts at index {first_index} but {} already holds entries up to {}",
                path.display(),
                prev_path.display(),
                prev_end - 1
            )),
            _ => {}
        }
        if is_first_live {
            if let Some(purged_end) = purged_end.filter(|end| first_index > end) {
                out.problems.push(format!(
                    "missing log segment: the log is purged up to index {} but its first \
                     segment {} starts at index {first_index}",
                    purged_end - 1,
                    path.display()
                ));
            }
        }
        let keep = keep_from.map(|from| from.max(purged_end.unwrap_or(0)));
        let status = scan_one_segment(&path, *first_index, is_last, keep, &mut out.entries);
        prev = match &status {
            SegmentStatus::Scanned { records, .. } => {
                Some((first_index.saturating_add(*records), path.clone()))
            }
            _ => None,
        };
        out.segments.push(SegmentReport {
            path,
            name_first_index: *first_index,
            file_bytes,
            status,
        });
    }
    out
}

fn scan_one_segment(
    path: &Path,
    first_index: u64,
    is_last: bool,
    keep_from: Option<u64>,
    kept: &mut Vec<Entry>,
) -> SegmentStatus {
    let bytes = match read_whole(&ReadOnlyVfs, path, SEGMENT_FILE_BYTES_MAX) {
        Ok(bytes) => bytes,
        Err(corral_storage::Error::Corrupt { offset, reason, .. }) => {
            return SegmentStatus::Corrupt { offset, reason }
        }
        Err(e) => {
            return SegmentStatus::Corrupt {
                offset: 0,
                reason: e.to_string(),
            }
        }
    };
    let scan = match scan_segment(&bytes, is_last, RecoveryPolicy::Strict) {
        Ok(scan) => scan,
        Err(e) => {
            return SegmentStatus::Corrupt {
                offset: e.offset,
                reason: e.reason,
            }
        }
    };
    if scan.first_index != first_index {
        return SegmentStatus::Corrupt {
            offset: 16,
            reason: format!(
                "header names first index {} but the file name says {first_index}",
                scan.first_index
            ),
        };
    }
    let mut last_term = None;
    let mut kept_here = Vec::new();
    for (i, record) in scan.records.iter().enumerate() {
        let index = first_index.saturating_add(i as u64);
        let payload = bytes.get(record.payload.clone()).unwrap_or_default();
        if payload.len() > RECORD_BYTES_MAX {
            return SegmentStatus::Corrupt {
                offset: record.offset,
                reason: format!("entry {index}: record longer than {RECORD_BYTES_MAX} bytes"),
            };
        }
        let entry = match postcard::take_from_bytes::<Entry>(payload) {
            Ok((entry, [])) => entry,
            Ok((_, rest)) => {
                return SegmentStatus::Corrupt {
                    offset: record.offset,
                    reason: format!(
                        "entry {index}: {} trailing bytes after the entry",
                        rest.len()
                    ),
                }
            }
            Err(e) => {
                return SegmentStatus::Corrupt {
                    offset: record.offset,
                    reason: format!("entry {index}: cannot decode entry: {e}"),
                }
            }
        };
        if entry.log_id.index != index {
            return SegmentStatus::Corrupt {
                offset: record.offset,
                reason: format!(
                    "record holds entry {} where entry {index} belongs",
                    entry.log_id.index
                ),
            };
        }
        last_term = Some(entry.log_id.leader_id.term);
        if keep_from.is_some_and(|from| index >= from) {
            kept_here.push(entry);
        }
    }
    kept.append(&mut kept_here);
    let records = scan.records.len() as u64;
    SegmentStatus::Scanned {
        records,
        last_index: records
            .checked_sub(1)
            .map(|n| first_index.saturating_add(n)),
        last_term,
        data_bytes: scan.data_end,
        torn: scan.torn.map(|t| (t.offset, t.reason)),
    }
}

/// The server refuses to start when the log was purged past the snapshot it would restore.
fn check_coverage(report: &mut DirReport) {
    let restored = report.newest_valid_snapshot().map_or(0, |s| s.name_index);
    if let Some(purged) = report.state.purged() {
        if purged.index > restored {
            report.log_problems.push(format!(
                "the log starts after index {} but the newest valid snapshot ends at index \
                 {restored}: entries in between are missing (the server refuses to start)",
                purged.index
            ));
        }
    }
}

/// The log entries from `from_index` on, read with the same checks as [`scan_dirs`]; an error
/// names every problem that makes the log unusable.
pub fn read_log_entries(log_dir: &Path, from_index: u64) -> Result<LogEntries, String> {
    if !log_dir.is_dir() {
        return Ok(LogEntries {
            entries: Vec::new(),
            purged: None,
        });
    }
    let names = list(log_dir).map_err(|e| e.to_string())?;
    let state = read_state(log_dir, &names);
    if let StateReport::Corrupt { offset, reason } = &state {
        return Err(format!(
            "{}: corrupt at byte offset {offset}: {reason}",
            log_dir.join(STATE_FILE_NAME).display()
        ));
    }
    let purged = state.purged();
    let scan = scan_segments(
        log_dir,
        &names,
        purged.map(|p| p.index.saturating_add(1)),
        Some(from_index),
    );
    let mut problems = scan.problems;
    for segment in &scan.segments {
        if let SegmentStatus::Corrupt { offset, reason } = &segment.status {
            problems.push(format!(
                "{}: corrupt at byte offset {offset}: {reason}",
                segment.path.display()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(LogEntries {
        entries: scan.entries,
        purged,
    })
}

/// Entries read by [`read_log_entries`].
pub struct LogEntries {
    /// In index order, contiguous.
    pub entries: Vec<Entry>,
    /// The purge point.
    pub purged: Option<LogId>,
}
