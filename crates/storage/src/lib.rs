//! Durable storage for Corral: the Raft log (our write-ahead log) and snapshot files.
//!
//! This crate knows nothing of ZooKeeper. It stores opaque, serde-serialisable openraft
//! entries and votes, and opaque snapshot byte streams produced by another crate.
//!
//! # Code map
//!
//! | module            | one job                                                              |
//! |-------------------|----------------------------------------------------------------------|
//! | [`vfs`]           | every file operation goes through [`Vfs`] / [`VfsFile`] (real: [`OsVfs`]) |
//! | [`fault_vfs`]     | a [`Vfs`] wrapper that injects short writes, fsync errors, bit flips   |
//! | [`mem_vfs`]       | an in-memory [`Vfs`] that models what survives a crash (crash tests)   |
//! | [`record`]        | one length + CRC32C framed record                                    |
//! | [`segment`]       | segment file names, header, and the pure scan that finds torn tails  |
//! | `segment_table`   | in-memory map of log index → (segment file, byte offset)             |
//! | `writer`          | the only code that changes log files: group commit, rollover, truncate, purge |
//! | `writer_thread`   | thread mode (default): the writer on a dedicated std thread          |
//! | `writer_inline`   | inline mode: each command executed in the calling task (simulation)  |
//! | `writer_handle`   | the store's handle on its writer, whichever mode                     |
//! | `recovery`        | open-time scan: verify every CRC, truncate torn tails, refuse corruption |
//! | [`state_file`]    | vote / committed / purged ids in one atomically replaced file        |
//! | [`version`]       | the `corral-version` file that guards a data directory's format      |
//! | `cache`           | bounded (by bytes) in-memory suffix of the log                       |
//! | [`log_store`]     | [`LogStore`] / [`LogReader`]: openraft's `RaftLogStorage` / `RaftLogReader` |
//! | [`snapshot`]      | [`SnapshotStore`]: checksummed snapshot files, retention by count    |
//! | [`error`]         | the typed [`Error`]                                                  |
//!
//! # On-disk format (all integers little-endian)
//!
//! A log directory holds:
//!
//! * `corral-version` — the text `1\n`. An unknown version is refused at open.
//! * `log-<first index, 20 digits>.seg` — segment files. A 32-byte header
//!   (`magic "CRRLLOG1"`, `u32 format version = 1`, `u32 reserved = 0`, `u64 first index`,
//!   `u32 crc32c(bytes 0..24)`, `u32 reserved = 0`), then records
//!   `[u32 payload len][u32 crc32c(payload)][payload]` where the payload is the postcard
//!   encoding of one openraft entry and `1 <= len <= RECORD_BYTES_MAX`. Files are
//!   preallocated with zeros (`prealloc_bytes` at a time); a zero length field marks the end
//!   of data. A segment is rolled over once it would exceed `segment_bytes_max`; the old
//!   segment is fsync'd before the new one is created (temp name, fsync, rename, directory
//!   fsync), so only the last segment can ever have a torn tail.
//! * `raft-state` — `magic "CRRLSTAT"`, `u32 version = 1`, `u32 payload len`,
//!   `u32 crc32c(payload)`, then the postcard encoding of
//!   `(Option<vote>, Option<committed log id>, Option<last purged log id>)`. Replaced with
//!   temp file + fsync + rename + directory fsync.
//!
//! A snapshot directory holds `corral-version` and `snapshot-<last log index, 20 digits>.snap`
//! files; see [`snapshot`] for their layout.
//!
//! # Invariants
//!
//! * Nothing read from disk can panic: lengths are bounded by named constants
//!   ([`record::RECORD_BYTES_MAX`], [`snapshot::SNAPSHOT_FRAME_BYTES_MAX`], ...), slicing is
//!   checked, decode failures become [`Error::Corrupt`] naming the file and byte offset.
//! * An append is acknowledged (its `IOFlushed` callback called with `Ok`) only after the
//!   fsync that covers it (unless `force_sync` is off, ZooKeeper's `forceSync=no`).
//! * After a failed fsync (or any failed write) the store is poisoned: it never acknowledges
//!   anything again and every later append/save returns [`Error::Poisoned`].
//! * Torn tails of the last segment are truncated with a warning; any other damage stops
//!   the open with a typed error. Data is never dropped silently.

pub mod append_sizes;
pub mod error;
pub mod fault_vfs;
pub mod fsync_times;
pub mod layout;
pub mod log_store;
pub mod mem_vfs;
pub mod record;
pub mod segment;
pub mod snapshot;
pub mod state_file;
pub mod version;
pub mod vfs;

mod cache;
mod config;
mod log_codec;
mod recovery;
mod segment_table;
mod writer;
mod writer_handle;
mod writer_inline;
mod writer_thread;

pub use append_sizes::{AppendSizes, AppendSizesReading};
pub use config::LogStoreConfig;
pub use config::RecoveryPolicy;
pub use config::WriterMode;
pub use error::Error;
pub use error::Result;
pub use fault_vfs::FaultVfs;
pub use fault_vfs::Faults;
pub use fsync_times::{FsyncTimes, FsyncTimesReading};
pub use log_store::LogPositions;
pub use log_store::LogReader;
pub use log_store::LogStore;
pub use mem_vfs::CrashMode;
pub use mem_vfs::MemVfs;
pub use snapshot::SnapshotBytes;
pub use snapshot::SnapshotFileMeta;
pub use snapshot::SnapshotInfo;
pub use snapshot::SnapshotPurge;
pub use snapshot::SnapshotReader;
pub use snapshot::SnapshotStore;
pub use snapshot::SnapshotWriter;
pub use vfs::OsVfs;
pub use vfs::Vfs;
pub use vfs::VfsFile;
