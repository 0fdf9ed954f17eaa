//! Snapshot files: opaque content, checksummed, written crash-safely, retained by count.
//!
//! Another crate serialises the data tree; this module only guarantees that what it reads
//! back is exactly what was written, or says precisely where it is not.
//!
//! # File layout (`snapshot-<last log index, 20 digits>.snap`, little-endian)
//!
//! ```text
//! header   magic "CRRLSNAP" | u32 version=1 | u32 flags=0 | u64 last_log_index
//!          | u64 last_log_term | u32 meta_len | meta bytes | u32 crc32c(all header bytes before it)
//! frames   [u32 len][u32 crc32c(data)][data]   1 <= len <= SNAPSHOT_FRAME_BYTES_MAX, repeated
//! trailer  magic "CRRLSEND" | u64 content_bytes | u64 frame_count | u32 crc32c(content)
//!          | u32 crc32c(the 28 trailer bytes before it)
//! ```
//!
//! Framing the content lets a reader verify as it streams and report the exact offset of a
//! damaged frame, without first reading the whole file. The trailer catches a file cut
//! short at a frame boundary and frames reordered or dropped.
//!
//! Writing goes to `snapshot-<index>-<n>.tmp`; [`SnapshotWriter::finish`] writes the
//! trailer, fsyncs, renames to the final name and fsyncs the directory, so a crash leaves
//! either no new snapshot or a complete one.

mod bytes;
mod format;
mod incoming;
mod reader;
mod store;
mod writer;

pub use bytes::SnapshotBytes;
pub use format::SnapshotFileMeta;
pub use format::SnapshotInfo;
pub use format::SNAPSHOT_FRAME_BYTES;
pub use format::SNAPSHOT_FRAME_BYTES_MAX;
pub use format::SNAPSHOT_META_BYTES_MAX;
pub use incoming::IncomingSnapshot;
pub use reader::SnapshotReader;
pub use store::SnapshotPurge;
pub use store::SnapshotStore;
pub use store::SNAPSHOT_RETAIN_COUNT_MIN;
pub use writer::SnapshotWriter;
