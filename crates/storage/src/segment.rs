//! Log segment files: names, the 32-byte header, and the pure scan used at recovery.
//!
//! A segment is `log-<first index, 20 digits>.seg`: a header naming its first index, then
//! records (see [`crate::record`]), then zeros up to the preallocated length.
//!
//! [`scan_segment`] is a pure function over the file's bytes so it can be fuzzed. It decides
//! what a damaged segment means:
//!
//! * The **last** segment may end in a *torn tail*: the last write before a crash reached the
//!   disk only partly, leaving a partial record, a record with a bad checksum, or garbage,
//!   followed only by bytes that contain no valid record. Nothing in a torn tail was
//!   acknowledged (acknowledgement waits for fsync), so it is truncated.
//! * A bad record **followed by a valid record** is corruption of data that had been
//!   written before: it may have been acknowledged, so opening stops with the offset.
//! * Any damage in a segment that is not the last is corruption.

use std::ops::Range;

use crate::config::RecoveryPolicy;
use crate::record::decode_record;
use crate::record::le_u32;
use crate::record::le_u64;
use crate::record::Decoded;
use crate::record::RECORD_BYTES_MAX;
use crate::record::RECORD_HEADER_BYTES;

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"CRRLLOG1";
/// Segment layout version written in the header.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Size of the segment header.
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// Largest segment file we open: record offsets are kept as `u32` in memory.
pub const SEGMENT_FILE_BYTES_MAX: u64 = u32::MAX as u64;
/// How many payload bytes the torn-tail check may checksum while looking for a valid record
/// after a bad one. Real torn tails are one write batch; past this budget the tail is
/// reported as corruption rather than truncated, because we could not prove it harmless.
pub const TAIL_SCAN_CRC_BYTES_MAX: u64 = 256 * 1024 * 1024;

const NAME_PREFIX: &str = "log-";
const NAME_SUFFIX: &str = ".seg";
const NAME_DIGITS: usize = 20;

/// File name of the segment whose first entry has `first_index`.
pub fn segment_file_name(first_index: u64) -> String {
    format!("{NAME_PREFIX}{first_index:020}{NAME_SUFFIX}")
}

/// The first index named by a segment file name, or `None` if it is not one.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(NAME_PREFIX)?.strip_suffix(NAME_SUFFIX)?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Encode the header of a segment starting at `first_index`.
pub fn encode_header(first_index: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    // 12..16 reserved (zero).
    header[16..24].copy_from_slice(&first_index.to_le_bytes());
    let crc = crc32c::crc32c(&header[0..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    // 28..32 reserved (zero).
    header
}

/// Why bytes are not a valid segment (offset into the file, reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte offset {offset}: {reason}")]
pub struct ScanError {
    /// Offset of the bad bytes.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

fn scan_error(offset: usize, reason: impl Into<String>) -> ScanError {
    ScanError {
        offset: offset as u64,
        reason: reason.into(),
    }
}

/// Decode a segment header; returns the first index it names.
pub fn decode_header(bytes: &[u8]) -> Result<u64, ScanError> {
    let Some(header) = bytes.get(..SEGMENT_HEADER_BYTES) else {
        return Err(scan_error(
            0,
            format!(
                "file is {} bytes, shorter than the {SEGMENT_HEADER_BYTES}-byte header",
                bytes.len()
            ),
        ));
    };
    if header.get(0..8) != Some(&SEGMENT_MAGIC[..]) {
        return Err(scan_error(0, "bad magic: not a Corral log segment"));
    }
    let stored_crc = le_u32(header, 24).unwrap_or(0);
    let computed = crc32c::crc32c(header.get(0..24).unwrap_or_default());
    if stored_crc != computed {
        return Err(scan_error(
            24,
            format!(
                "header checksum mismatch: stored {stored_crc:#010x}, computed {computed:#010x}"
            ),
        ));
    }
    let version = le_u32(header, 8).unwrap_or(0);
    if version != SEGMENT_FORMAT_VERSION {
        return Err(scan_error(
            8,
            format!("unknown segment format version {version} (this build reads {SEGMENT_FORMAT_VERSION})"),
        ));
    }
    le_u64(header, 16).ok_or_else(|| scan_error(16, "header too short"))
}

/// A record found by [`scan_segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedRecord {
    /// Byte offset of the record header in the file.
    pub offset: u64,
    /// Byte range of the payload in the scanned buffer.
    pub payload: Range<usize>,
}

/// A torn tail found (and to be truncated) by [`scan_segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Where valid data ends; the file is truncated here.
    pub offset: u64,
    /// What was found there.
    pub reason: String,
}

/// What [`scan_segment`] found in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// First index named by the header.
    pub first_index: u64,
    /// Valid records, in order.
    pub records: Vec<ScannedRecord>,
    /// Offset just past the last valid record.
    pub data_end: u64,
    /// Set when the segment ended in a torn tail (only possible when `is_last`).
    pub torn: Option<TornTail>,
}

/// Scan a whole segment file's bytes. `is_last` says whether a torn tail is acceptable.
pub fn scan_segment(
    bytes: &[u8],
    is_last: bool,
    policy: RecoveryPolicy,
) -> Result<SegmentScan, ScanError> {
    let first_index = decode_header(bytes)?;
    let mut records = Vec::new();
    let mut pos = SEGMENT_HEADER_BYTES;
    let bad = loop {
        let rest = bytes.get(pos..).unwrap_or_default();
        match decode_record(rest, RECORD_BYTES_MAX) {
            Ok(Decoded::Record {
                payload,
                total_bytes,
            }) => {
                let start = pos + RECORD_HEADER_BYTES;
                records.push(ScannedRecord {
                    offset: pos as u64,
                    payload: start..start + payload.len(),
                });
                pos += total_bytes;
            }
            Ok(Decoded::EndOfData) => match rest.iter().position(|b| *b != 0) {
                None => {
                    return Ok(SegmentScan {
                        first_index,
                        records,
                        data_end: pos as u64,
                        torn: None,
                    })
                }
                Some(at) => {
                    break format!(
                        "non-zero bytes at offset {} after the end-of-data marker",
                        pos + at
                    )
                }
            },
            Err(e) => break e.to_string(),
        }
    };
    if !is_last {
        return Err(scan_error(
            pos,
            format!("{bad} (in a segment that is not the last)"),
        ));
    }
    if policy == RecoveryPolicy::Strict {
        match find_valid_record(bytes, pos + 1) {
            Ok(None) => {}
            Ok(Some(valid_at)) => {
                return Err(scan_error(
                    pos,
                    format!(
                    "{bad}, followed by a valid record at offset {valid_at}: this is corruption \
                         of written data, not a torn tail"
                ),
                ))
            }
            Err(()) => {
                return Err(scan_error(
                    pos,
                    format!("{bad}, followed by more non-zero bytes than a torn write can leave"),
                ))
            }
        }
    }
    Ok(SegmentScan {
        first_index,
        records,
        data_end: pos as u64,
        torn: Some(TornTail {
            offset: pos as u64,
            reason: bad,
        }),
    })
}

/// Look for any offset at or after `from` where a complete record with a valid checksum
/// starts. `Err(())` means the checksum budget ran out before the end.
fn find_valid_record(bytes: &[u8], from: usize) -> Result<Option<usize>, ()> {
    let mut budget = TAIL_SCAN_CRC_BYTES_MAX;
    let mut at = from;
    while at + RECORD_HEADER_BYTES <= bytes.len() {
        let len = le_u32(bytes, at).unwrap_or(0) as usize;
        if len == 0 {
            // Skip a zero run quickly: a length field that ends in the next non-zero byte
            // starts at most 3 bytes before it.
            let rest = bytes.get(at..).unwrap_or_default();
            match rest.iter().position(|b| *b != 0) {
                None => break,
                Some(p) => {
                    at = (at + p).saturating_sub(3).max(at + 1);
                    continue;
                }
            }
        }
        let payload_end = at + RECORD_HEADER_BYTES + len;
        if len > RECORD_BYTES_MAX || payload_end > bytes.len() {
            at += 1;
            continue;
        }
        budget = budget.checked_sub(len as u64).ok_or(())?;
        let stored = le_u32(bytes, at + 4).unwrap_or(0);
        let payload = bytes
            .get(at + RECORD_HEADER_BYTES..payload_end)
            .unwrap_or_default();
        if crc32c::crc32c(payload) == stored {
            return Ok(Some(at));
        }
        at += 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::encode_record;

    fn segment(first_index: u64, payloads: &[&[u8]], zeros: usize) -> Vec<u8> {
        let mut bytes = encode_header(first_index).to_vec();
        for p in payloads {
            encode_record(p, RECORD_BYTES_MAX, &mut bytes).unwrap();
        }
        bytes.resize(bytes.len() + zeros, 0);
        bytes
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(42), "log-00000000000000000042.seg");
        assert_eq!(
            parse_segment_file_name("log-00000000000000000042.seg"),
            Some(42)
        );
        assert_eq!(parse_segment_file_name("log-42.seg"), None);
        assert_eq!(
            parse_segment_file_name("log-0000000000000000004x.seg"),
            None
        );
        assert_eq!(
            parse_segment_file_name("log-00000000000000000042.seg.tmp"),
            None
        );
    }

    #[test]
    fn clean_segment_with_zero_tail() {
        let bytes = segment(7, &[b"a", b"bb", b"ccc"], 100);
        let scan = scan_segment(&bytes, false, RecoveryPolicy::Strict).unwrap();
        assert_eq!(scan.first_index, 7);
        assert_eq!(scan.records.len(), 3);
        assert_eq!(&bytes[scan.records[2].payload.clone()], b"ccc");
        assert_eq!(scan.data_end, (32 + 9 + 10 + 11) as u64);
        assert!(scan.torn.is_none());
    }

    #[test]
    fn torn_tail_in_last_segment() {
        let mut bytes = segment(0, &[b"one", b"two"], 0);
        let good_end = bytes.len();
        encode_record(b"three", RECORD_BYTES_MAX, &mut bytes).unwrap();
        bytes.truncate(bytes.len() - 2); // partial record
        bytes.resize(bytes.len() + 64, 0);
        let scan = scan_segment(&bytes, true, RecoveryPolicy::Strict).unwrap();
        assert_eq!(scan.records.len(), 2);
        assert_eq!(scan.torn.as_ref().unwrap().offset, good_end as u64);
        // The same damage in a segment that is not the last is corruption.
        let err = scan_segment(&bytes, false, RecoveryPolicy::Strict).unwrap_err();
        assert_eq!(err.offset, good_end as u64);
    }

    #[test]
    fn bad_record_followed_by_valid_one_is_corruption() {
        let mut bytes = segment(0, &[b"one", b"two", b"three"], 16);
        let second = 32 + 11;
        bytes[second + 9] ^= 1; // flip a payload bit of "two"
        let err = scan_segment(&bytes, true, RecoveryPolicy::Strict).unwrap_err();
        assert_eq!(err.offset, second as u64);
        assert!(
            err.reason.contains("followed by a valid record"),
            "{}",
            err.reason
        );
        // The operator-approved policy truncates instead.
        let scan = scan_segment(&bytes, true, RecoveryPolicy::TruncateAtFirstBadRecord).unwrap();
        assert_eq!(scan.records.len(), 1);
    }

    #[test]
    fn bad_header_is_reported_at_its_offset() {
        let mut bytes = segment(0, &[b"one"], 0);
        bytes[17] ^= 1;
        let err = scan_segment(&bytes, true, RecoveryPolicy::Strict).unwrap_err();
        assert_eq!(err.offset, 24);
        assert!(scan_segment(&bytes[..10], true, RecoveryPolicy::Strict).is_err());
    }
}
