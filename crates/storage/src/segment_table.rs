//! Where each log entry lives on disk: segment file and byte offset.
//!
//! Shared (behind an `RwLock`) by the writer thread, which appends offsets after each write
//! and rewrites the table on truncate/purge/rollover, and by readers, which read records of
//! entries that have left the cache. Readers hold the read lock during their disk read, so
//! a truncation cannot rewrite bytes under them.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::error::Result;
use crate::record::decode_record;
use crate::record::Decoded;
use crate::record::RECORD_BYTES_MAX;
use crate::vfs::read_exact_at;
use crate::vfs::VfsFile;

/// One segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Index of the first record (from the header and file name).
    pub(crate) first_index: u64,
    /// Path of the file.
    pub(crate) path: PathBuf,
    /// The open file (read-write; the writer appends, readers `read_at`).
    pub(crate) file: Arc<dyn VfsFile>,
    /// Byte offset of each record; entry `first_index + i` is at `offsets[i]`.
    pub(crate) offsets: Vec<u32>,
    /// Offset just past the last record.
    pub(crate) data_end: u64,
    /// Current (preallocated) file length.
    pub(crate) file_len: u64,
}

impl Segment {
    /// One past the last index in this segment.
    pub(crate) fn end_index(&self) -> u64 {
        self.first_index + self.offsets.len() as u64
    }

    /// Byte range `[start, end)` of the records for indexes `lo..hi` (within this segment).
    fn byte_range(&self, lo: u64, hi: u64) -> Option<(u64, u64)> {
        let a = usize::try_from(lo.checked_sub(self.first_index)?).ok()?;
        let b = usize::try_from(hi.checked_sub(self.first_index)?).ok()?;
        let start = u64::from(*self.offsets.get(a)?);
        let end = match self.offsets.get(b) {
            Some(off) => u64::from(*off),
            None if b == self.offsets.len() => self.data_end,
            None => return None,
        };
        Some((start, end))
    }
}

/// All live segments, ordered by `first_index`, contiguous.
#[derive(Debug, Default)]
pub(crate) struct SegmentTable {
    pub(crate) segments: Vec<Segment>,
}

impl SegmentTable {
    /// Encoded size in bytes of the record for `index`, if it is on disk.
    pub(crate) fn record_bytes(&self, index: u64) -> Option<u64> {
        let seg = self.segment_of(index)?;
        let (start, end) = seg.byte_range(index, index + 1)?;
        Some(end - start)
    }

    fn segment_of(&self, index: u64) -> Option<&Segment> {
        let pos = self.segments.partition_point(|s| s.first_index <= index);
        let seg = self.segments.get(pos.checked_sub(1)?)?;
        (index < seg.end_index()).then_some(seg)
    }

    /// Read and checksum the payloads of entries `lo..hi`, calling `each(index, payload,
    /// path, offset)` in order. One positional read per segment touched.
    pub(crate) fn read_payloads(
        &self,
        lo: u64,
        hi: u64,
        mut each: impl FnMut(u64, &[u8], &PathBuf, u64) -> Result<()>,
    ) -> Result<()> {
        let mut index = lo;
        while index < hi {
            let Some(seg) = self.segment_of(index) else {
                return Err(Error::InvalidOperation(format!(
                    "log entry {index} is not on disk"
                )));
            };
            let seg_hi = hi.min(seg.end_index());
            let Some((start, end)) = seg.byte_range(index, seg_hi) else {
                return Err(Error::corrupt(
                    &seg.path,
                    0,
                    format!("no offsets for entries {index}..{seg_hi}"),
                ));
            };
            let len = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
            let mut buf = vec![0u8; len];
            read_exact_at(&*seg.file, &mut buf, start)
                .map_err(|e| Error::io("read", &seg.path, e))?;
            let mut pos = 0usize;
            for i in index..seg_hi {
                let offset = start + pos as u64;
                let rest = buf.get(pos..).unwrap_or_default();
                match decode_record(rest, RECORD_BYTES_MAX) {
                    Ok(Decoded::Record {
                        payload,
                        total_bytes,
                    }) => {
                        each(i, payload, &seg.path, offset)?;
                        pos += total_bytes;
                    }
                    Ok(Decoded::EndOfData) => {
                        return Err(Error::corrupt(
                            &seg.path,
                            offset,
                            format!("entry {i}: zeros where a record was written"),
                        ))
                    }
                    Err(e) => {
                        return Err(Error::corrupt(&seg.path, offset, format!("entry {i}: {e}")))
                    }
                }
            }
            index = seg_hi;
        }
        Ok(())
    }
}
