//! The handshake records. Both end in a `readOnly` byte that is optional on the wire: a
//! client that omits it (ZooKeeper ≤ 3.3, old ClickHouse) must get a reply without it, and a
//! client that sends it (the C client reads a fixed 41-byte primer) must get it back. So the
//! presence of the byte is part of the decoded value and is echoed by the encoder.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::jute::{DecodeError, Jute, Reader};

/// Length of the session password ZooKeeper hands out.
pub const PASSWORD_BYTES: usize = 16;

/// The optional last field of both handshake records: absent when nothing is left.
fn read_trailing_read_only(reader: &mut Reader<'_>) -> Result<Option<bool>, DecodeError> {
    if reader.is_empty() {
        return Ok(None);
    }
    Ok(Some(reader.read_bool()?))
}

/// Writes the optional last field only when it is present (its presence is echoed).
fn put_trailing_read_only(read_only: Option<bool>, out: &mut BytesMut) {
    if let Some(read_only) = read_only {
        read_only.encode(out);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Option<Bytes>,
    /// `None` when the client did not send the byte at all.
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    pub fn decode(body: &[u8]) -> Result<ConnectRequest, DecodeError> {
        let mut reader = Reader::new(body);
        let protocol_version = reader.read_i32()?;
        let last_zxid_seen = reader.read_i64()?;
        let timeout_ms = reader.read_i32()?;
        let session_id = reader.read_i64()?;
        let password = reader.read_buffer()?;
        let read_only = read_trailing_read_only(&mut reader)?;
        Ok(ConnectRequest {
            protocol_version,
            last_zxid_seen,
            timeout_ms,
            session_id,
            password,
            read_only,
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.protocol_version);
        out.put_i64(self.last_zxid_seen);
        out.put_i32(self.timeout_ms);
        out.put_i64(self.session_id);
        self.password.encode(out);
        put_trailing_read_only(self.read_only, out);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    /// Negotiated timeout; 0 tells the client its session is invalid or expired.
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Option<Bytes>,
    /// `None` to omit the byte (the client did not send one).
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// The reply to a reconnect whose session is unknown, expired or has the wrong password.
    pub fn invalid_session(echo_read_only: bool) -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 0,
            session_id: 0,
            password: Some(Bytes::from_static(&[0; PASSWORD_BYTES])),
            read_only: echo_read_only.then_some(false),
        }
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.protocol_version);
        out.put_i32(self.timeout_ms);
        out.put_i64(self.session_id);
        self.password.encode(out);
        put_trailing_read_only(self.read_only, out);
    }

    pub fn decode(body: &[u8]) -> Result<ConnectResponse, DecodeError> {
        let mut reader = Reader::new(body);
        let protocol_version = reader.read_i32()?;
        let timeout_ms = reader.read_i32()?;
        let session_id = reader.read_i64()?;
        let password = reader.read_buffer()?;
        let read_only = read_trailing_read_only(&mut reader)?;
        Ok(ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            password,
            read_only,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_bytes(with_read_only: bool) -> Vec<u8> {
        let mut bytes = vec![0, 0, 0, 0]; // protocolVersion
        bytes.extend_from_slice(&0x10i64.to_be_bytes()); // lastZxidSeen
        bytes.extend_from_slice(&30_000i32.to_be_bytes()); // timeOut
        bytes.extend_from_slice(&0i64.to_be_bytes()); // sessionId
        bytes.extend_from_slice(&16i32.to_be_bytes());
        bytes.extend_from_slice(&[0; 16]);
        if with_read_only {
            bytes.push(1);
        }
        bytes
    }

    #[test]
    fn read_only_byte_is_optional_and_echoed() {
        let with = request_bytes(true);
        assert_eq!(with.len(), 45);
        let request = ConnectRequest::decode(&with).unwrap();
        assert_eq!(request.read_only, Some(true));
        assert_eq!(request.last_zxid_seen, 0x10);
        assert_eq!(request.timeout_ms, 30_000);
        let mut out = BytesMut::new();
        request.encode(&mut out);
        assert_eq!(&out[..], &with[..]);

        let without = request_bytes(false);
        assert_eq!(without.len(), 44);
        let request = ConnectRequest::decode(&without).unwrap();
        assert_eq!(request.read_only, None);
    }

    #[test]
    fn response_golden_bytes() {
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 0x0100_0000_0000_0001,
            password: Some(Bytes::from_static(&[7; 16])),
            read_only: Some(false),
        };
        let mut out = BytesMut::new();
        response.encode(&mut out);
        let mut expected = vec![
            0, 0, 0, 0, 0, 0, 0x0f, 0xa0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 16,
        ];
        expected.extend_from_slice(&[7; 16]);
        expected.push(0);
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(out.len(), 37);
        assert_eq!(ConnectResponse::decode(&out).unwrap(), response);

        let mut short = BytesMut::new();
        ConnectResponse::invalid_session(false).encode(&mut short);
        assert_eq!(short.len(), 36);
    }

    #[test]
    fn truncated_handshake_is_an_error() {
        let bytes = request_bytes(true);
        for cut in 0..24 {
            assert!(ConnectRequest::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }
}
