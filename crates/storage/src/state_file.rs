//! The small state file: vote, committed log id and last purged log id.
//!
//! Raft needs the vote durable before it answers a vote request, and we need the purge
//! point durable before we delete segments (otherwise a restart would report a hole). These
//! are tiny and change rarely, so they live in one file that is replaced atomically
//! ([`crate::vfs::atomic_write`]): after a crash it holds the old or the new state, never a
//! mix, and a checksum catches anything else.
//!
//! Layout (little-endian): `magic "CRRLSTAT"`, `u32 version = 1`, `u32 payload len`,
//! `u32 crc32c(payload)`, payload. This module frames opaque payload bytes; the log store
//! encodes the payload.

use crate::record::le_u32;

/// Name of the state file inside the log directory.
pub const STATE_FILE_NAME: &str = "raft-state";
/// First bytes of the state file.
pub const STATE_MAGIC: [u8; 8] = *b"CRRLSTAT";
/// Layout version of the state file.
pub const STATE_FORMAT_VERSION: u32 = 1;
/// Bytes before the payload.
pub const STATE_HEADER_BYTES: usize = 20;
/// Largest payload: a vote and two log ids are a few dozen bytes.
pub const STATE_PAYLOAD_BYTES_MAX: usize = 64 * 1024;

/// Frame `payload` as a state file.
pub fn encode_state_file(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(STATE_HEADER_BYTES + payload.len());
    out.extend_from_slice(&STATE_MAGIC);
    out.extend_from_slice(&STATE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Check a state file's framing; returns the payload or `(offset, reason)`.
pub fn decode_state_file(bytes: &[u8]) -> Result<&[u8], (u64, String)> {
    if bytes.get(0..8) != Some(&STATE_MAGIC[..]) {
        return Err((0, "bad magic: not a Corral state file".into()));
    }
    let version = le_u32(bytes, 8).ok_or((8, "file too short for the version".to_string()))?;
    if version != STATE_FORMAT_VERSION {
        return Err((8, format!("unknown state file version {version}")));
    }
    let len = le_u32(bytes, 12).ok_or((12, "file too short for the length".to_string()))? as usize;
    if len > STATE_PAYLOAD_BYTES_MAX {
        return Err((
            12,
            format!("payload length {len} exceeds {STATE_PAYLOAD_BYTES_MAX}"),
        ));
    }
    let stored = le_u32(bytes, 16).ok_or((16, "file too short for the checksum".to_string()))?;
    let payload = bytes
        .get(STATE_HEADER_BYTES..STATE_HEADER_BYTES + len)
        .ok_or((
            STATE_HEADER_BYTES as u64,
            format!("payload of {len} bytes is cut short"),
        ))?;
    if bytes.len() != STATE_HEADER_BYTES + len {
        return Err((
            (STATE_HEADER_BYTES + len) as u64,
            "trailing bytes after the payload".into(),
        ));
    }
    let computed = crc32c::crc32c(payload);
    if computed != stored {
        return Err((
            STATE_HEADER_BYTES as u64,
            format!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let file = encode_state_file(b"vote");
        assert_eq!(decode_state_file(&file).unwrap(), b"vote");
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x40;
            assert!(decode_state_file(&bad).is_err(), "flip at {i} undetected");
        }
        assert!(decode_state_file(&file[..file.len() - 1]).is_err());
        assert!(decode_state_file(&[]).is_err());
    }
}
