//! The handshake: one ConnectRequest frame out, one ConnectResponse frame back, no headers.
//!
//! Kept apart from the connection tasks so tests can run it alone (and look at the raw
//! ConnectResponse, including whether the readOnly byte came back) and so the connection starts
//! with whatever bytes arrived behind the response already in its buffer.

use bytes::{Bytes, BytesMut};
use corral_proto::connect::{ConnectRequest, ConnectResponse, PASSWORD_BYTES};
use corral_proto::frame::{begin_frame, finish_frame, split_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::ClientError;
use crate::options::ConnectOptions;

/// Read buffer size of a connection.
pub(crate) const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Builds the ConnectRequest the options describe.
pub fn connect_request(options: &ConnectOptions) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: options.last_zxid_seen,
        timeout_ms: options.timeout_ms,
        session_id: options.session_id,
        password: Some(
            options
                .password
                .clone()
                .unwrap_or_else(|| Bytes::from_static(&[0; PASSWORD_BYTES])),
        ),
        read_only: options.read_only,
    }
}

/// Sends `request` and reads the ConnectResponse. Returns it as received (even when its timeout
/// is 0, which the caller judges) together with any bytes that arrived after it.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &ConnectRequest,
    max_frame_bytes: usize,
) -> Result<(ConnectResponse, BytesMut), ClientError> {
    let mut out = BytesMut::new();
    let start = begin_frame(&mut out);
    request.encode(&mut out);
    finish_frame(&mut out, start);
    stream.write_all(&out).await.map_err(ClientError::io)?;

    let mut buffer = BytesMut::with_capacity(READ_CHUNK_BYTES);
    loop {
        if let Some(body) = split_frame(&mut buffer, max_frame_bytes)? {
            let response =
                ConnectResponse::decode(&body).map_err(|source| ClientError::Decode {
                    what: "ConnectResponse",
                    source,
                })?;
            return Ok((response, buffer));
        }
        let read = stream
            .read_buf(&mut buffer)
            .await
            .map_err(ClientError::io)?;
        if read == 0 {
            return Err(ClientError::HandshakeRefused);
        }
    }
}
