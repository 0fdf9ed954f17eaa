//! One framed record: `[u32 len LE][u32 crc32c(payload) LE][payload]`.
//!
//! Records are the unit of framing inside a log segment (and, with a different size limit,
//! of the frames inside a snapshot file). A zero length field is never written: it marks
//! the end of data in a zero-filled, preallocated file. That is also why an empty payload
//! is refused (its CRC32C is 0, so `[0,0,0,0,0,0,0,0]` would be a valid empty record).

/// Bytes of the `[len][crc]` record header.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Largest payload of one log record. ZooKeeper's default `jute.maxbuffer` is 1 MiB; a
/// Raft entry carries one request plus a little metadata, so 16 MiB leaves ample room while
/// keeping one bad length field from asking for gigabytes.
pub const RECORD_BYTES_MAX: usize = 16 * 1024 * 1024;

/// What [`decode_record`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete record with a valid checksum.
    Record {
        /// The payload.
        payload: &'a [u8],
        /// Header plus payload bytes consumed.
        total_bytes: usize,
    },
    /// A zero header (or nothing at all, or only zeros): the end of data.
    EndOfData,
}

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer than 8 header bytes remain and they are not all zero.
    #[error("partial record header ({have} of 8 bytes)")]
    PartialHeader {
        /// Bytes present.
        have: usize,
    },
    /// Length 0 with a non-zero checksum: not an end marker, not a record.
    #[error("zero length with non-zero checksum {crc:#010x}")]
    ZeroLength {
        /// The stored checksum.
        crc: u32,
    },
    /// Length above the limit.
    #[error("record length {len} exceeds the limit of {max} bytes")]
    TooLong {
        /// The stored length.
        len: u32,
        /// The limit.
        max: usize,
    },
    /// The payload runs past the end of the data.
    #[error("record of {len} bytes is cut short: only {have} payload bytes present")]
    Truncated {
        /// The stored length.
        len: u32,
        /// Payload bytes present.
        have: usize,
    },
    /// The payload does not match its checksum.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// Stored CRC32C.
        stored: u32,
        /// CRC32C of the bytes read.
        computed: u32,
    },
    /// Refused at encode time: empty payload or over the limit.
    #[error("payload of {len} bytes cannot be framed (must be 1..={max})")]
    BadPayloadLength {
        /// Payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Append one record framing `payload` to `out`.
pub fn encode_record(payload: &[u8], len_max: usize, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let start = out.len();
    out.resize(start + RECORD_HEADER_BYTES, 0);
    out.extend_from_slice(payload);
    let sealed = seal_record(&mut out[start..], len_max);
    if sealed.is_err() {
        out.truncate(start);
    }
    sealed
}

/// Frames a record in place: `record` is [`RECORD_HEADER_BYTES`] bytes of room followed by
/// the payload, and the header is written into that room (for a writer that builds the payload
/// where the record will be, rather than copying it behind a header).
pub fn seal_record(record: &mut [u8], len_max: usize) -> Result<(), RecordError> {
    let Some((header, payload)) = record.split_first_chunk_mut::<RECORD_HEADER_BYTES>() else {
        return Err(RecordError::BadPayloadLength {
            len: 0,
            max: len_max,
        });
    };
    let bad_length = RecordError::BadPayloadLength {
        len: payload.len(),
        max: len_max,
    };
    if payload.is_empty() || payload.len() > len_max {
        return Err(bad_length);
    }
    let len = u32::try_from(payload.len()).map_err(|_| bad_length)?;
    header[..4].copy_from_slice(&len.to_le_bytes());
    header[4..].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    Ok(())
}

/// Bytes one record of `payload_len` occupies.
pub fn framed_len(payload_len: usize) -> usize {
    RECORD_HEADER_BYTES + payload_len
}

/// Read a little-endian `u32` at `at`, if present.
pub(crate) fn le_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// Read a little-endian `u64` at `at`, if present.
pub(crate) fn le_u64(buf: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = buf.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Decode the record that starts at `buf[0]`; `buf` runs to the end of the data.
pub fn decode_record(buf: &[u8], len_max: usize) -> Result<Decoded<'_>, RecordError> {
    let (Some(len), Some(crc)) = (le_u32(buf, 0), le_u32(buf, 4)) else {
        if buf.iter().all(|b| *b == 0) {
            return Ok(Decoded::EndOfData);
        }
        return Err(RecordError::PartialHeader { have: buf.len() });
    };
    if len == 0 {
        if crc == 0 {
            return Ok(Decoded::EndOfData);
        }
        return Err(RecordError::ZeroLength { crc });
    }
    if len as usize > len_max {
        return Err(RecordError::TooLong { len, max: len_max });
    }
    let payload_all = buf.get(RECORD_HEADER_BYTES..).unwrap_or_default();
    let Some(payload) = payload_all.get(..len as usize) else {
        return Err(RecordError::Truncated {
            len,
            have: payload_all.len(),
        });
    };
    let computed = crc32c::crc32c(payload);
    if computed != crc {
        return Err(RecordError::Checksum {
            stored: crc,
            computed,
        });
    }
    Ok(Decoded::Record {
        payload,
        total_bytes: RECORD_HEADER_BYTES + len as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        encode_record(b"hello", RECORD_BYTES_MAX, &mut buf).unwrap();
        encode_record(b"world!", RECORD_BYTES_MAX, &mut buf).unwrap();
        let Decoded::Record {
            payload,
            total_bytes,
        } = decode_record(&buf, RECORD_BYTES_MAX).unwrap()
        else {
            panic!("expected a record")
        };
        assert_eq!(payload, b"hello");
        assert_eq!(total_bytes, 13);
        let rest = &buf[total_bytes..];
        assert!(matches!(
            decode_record(rest, RECORD_BYTES_MAX).unwrap(),
            Decoded::Record {
                payload: b"world!",
                ..
            }
        ));
    }

    #[test]
    fn zeros_are_end_of_data() {
        assert_eq!(decode_record(&[], RECORD_BYTES_MAX), Ok(Decoded::EndOfData));
        assert_eq!(
            decode_record(&[0; 3], RECORD_BYTES_MAX),
            Ok(Decoded::EndOfData)
        );
        assert_eq!(
            decode_record(&[0; 100], RECORD_BYTES_MAX),
            Ok(Decoded::EndOfData)
        );
    }

    #[test]
    fn damage_is_typed() {
        let mut buf = Vec::new();
        encode_record(b"hello", RECORD_BYTES_MAX, &mut buf).unwrap();
        assert!(matches!(
            decode_record(&buf[..10], RECORD_BYTES_MAX),
            Err(RecordError::Truncated { len: 5, have: 2 })
        ));
        assert!(matches!(
            decode_record(&buf[..5], RECORD_BYTES_MAX),
            Err(RecordError::PartialHeader { have: 5 })
        ));
        let mut flipped = buf.clone();
        flipped[9] ^= 0x10;
        assert!(matches!(
            decode_record(&flipped, RECORD_BYTES_MAX),
            Err(RecordError::Checksum { .. })
        ));
        assert!(matches!(
            decode_record(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], RECORD_BYTES_MAX),
            Err(RecordError::TooLong { .. })
        ));
        assert!(matches!(
            decode_record(&[0, 0, 0, 0, 1, 0, 0, 0], RECORD_BYTES_MAX),
            Err(RecordError::ZeroLength { crc: 1 })
        ));
    }

    #[test]
    fn a_record_sealed_in_place_decodes() {
        let mut record = vec![0; RECORD_HEADER_BYTES];
        record.extend_from_slice(b"built in place");
        seal_record(&mut record, RECORD_BYTES_MAX).unwrap();
        assert_eq!(
            decode_record(&record, RECORD_BYTES_MAX).unwrap(),
            Decoded::Record {
                payload: b"built in place",
                total_bytes: record.len(),
            }
        );
        assert!(seal_record(&mut [0; RECORD_HEADER_BYTES], RECORD_BYTES_MAX).is_err());
        assert!(seal_record(&mut [0; 3], RECORD_BYTES_MAX).is_err());
    }

    #[test]
    fn empty_and_oversized_payloads_are_refused() {
        let mut buf = Vec::new();
        assert!(encode_record(b"", RECORD_BYTES_MAX, &mut buf).is_err());
        assert!(encode_record(&[1; 9], 8, &mut buf).is_err());
        assert!(buf.is_empty());
    }
}
