//! [`SnapshotStore`]: the directory of snapshot files.

use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::Error;
use crate::error::Result;
use crate::snapshot::bytes::SnapshotBytes;
use crate::snapshot::format::is_snapshot_tmp;
use crate::snapshot::format::parse_snapshot_file_name;
use crate::snapshot::format::snapshot_file_name;
use crate::snapshot::format::SnapshotFileMeta;
use crate::snapshot::format::SnapshotInfo;
use crate::snapshot::incoming::IncomingSnapshot;
use crate::snapshot::reader::SnapshotReader;
use crate::snapshot::writer::SnapshotWriter;
use crate::version;
use crate::vfs::remove_if_exists;
use crate::vfs::OsVfs;
use crate::vfs::Vfs;

/// ZooKeeper's `autopurge.snapRetainCount` cannot go below 3: a damaged newest snapshot
/// must leave older ones to fall back to.
pub const SNAPSHOT_RETAIN_COUNT_MIN: usize = 3;

/// What [`SnapshotStore::purge`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotPurge {
    /// Snapshot files removed.
    pub removed: Vec<PathBuf>,
    /// Log entries up to and including this index are covered by every retained snapshot,
    /// so the log may be purged up to it. `None` when no snapshot exists.
    pub log_purge_upto_index: Option<u64>,
}

/// A directory of snapshot files.
#[derive(Debug)]
pub struct SnapshotStore {
    dir: PathBuf,
    vfs: Arc<dyn Vfs>,
    /// Distinguishes temporary files of concurrent writers.
    tmp_counter: AtomicU64,
}

fn is_snapshot_file(name: &str) -> bool {
    parse_snapshot_file_name(name).is_some() || is_snapshot_tmp(name)
}

impl SnapshotStore {
    /// Open (or create) `dir` on the real file system.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with_vfs(dir, OsVfs::shared())
    }

    /// Open (or create) `dir` through `vfs`. Leftover temporary files (from a crash during
    /// a snapshot) are removed.
    pub fn open_with_vfs(dir: impl Into<PathBuf>, vfs: Arc<dyn Vfs>) -> Result<Self> {
        let dir = dir.into();
        vfs.create_dir_all(&dir)
            .map_err(|e| Error::io("create directory", &dir, e))?;
        version::check_or_init(&*vfs, &dir, is_snapshot_file)?;
        let names = vfs.list(&dir).map_err(|e| Error::io("list", &dir, e))?;
        for name in names.iter().filter(|n| is_snapshot_tmp(n)) {
            remove_if_exists(&*vfs, &dir.join(name))?;
        }
        Ok(SnapshotStore {
            dir,
            vfs,
            tmp_counter: AtomicU64::new(0),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start writing a snapshot. Nothing is visible until [`SnapshotWriter::finish`].
    pub fn begin(&self, meta: SnapshotFileMeta) -> Result<SnapshotWriter> {
        let n = self.tmp_counter.fetch_add(1, Ordering::SeqCst);
        let tmp = self.dir.join(format!(
            "snapshot-{:020}-{}-{n}.tmp",
            meta.last_log_index,
            std::process::id()
        ));
        let final_path = self.dir.join(snapshot_file_name(meta.last_log_index));
        SnapshotWriter::create(self.vfs.clone(), &self.dir, tmp, final_path, meta)
    }

    /// Start receiving a whole snapshot file from another server, one that ends at
    /// `last_log_index`. Nothing is visible until [`IncomingSnapshot::finish`] has verified it.
    pub fn receive(&self, last_log_index: u64) -> Result<IncomingSnapshot> {
        let n = self.tmp_counter.fetch_add(1, Ordering::SeqCst);
        let tmp = self.dir.join(format!(
            "snapshot-{last_log_index:020}-{}-{n}.tmp",
            std::process::id()
        ));
        IncomingSnapshot::create(self.vfs.clone(), self.dir.clone(), tmp, last_log_index)
    }

    /// Finished snapshot files, oldest (lowest index) first. Validity is not checked.
    pub fn list(&self) -> Result<Vec<SnapshotInfo>> {
        let names = self
            .vfs
            .list(&self.dir)
            .map_err(|e| Error::io("list", &self.dir, e))?;
        let mut infos: Vec<SnapshotInfo> = names
            .iter()
            .filter_map(|name| {
                parse_snapshot_file_name(name).map(|last_log_index| SnapshotInfo {
                    path: self.dir.join(name),
                    last_log_index,
                })
            })
            .collect();
        infos.sort_by_key(|i| i.last_log_index);
        Ok(infos)
    }

    /// Open one snapshot file (header and trailer checked; content checked while read).
    pub fn open_snapshot(&self, path: &Path) -> Result<SnapshotReader> {
        SnapshotReader::open(&*self.vfs, path)
    }

    /// A snapshot file's raw bytes (header, frames and trailer, unverified), read through the
    /// store's file system a piece at a time: what another server receives whole
    /// ([`SnapshotStore::receive`]) and verifies.
    pub fn open_bytes(&self, path: &Path) -> Result<SnapshotBytes> {
        SnapshotBytes::open(&*self.vfs, path)
    }

    /// Whether the store's files are the operating system's (see [`Vfs::is_os_file_system`]):
    /// then a caller may read them with its own (asynchronous) file I/O.
    pub fn on_os_file_system(&self) -> bool {
        self.vfs.is_os_file_system()
    }

    /// Read a whole snapshot file, verifying every checksum; returns its metadata.
    pub fn verify(&self, path: &Path) -> Result<SnapshotFileMeta> {
        let mut reader = self.open_snapshot(path)?;
        reader.verify_to_end()?;
        Ok(reader.meta().clone())
    }

    /// The newest snapshot that verifies completely, opened at the start of its content.
    /// Damaged newer ones are skipped with a warning (they are kept on disk for
    /// inspection; `purge` removes them by count like any other).
    pub fn newest_valid(&self) -> Result<Option<SnapshotReader>> {
        for info in self.list()?.iter().rev() {
            match self.verify(&info.path) {
                Ok(meta) if meta.last_log_index == info.last_log_index => {
                    return self.open_snapshot(&info.path).map(Some)
                }
                Ok(meta) => tracing::warn!(
                    file = %info.path.display(),
                    header_index = meta.last_log_index,
                    "skipping snapshot whose header disagrees with its file name"
                ),
                Err(e) => {
                    tracing::warn!(file = %info.path.display(), error = %e, "skipping damaged snapshot")
                }
            }
        }
        Ok(None)
    }

    /// Keep the newest `max(retain_count, SNAPSHOT_RETAIN_COUNT_MIN)` snapshots, delete
    /// the rest, and say up to which log index the log is now safe to purge.
    pub fn purge(&self, retain_count: usize) -> Result<SnapshotPurge> {
        let retain = retain_count.max(SNAPSHOT_RETAIN_COUNT_MIN);
        let infos = self.list()?;
        let cut = infos.len().saturating_sub(retain);
        let (old, kept) = infos.split_at(cut);
        let mut removed = Vec::with_capacity(old.len());
        for info in old {
            remove_if_exists(&*self.vfs, &info.path)?;
            removed.push(info.path.clone());
        }
        if !removed.is_empty() {
            self.vfs
                .sync_dir(&self.dir)
                .map_err(|e| Error::io("fsync directory", &self.dir, e))?;
        }
        Ok(SnapshotPurge {
            removed,
            log_purge_upto_index: kept.first().map(|i| i.last_log_index),
        })
    }
}
