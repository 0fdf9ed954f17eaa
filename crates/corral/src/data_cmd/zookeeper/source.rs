//! The files of a ZooKeeper data directory: `snapshot.*` in `dataDir/version-2`, `log.*` in
//! `dataLogDir/version-2`, each with the zxid its name gives. Other files (`acceptedEpoch`,
//! `currentEpoch`, temporary files) are not ZooKeeper's data and are ignored.

use std::path::{Path, PathBuf};

use corral_zkdata::names::{self, FileName, VERSION_DIR};

use super::error::{io, MigrateError};

/// A snapshot or log file and the zxid in its name.
#[derive(Debug, Clone)]
pub(crate) struct ZkFile {
    pub(crate) zxid: i64,
    pub(crate) path: PathBuf,
    pub(crate) compression: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct ZkFiles {
    /// Newest first.
    pub(crate) snapshots: Vec<ZkFile>,
    /// Oldest first.
    pub(crate) logs: Vec<ZkFile>,
}

/// `dir/version-2`, or `dir` itself when it is the `version-2` directory.
pub(crate) fn version_dir(dir: &Path) -> PathBuf {
    let nested = dir.join(VERSION_DIR);
    if !nested.is_dir() && dir.file_name().is_some_and(|n| n == VERSION_DIR) {
        return dir.to_path_buf();
    }
    nested
}

pub(crate) fn list(data_dir: &Path, log_dir: &Path) -> Result<ZkFiles, MigrateError> {
    let mut files = ZkFiles::default();
    let snap_dir = version_dir(data_dir);
    let log_dir = version_dir(log_dir);
    let mut dirs = vec![snap_dir.clone()];
    if log_dir != snap_dir {
        dirs.push(log_dir);
    }
    for dir in dirs {
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name();
            let Some(parsed) = name.to_str().and_then(names::parse) else {
                continue;
            };
            match parsed {
                FileName::Snapshot { zxid, compression } => files.snapshots.push(ZkFile {
                    zxid,
                    path: entry.path(),
                    compression,
                }),
                FileName::Log { zxid } => files.logs.push(ZkFile {
                    zxid,
                    path: entry.path(),
                    compression: None,
                }),
            }
        }
    }
    if files.snapshots.is_empty() && files.logs.is_empty() {
        return Err(MigrateError::NotZooKeeperData {
            dir: data_dir.to_path_buf(),
        });
    }
    files.snapshots.sort_by_key(|f| std::cmp::Reverse(f.zxid));
    files.snapshots.dedup_by_key(|f| f.zxid);
    files.logs.sort_by_key(|f| f.zxid);
    Ok(files)
}

/// The logs a restore from a snapshot at `zxid` reads (`FileTxnLog.FileTxnIterator`): every
/// log starting after it, and the newest one starting at or before it (which holds the txns
/// right after it).
pub(crate) fn logs_after(logs: &[ZkFile], zxid: i64) -> Vec<ZkFile> {
    let first_after = logs.partition_point(|f| f.zxid <= zxid);
    let from = first_after.saturating_sub(1);
    logs[from..].to_vec()
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, MigrateError> {
    std::fs::read(path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(zxid: i64) -> ZkFile {
        ZkFile {
            zxid,
            path: PathBuf::from(format!("log.{zxid:x}")),
            compression: None,
        }
    }

    #[test]
    fn logs_after_a_snapshot() {
        let logs = vec![file(1), file(10), file(20)];
        let z = |v: Vec<ZkFile>| v.into_iter().map(|f| f.zxid).collect::<Vec<_>>();
        assert_eq!(z(logs_after(&logs, 0)), vec![1, 10, 20]);
        assert_eq!(z(logs_after(&logs, 9)), vec![1, 10, 20]);
        assert_eq!(z(logs_after(&logs, 10)), vec![10, 20]);
        assert_eq!(z(logs_after(&logs, 25)), vec![20]);
        assert!(logs_after(&[], 5).is_empty());
    }
}
