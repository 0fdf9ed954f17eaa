//! Framing: every message is a 4-byte big-endian signed length, then that many bytes.
//!
//! The splitter is a pure function over a receive buffer so the server's connection task and
//! the client share it. A length below zero or above the limit (`jute.maxbuffer`) is fatal for
//! the connection: ZooKeeper closes without replying, and so do we.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Length of the frame prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {length} is outside 0..={max_bytes}")]
    BadLength { length: i64, max_bytes: usize },
}

/// Takes one complete frame body off the front of `buffer`, if one has fully arrived.
pub fn split_frame(buffer: &mut BytesMut, max_bytes: usize) -> Result<Option<Bytes>, FrameError> {
    let Some(prefix) = buffer.get(..LENGTH_PREFIX_BYTES) else {
        return Ok(None);
    };
    let length = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let body_bytes = usize::try_from(length)
        .ok()
        .filter(|&len| len <= max_bytes)
        .ok_or(FrameError::BadLength {
            length: i64::from(length),
            max_bytes,
        })?;
    if buffer.len() < LENGTH_PREFIX_BYTES + body_bytes {
        return Ok(None);
    }
    buffer.advance(LENGTH_PREFIX_BYTES);
    Ok(Some(buffer.split_to(body_bytes).freeze()))
}

/// Peeks at the first four bytes of a fresh connection, which may be a four-letter word
/// instead of a frame length.
pub fn peek_prefix(buffer: &[u8]) -> Option<[u8; 4]> {
    buffer.get(..4).map(|p| [p[0], p[1], p[2], p[3]])
}

/// Appends `body` as one frame.
pub fn put_frame(out: &mut BytesMut, body: &[u8]) {
    out.reserve(LENGTH_PREFIX_BYTES + body.len());
    out.put_i32(i32::try_from(body.len()).unwrap_or(i32::MAX));
    out.put_slice(body);
}

/// Starts a frame whose length is filled in by [`finish_frame`]; saves a copy of the body.
pub fn begin_frame(out: &mut BytesMut) -> usize {
    let start = out.len();
    out.put_i32(0);
    start
}

/// Writes the length of the frame begun at `start`.
pub fn finish_frame(out: &mut BytesMut, start: usize) {
    let body_bytes = out.len() - start - LENGTH_PREFIX_BYTES;
    let length = i32::try_from(body_bytes).unwrap_or(i32::MAX).to_be_bytes();
    out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&length);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_complete_frames_only() {
        let mut buffer = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        assert_eq!(split_frame(&mut buffer, 100).unwrap(), None);
        buffer.extend_from_slice(&[3, 0, 0, 0, 0]);
        assert_eq!(
            &split_frame(&mut buffer, 100).unwrap().unwrap()[..],
            &[1, 2, 3]
        );
        assert_eq!(
            &split_frame(&mut buffer, 100).unwrap().unwrap()[..],
            &[] as &[u8]
        );
        assert_eq!(split_frame(&mut buffer, 100).unwrap(), None);
    }

    #[test]
    fn rejects_negative_and_oversize_lengths() {
        let mut buffer = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(split_frame(&mut buffer, 100).is_err());
        let mut buffer = BytesMut::from(&[0, 0, 0, 101][..]);
        assert!(split_frame(&mut buffer, 100).is_err());
        let mut buffer = BytesMut::from(&[0, 0, 0, 100][..]);
        assert_eq!(split_frame(&mut buffer, 100).unwrap(), None);
    }

    #[test]
    fn begin_finish_writes_the_length() {
        let mut out = BytesMut::new();
        let start = begin_frame(&mut out);
        out.put_slice(b"abc");
        finish_frame(&mut out, start);
        assert_eq!(&out[..], &[0, 0, 0, 3, b'a', b'b', b'c']);
    }
}
