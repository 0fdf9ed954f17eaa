//! The versioned encoding of openraft's snapshot meta (last log id, membership), which each
//! snapshot file keeps as opaque bytes in its header.
//!
//! Version 2: `[u8 2][postcard(SnapshotMeta)]`. Version 1 (older builds) was the bare postcard
//! encoding, whose first byte is the tag of `last_log_id: Option<LogId>` (0 or 1), so 0 and 1
//! read as version 1. Any other first byte is refused.

use std::io;

use crate::types::SnapshotMeta;

/// The format version this build writes.
pub const SNAPSHOT_META_FORMAT_VERSION: u8 = 2;

pub fn encode_snapshot_meta(meta: &SnapshotMeta) -> io::Result<Vec<u8>> {
    let out = vec![SNAPSHOT_META_FORMAT_VERSION];
    postcard::to_extend(meta, out).map_err(io::Error::other)
}

pub fn decode_snapshot_meta(bytes: &[u8]) -> io::Result<SnapshotMeta> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let body = match bytes.first() {
        None => return Err(invalid("empty snapshot meta".to_owned())),
        Some(0 | 1) => bytes,
        Some(&SNAPSHOT_META_FORMAT_VERSION) => &bytes[1..],
        Some(unknown) => {
            return Err(invalid(format!(
                "snapshot meta format version {unknown} is unknown to this build (it reads \
                 versions 1 to {SNAPSHOT_META_FORMAT_VERSION}): written by a newer Corral"
            )))
        }
    };
    let (meta, rest) = postcard::take_from_bytes::<SnapshotMeta>(body)
        .map_err(|e| invalid(format!("cannot decode snapshot meta: {e}")))?;
    if !rest.is_empty() {
        return Err(invalid(format!(
            "{} bytes after the snapshot meta",
            rest.len()
        )));
    }
    Ok(meta)
}
