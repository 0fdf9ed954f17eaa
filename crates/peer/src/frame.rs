//! Length framing: every frame is a 4-byte big-endian length and that many bytes of payload.
//!
//! The length is checked against the limit before anything is allocated, and the body buffer
//! grows only as bytes actually arrive, so a peer that claims a large frame and sends nothing
//! costs nothing. Payloads are postcard; [`decode`] rejects trailing bytes too, so garbage
//! that happens to start like a message is still garbage.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{FrameError, PeerError};

/// Bytes of the length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

/// Initial capacity of a frame's buffer; it grows with the bytes received, never to the
/// claimed length up front.
const BODY_INITIAL_CAPACITY_BYTES: usize = 64 * 1024;

/// Reads one frame's payload. Not cancel-safe: a frame read halfway is lost, so callers never
/// race it against other work without keeping the future (see `stream.rs`).
pub async fn read_frame<R>(reader: &mut R, max_bytes: usize) -> Result<Vec<u8>, FrameError>
where
    R: AsyncRead + Unpin,
{
    let header = read_header(reader).await?;
    let claimed_bytes = u64::from(u32::from_be_bytes(header));
    let expected_bytes = checked_len(claimed_bytes, max_bytes)?;
    let mut body = Vec::with_capacity(expected_bytes.min(BODY_INITIAL_CAPACITY_BYTES));
    let received_bytes = (&mut *reader)
        .take(claimed_bytes)
        .read_to_end(&mut body)
        .await?;
    if received_bytes < expected_bytes {
        return Err(FrameError::Truncated {
            received_bytes,
            expected_bytes,
        });
    }
    Ok(body)
}

/// The 4 header bytes; a clean end of stream before the first one is `Closed`.
async fn read_header<R>(reader: &mut R) -> Result<[u8; FRAME_HEADER_BYTES], FrameError>
where
    R: AsyncRead + Unpin,
{
    let mut header = [0u8; FRAME_HEADER_BYTES];
    let mut filled = 0;
    while filled < FRAME_HEADER_BYTES {
        let n = reader.read(&mut header[filled..]).await?;
        if n == 0 {
            return Err(if filled == 0 {
                FrameError::Closed
            } else {
                FrameError::Truncated {
                    received_bytes: filled,
                    expected_bytes: FRAME_HEADER_BYTES,
                }
            });
        }
        filled += n;
    }
    Ok(header)
}

fn checked_len(claimed_bytes: u64, max_bytes: usize) -> Result<usize, FrameError> {
    match usize::try_from(claimed_bytes) {
        Ok(len) if len <= max_bytes => Ok(len),
        _ => Err(FrameError::TooLarge {
            claimed_bytes,
            max_bytes,
        }),
    }
}

/// Splits one whole frame off the front of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the payload and the bytes consumed. The pure twin of [`read_frame`], for tests
/// and fuzzing.
pub fn split_frame(buf: &[u8], max_bytes: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some(header) = buf.first_chunk::<FRAME_HEADER_BYTES>() else {
        return Ok(None);
    };
    let len = checked_len(u64::from(u32::from_be_bytes(*header)), max_bytes)?;
    let end = FRAME_HEADER_BYTES + len;
    Ok(buf
        .get(FRAME_HEADER_BYTES..end)
        .map(|payload| (payload, end)))
}

/// Prefixes `payload` with its length.
pub fn frame_bytes(payload: &[u8], max_bytes: usize) -> Result<Vec<u8>, PeerError> {
    let len = frame_len(payload.len(), max_bytes)?;
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// Encodes `msg` with postcard straight into a frame (one allocation of the exact size), or
/// refuses if the frame would exceed `max_bytes`, before encoding anything.
pub fn encode_frame<T: Serialize>(msg: &T, max_bytes: usize) -> Result<Vec<u8>, PeerError> {
    let size = postcard::experimental::serialized_size(msg)
        .map_err(|e| PeerError::Encode(e.to_string()))?;
    let len = frame_len(size, max_bytes)?;
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + size);
    frame.extend_from_slice(&len.to_be_bytes());
    postcard::to_extend(msg, frame).map_err(|e| PeerError::Encode(e.to_string()))
}

fn frame_len(bytes: usize, max_bytes: usize) -> Result<u32, PeerError> {
    match u32::try_from(bytes) {
        Ok(len) if bytes <= max_bytes => Ok(len),
        _ => Err(PeerError::TooLarge { bytes, max_bytes }),
    }
}

/// Decodes a whole payload as `T`; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, PeerError> {
    let (msg, rest) =
        postcard::take_from_bytes::<T>(payload).map_err(|e| PeerError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PeerError::Decode(format!(
            "{} bytes after the end of the message",
            rest.len()
        )));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn a_huge_claim_is_refused_without_reading_the_body() {
        let bytes = [0xff, 0xff, 0xff, 0xff];
        let err = block_on(read_frame(&mut &bytes[..], 1024)).unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLarge {
                claimed_bytes: 0xffff_ffff,
                max_bytes: 1024
            }
        ));
    }

    #[test]
    fn clean_close_and_truncation_are_told_apart() {
        assert!(matches!(
            block_on(read_frame(&mut &[][..], 16)),
            Err(FrameError::Closed)
        ));
        assert!(matches!(
            block_on(read_frame(&mut &[0, 0][..], 16)),
            Err(FrameError::Truncated { .. })
        ));
        assert!(matches!(
            block_on(read_frame(&mut &[0, 0, 0, 3, 1][..], 16)),
            Err(FrameError::Truncated {
                received_bytes: 1,
                expected_bytes: 3
            })
        ));
    }

    #[test]
    fn encode_then_read_round_trips() {
        let frame = encode_frame(&("abc".to_string(), 7u64), 64).expect("encodes");
        let payload = block_on(read_frame(&mut &frame[..], 64)).expect("reads");
        let back: (String, u64) = decode(&payload).expect("decodes");
        assert_eq!(back, ("abc".to_string(), 7));
        assert_eq!(
            split_frame(&frame, 64).expect("splits"),
            Some((&payload[..], frame.len()))
        );
    }

    #[test]
    fn an_oversize_message_is_refused_before_sending() {
        let big = vec![0u8; 100];
        assert!(matches!(
            encode_frame(&big, 50),
            Err(PeerError::TooLarge { max_bytes: 50, .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_garbage() {
        assert!(decode::<u8>(&[1, 2]).is_err());
    }
}
