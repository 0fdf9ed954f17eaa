//! A transaction log file (`log.<first zxid>`): a `FileHeader` ("ZKLG"), then records
//! `[long Adler-32 of the txn bytes][int length][txn bytes][byte 0x42]`, then zeros: logs are
//! preallocated, so a zero (or null) length is the end (`FileTxnLog`, `Util.readTxnBytes`).
//!
//! How a file ends decides what ZooKeeper does with it at start, and the scan reports it the
//! same way:
//! - at the end of the bytes or in zero padding: clean;
//! - in a record cut short (too few bytes for its fields or its length, or no 0x42 after it):
//!   truncated. ZooKeeper stops reading that file there and uses the records before it;
//! - in a record whose checksum does not match, whose length is unreasonable, or whose txn
//!   does not decode: corrupt. ZooKeeper refuses to start.
//!
//! Every offset is from the start of the file.

use corral_proto::{Jute, Reader};

use crate::checksum::adler32;
use crate::error::FormatError;
use crate::records::{FileHeader, FILE_HEADER_BYTES, LOG_MAGIC};
use crate::txn::{self, TxnEntry};

/// The end-of-record byte.
pub const END_OF_RECORD: u8 = 0x42;
/// ZooKeeper's default `jute.maxbuffer`; with its 1024 bytes of slack, the longest record it
/// reads without calling the length unreasonable.
pub const JUTE_MAXBUFFER_DEFAULT: usize = 0xfffff;
const JUTE_MAXBUFFER_SLACK: usize = 1024;

/// One transaction and where its record starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub offset: u64,
    pub entry: TxnEntry,
}

/// How a log file ends (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    Clean,
    Truncated { offset: u64, reason: String },
    Corrupt { offset: u64, reason: String },
}

/// The records of one file, up to where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogScan {
    pub records: Vec<LogRecord>,
    pub end: LogEnd,
}

/// Scans a log file's bytes. `jute_maxbuffer` is the server's `jute.maxbuffer`. The only
/// error is a file whose header is not a log header; everything past it is in [`LogScan`].
pub fn scan(bytes: &[u8], jute_maxbuffer: usize) -> Result<LogScan, FormatError> {
    let mut out = LogScan {
        records: Vec::new(),
        end: LogEnd::Clean,
    };
    if bytes.is_empty() {
        // ZooKeeper deletes an empty last log (created, then the crash came before its header).
        return Ok(out);
    }
    if bytes.len() < FILE_HEADER_BYTES {
        out.end = LogEnd::Truncated {
            offset: 0,
            reason: format!("{} bytes, shorter than a file header", bytes.len()),
        };
        return Ok(out);
    }
    let header = FileHeader::from_slice(bytes).map_err(|e| FormatError::jute(0, "header", e))?;
    if header.magic != LOG_MAGIC {
        return Err(FormatError::new(
            0,
            format!("not a transaction log (magic {:#010x})", header.magic),
        ));
    }
    let max_len = jute_maxbuffer.saturating_add(JUTE_MAXBUFFER_SLACK);
    let mut pos = FILE_HEADER_BYTES;
    loop {
        match next_record(bytes, pos, max_len) {
            Step::Record(record, next) => {
                out.records.push(record);
                pos = next;
            }
            Step::End => {
                let rest = bytes.get(pos..).unwrap_or_default();
                if let Some(garbage) = rest.iter().position(|&b| b != 0) {
                    out.end = LogEnd::Truncated {
                        offset: pos as u64,
                        reason: format!(
                            "the records end here but a non-zero byte follows at offset {}",
                            pos + garbage
                        ),
                    };
                }
                return Ok(out);
            }
            Step::Truncated(reason) => {
                out.end = LogEnd::Truncated {
                    offset: pos as u64,
                    reason,
                };
                return Ok(out);
            }
            Step::Corrupt(offset, reason) => {
                out.end = LogEnd::Corrupt {
                    offset: offset as u64,
                    reason,
                };
                return Ok(out);
            }
        }
    }
}

enum Step {
    Record(LogRecord, usize),
    /// A zero or null length: the end of the data.
    End,
    Truncated(String),
    Corrupt(usize, String),
}

fn next_record(bytes: &[u8], pos: usize, max_len: usize) -> Step {
    let mut reader = Reader::new(bytes.get(pos..).unwrap_or_default());
    if reader.is_empty() {
        return Step::End;
    }
    let (Ok(crc), Ok(len)) = (reader.read_i64(), reader.read_i32()) else {
        // Too short for the checksum and length: zero padding ends the data, anything else is
        // a record cut short.
        return if bytes[pos..].iter().all(|&b| b == 0) {
            Step::End
        } else {
            Step::Truncated("record header cut short".into())
        };
    };
    if len == 0 || len == -1 {
        return Step::End;
    }
    let Some(len) = usize::try_from(len).ok().filter(|&l| l <= max_len) else {
        return Step::Corrupt(
            pos + 8,
            format!("unreasonable record length {len} (jute.maxbuffer allows {max_len})"),
        );
    };
    let Ok(txn_bytes) = reader.take(len) else {
        return Step::Truncated(format!(
            "record of {len} bytes cut short ({} bytes left)",
            reader.remaining()
        ));
    };
    match reader.take(1) {
        Ok([END_OF_RECORD]) => {}
        Ok(_) | Err(_) => {
            return Step::Truncated("record without its end-of-record byte (partial write)".into())
        }
    }
    let actual = adler32(txn_bytes);
    if actual != crc {
        return Step::Corrupt(
            pos,
            format!("checksum mismatch (stored {crc:#x}, computed {actual:#x})"),
        );
    }
    let body = pos + 12;
    match txn::decode(txn_bytes) {
        Ok(entry) => Step::Record(
            LogRecord {
                offset: pos as u64,
                entry,
            },
            pos + 12 + len + 1,
        ),
        Err(e) => Step::Corrupt(
            body + e.offset as usize,
            format!("txn does not decode: {}", e.reason),
        ),
    }
}

/// Appends one record for `txn_bytes` as ZooKeeper writes it (for tests and fixtures).
pub fn append_record(out: &mut Vec<u8>, txn_bytes: &[u8]) {
    out.extend_from_slice(&adler32(txn_bytes).to_be_bytes());
    out.extend_from_slice(&(txn_bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(txn_bytes);
    out.push(END_OF_RECORD);
}

/// A log file header (for tests and fixtures).
pub fn file_header() -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    FileHeader {
        magic: LOG_MAGIC,
        version: crate::records::FILE_VERSION,
        dbid: crate::records::FILE_DBID,
    }
    .encode(&mut out);
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{DeleteTxn, TxnHeader};

    fn record(zxid: i64) -> Vec<u8> {
        let header = TxnHeader {
            client_id: 1,
            cxid: 1,
            zxid,
            time: 5,
            txn_type: 2,
        };
        txn::encode(&header, &DeleteTxn { path: "/x".into() }, None)
    }

    fn file(n: i64) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = file_header();
        let mut starts = Vec::new();
        for zxid in 1..=n {
            starts.push(bytes.len());
            append_record(&mut bytes, &record(zxid));
        }
        (bytes, starts)
    }

    #[test]
    fn clean_with_padding() {
        let (mut bytes, _) = file(3);
        bytes.resize(bytes.len() + 4096, 0);
        let scan = scan(&bytes, JUTE_MAXBUFFER_DEFAULT).unwrap();
        assert_eq!(scan.records.len(), 3);
        assert_eq!(scan.end, LogEnd::Clean);
    }

    #[test]
    fn every_cut_keeps_the_prefix() {
        let (bytes, starts) = file(3);
        for cut in FILE_HEADER_BYTES..bytes.len() {
            let scan = scan(&bytes[..cut], JUTE_MAXBUFFER_DEFAULT).unwrap();
            let complete = starts.iter().skip(1).filter(|&&end| end <= cut).count();
            assert_eq!(scan.records.len(), complete, "cut at {cut}");
            let at = starts[complete];
            match &scan.end {
                LogEnd::Truncated { offset, .. } => assert_eq!(*offset, at as u64, "cut {cut}"),
                // A cut inside the checksum's high bytes (always zero) reads as padding.
                LogEnd::Clean => assert!(bytes[at..cut].iter().all(|&b| b == 0), "cut {cut}"),
                LogEnd::Corrupt { .. } => panic!("cut at {cut}: {:?}", scan.end),
            }
        }
    }

    #[test]
    fn a_flipped_byte_is_corruption_at_its_record() {
        let (mut bytes, starts) = file(3);
        bytes[starts[1] + 20] ^= 0x01;
        let scan = scan(&bytes, JUTE_MAXBUFFER_DEFAULT).unwrap();
        assert_eq!(scan.records.len(), 1);
        assert!(
            matches!(&scan.end, LogEnd::Corrupt { offset, reason } if *offset == starts[1] as u64 && reason.contains("checksum")),
            "{:?}",
            scan.end
        );
    }

    #[test]
    fn bad_header_and_odd_lengths() {
        assert!(scan(b"ZKSN\0\0\0\x02\0\0\0\0\0\0\0\0", 100).is_err());
        let mut bytes = file_header();
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]);
        let end = scan(&bytes, 100).unwrap().end;
        assert!(matches!(end, LogEnd::Corrupt { offset: 24, .. }), "{end:?}");
        assert_eq!(scan(&[], 100).unwrap().end, LogEnd::Clean);
        assert!(matches!(
            scan(b"ZKLG", 100).unwrap().end,
            LogEnd::Truncated { offset: 0, .. }
        ));
    }
}
