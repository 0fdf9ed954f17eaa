//! Byte layout of snapshot files: header, frames and trailer encoders/decoders (pure), and
//! what names a finished snapshot file.

use std::path::PathBuf;

use crate::record::le_u32;
use crate::record::le_u64;

/// First bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"CRRLSNAP";
/// First bytes of the trailer.
pub const TRAILER_MAGIC: [u8; 8] = *b"CRRLSEND";
/// Layout version.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// Header bytes before the meta bytes.
pub const HEADER_FIXED_BYTES: usize = 36;
/// Trailer size.
pub const TRAILER_BYTES: usize = 32;
/// Largest opaque meta blob (membership and the like).
pub const SNAPSHOT_META_BYTES_MAX: usize = 1024 * 1024;
/// Frame size the writer uses.
pub const SNAPSHOT_FRAME_BYTES: usize = 64 * 1024;
/// Largest frame a reader accepts.
pub const SNAPSHOT_FRAME_BYTES_MAX: usize = 1024 * 1024;

/// What a snapshot file says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotFileMeta {
    /// Index of the last log entry the snapshot includes.
    pub last_log_index: u64,
    /// Term of that entry.
    pub last_log_term: u64,
    /// Opaque bytes for the caller (e.g. serialised membership / openraft snapshot meta).
    pub opaque: Vec<u8>,
}

/// Encode the header for `meta`.
pub(crate) fn encode_header(meta: &SnapshotFileMeta) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_FIXED_BYTES + meta.opaque.len() + 4);
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&meta.last_log_index.to_le_bytes());
    out.extend_from_slice(&meta.last_log_term.to_le_bytes());
    out.extend_from_slice(&(meta.opaque.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta.opaque);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// From the first [`HEADER_FIXED_BYTES`], the total header length (checks magic, version,
/// flags and the meta length bound).
pub(crate) fn header_len(fixed: &[u8]) -> Result<usize, (u64, String)> {
    if fixed.get(0..8) != Some(&SNAPSHOT_MAGIC[..]) {
        return Err((0, "bad magic: not a Corral snapshot".into()));
    }
    let version = le_u32(fixed, 8).ok_or((8, "header cut short".to_string()))?;
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err((8, format!("unknown snapshot format version {version}")));
    }
    let flags = le_u32(fixed, 12).ok_or((12, "header cut short".to_string()))?;
    if flags != 0 {
        return Err((12, format!("unknown snapshot flags {flags:#x}")));
    }
    let meta_len = le_u32(fixed, 32).ok_or((32, "header cut short".to_string()))? as usize;
    if meta_len > SNAPSHOT_META_BYTES_MAX {
        return Err((
            32,
            format!("meta length {meta_len} exceeds {SNAPSHOT_META_BYTES_MAX}"),
        ));
    }
    Ok(HEADER_FIXED_BYTES + meta_len + 4)
}

/// Decode a whole header (exactly `header_len` bytes).
pub(crate) fn decode_header(header: &[u8]) -> Result<SnapshotFileMeta, (u64, String)> {
    let len = header_len(header)?;
    if header.len() != len {
        return Err((
            0,
            format!("header is {} bytes, expected {len}", header.len()),
        ));
    }
    let crc_at = len - 4;
    let stored = le_u32(header, crc_at).ok_or((crc_at as u64, "header cut short".to_string()))?;
    let computed = crc32c::crc32c(header.get(..crc_at).unwrap_or_default());
    if stored != computed {
        return Err((
            crc_at as u64,
            format!("header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    Ok(SnapshotFileMeta {
        last_log_index: le_u64(header, 16).unwrap_or(0),
        last_log_term: le_u64(header, 24).unwrap_or(0),
        opaque: header
            .get(HEADER_FIXED_BYTES..crc_at)
            .unwrap_or_default()
            .to_vec(),
    })
}

/// Totals recorded in the trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub(crate) content_bytes: u64,
    pub(crate) frame_count: u64,
    pub(crate) content_crc: u32,
}

pub(crate) fn encode_trailer(t: &Trailer) -> [u8; TRAILER_BYTES] {
    let mut out = [0u8; TRAILER_BYTES];
    out[0..8].copy_from_slice(&TRAILER_MAGIC);
    out[8..16].copy_from_slice(&t.content_bytes.to_le_bytes());
    out[16..24].copy_from_slice(&t.frame_count.to_le_bytes());
    out[24..28].copy_from_slice(&t.content_crc.to_le_bytes());
    let crc = crc32c::crc32c(&out[0..28]);
    out[28..32].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decode a trailer; offsets in errors are relative to the trailer start.
pub(crate) fn decode_trailer(bytes: &[u8]) -> Result<Trailer, (u64, String)> {
    if bytes.len() != TRAILER_BYTES || bytes.get(0..8) != Some(&TRAILER_MAGIC[..]) {
        return Err((
            0,
            "bad trailer magic: the file is incomplete or damaged".into(),
        ));
    }
    let stored = le_u32(bytes, 28).unwrap_or(0);
    let computed = crc32c::crc32c(bytes.get(0..28).unwrap_or_default());
    if stored != computed {
        return Err((
            28,
            format!("trailer checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    Ok(Trailer {
        content_bytes: le_u64(bytes, 8).unwrap_or(0),
        frame_count: le_u64(bytes, 16).unwrap_or(0),
        content_crc: le_u32(bytes, 24).unwrap_or(0),
    })
}

/// Snapshot file name for `last_log_index`.
pub(crate) fn snapshot_file_name(last_log_index: u64) -> String {
    format!("snapshot-{last_log_index:020}.snap")
}

/// The index named by a snapshot file name.
pub(crate) fn parse_snapshot_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Is `name` a temporary snapshot file?
pub(crate) fn is_snapshot_tmp(name: &str) -> bool {
    name.starts_with("snapshot-") && name.ends_with(".tmp")
}

/// A finished snapshot file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Its path.
    pub path: PathBuf,
    /// The last log index it includes (from its name).
    pub last_log_index: u64,
}
