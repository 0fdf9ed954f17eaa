//! Configuration of the log store.
//!
//! Names follow ZooKeeper where a knob exists there (`preAllocSize` → `prealloc_bytes`,
//! `forceSync` → `force_sync`); units are the last word of every name.

use std::path::PathBuf;

use crate::error::Error;
use crate::error::Result;

/// What to do with a bad record in the last segment that is followed by valid records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoveryPolicy {
    /// Refuse to open (the default): the valid records after the bad one prove the damage is
    /// not a torn tail, and they may have been acknowledged.
    #[default]
    Strict,
    /// Truncate the last segment at the first bad record, dropping everything after it with
    /// a warning. For an operator who has decided that the node may lose data (e.g. it will
    /// catch up from the other replicas), or after a crash on a disk that reorders writes
    /// inside one unsynced batch.
    TruncateAtFirstBadRecord,
}

/// Who executes the log's write I/O.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriterMode {
    /// A dedicated std thread with group commit (the default, and the only mode for a real
    /// server): many queued appends share one fsync, and the caller never blocks on the disk
    /// unless the queue (`writer_queue_commands_max`) is full.
    #[default]
    Thread,
    /// Every command is executed synchronously in the calling task, for a deterministic
    /// simulation (several servers in one current-thread runtime with paused time, over
    /// [`crate::MemVfs`]): an append is written, fsync'd and acknowledged before `append`
    /// returns; truncate, purge and vote saves likewise; `save_committed` is persisted at
    /// once (`committed_persist_interval_ms` is not used). No thread is spawned and no clock
    /// is read. Same on-disk bytes, positions and poisoning as `Thread`; one fsync per
    /// append, and the caller's task blocks for it, so it is not for real disks.
    Inline,
}

/// Configuration of a [`crate::LogStore`].
#[derive(Clone, Debug)]
pub struct LogStoreConfig {
    /// Directory holding segments, the state file and the version file.
    pub dir: PathBuf,
    /// Segments grow by this many zero bytes at a time (ZooKeeper's `preAllocSize`, 64 MiB).
    pub prealloc_bytes: u64,
    /// A segment is rolled over once the next record would take it past this size.
    pub segment_bytes_max: u64,
    /// fsync before acknowledging (ZooKeeper's `forceSync`). `false` acknowledges after the
    /// write reaches the OS: faster, and a power loss may lose acknowledged entries.
    pub force_sync: bool,
    /// Recent entries kept decoded in memory, so replication and apply rarely read the disk.
    /// Entries not yet written are always kept, whatever this says.
    pub cache_bytes_max: u64,
    /// `limited_get_log_entries` returns at most about this many (encoded) bytes.
    pub read_batch_bytes_max: u64,
    /// `save_committed` is persisted lazily: at most this long after it is called (and with
    /// any vote or purge save, and at shutdown). [`WriterMode::Inline`] persists it at once. Saving it is optional in openraft; a lost
    /// update only means re-applying a little more after a restart.
    pub committed_persist_interval_ms: u64,
    /// Commands the writer thread may have queued before `append` blocks (backpressure).
    /// Not used in [`WriterMode::Inline`].
    pub writer_queue_commands_max: usize,
    /// Who executes the write I/O (default: [`WriterMode::Thread`]).
    pub writer: WriterMode,
    /// How to treat a bad record followed by valid ones at open.
    pub recovery_policy: RecoveryPolicy,
}

/// Limits on configuration values.
const SEGMENT_BYTES_MAX_LIMIT: u64 = 1 << 30;
const PREALLOC_BYTES_LIMIT: u64 = 1 << 30;

impl LogStoreConfig {
    /// Defaults for a production directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LogStoreConfig {
            dir: dir.into(),
            prealloc_bytes: 64 * 1024 * 1024,
            segment_bytes_max: 64 * 1024 * 1024,
            force_sync: true,
            cache_bytes_max: 64 * 1024 * 1024,
            read_batch_bytes_max: 4 * 1024 * 1024,
            committed_persist_interval_ms: 1000,
            writer_queue_commands_max: 4096,
            recovery_policy: RecoveryPolicy::Strict,
            writer: WriterMode::Thread,
        }
    }

    /// Check the values; called by `LogStore::open`.
    pub fn validate(&self) -> Result<()> {
        if self.prealloc_bytes == 0 || self.prealloc_bytes > PREALLOC_BYTES_LIMIT {
            return Err(Error::Config(format!(
                "prealloc_bytes must be in 1..={PREALLOC_BYTES_LIMIT}, got {}",
                self.prealloc_bytes
            )));
        }
        if self.segment_bytes_max < 4096 || self.segment_bytes_max > SEGMENT_BYTES_MAX_LIMIT {
            return Err(Error::Config(format!(
                "segment_bytes_max must be in 4096..={SEGMENT_BYTES_MAX_LIMIT}, got {}",
                self.segment_bytes_max
            )));
        }
        if self.writer_queue_commands_max == 0 {
            return Err(Error::Config(
                "writer_queue_commands_max must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
