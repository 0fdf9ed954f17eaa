//! Jute, ZooKeeper's binary record encoding.
//!
//! A record is the plain concatenation of its fields in declaration order: big-endian `int` and
//! `long`, one-byte `boolean`, and `ustring` / `buffer` / `vector` prefixed by a signed 32-bit
//! length where `-1` means null. There are no tags and no record length, so a decoder must
//! bound every length by what is left of the frame: a length larger than the remaining bytes is
//! an error, never an allocation. That single rule is what keeps a hostile frame from making the
//! server allocate gigabytes.

use bytes::{BufMut, Bytes, BytesMut};

/// Why a record could not be decoded. Every variant maps to ZooKeeper's MARSHALLINGERROR on
/// the request path (or a closed connection during the handshake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record truncated: needed {needed} bytes at offset {offset}, {remaining} left")]
    Truncated {
        offset: usize,
        needed: usize,
        remaining: usize,
    },
    #[error("unreasonable length {length} at offset {offset}")]
    BadLength { offset: usize, length: i32 },
    #[error("string at offset {offset} is not valid UTF-8")]
    BadUtf8 { offset: usize },
    #[error("invalid value {value} for {what}")]
    BadValue { what: &'static str, value: i64 },
}

/// A cursor over one frame body. Decoding never reads past the end and never trusts a length
/// that exceeds the bytes left.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.offset..]
    }

    pub fn take(&mut self, needed: usize) -> Result<&'a [u8], DecodeError> {
        if needed > self.remaining() {
            return Err(DecodeError::Truncated {
                offset: self.offset,
                needed,
                remaining: self.remaining(),
            });
        }
        let start = self.offset;
        self.offset += needed;
        Ok(&self.bytes[start..self.offset])
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        Ok(array)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take_array()?))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take_array()?))
    }

    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        // The Java reader treats any non-zero byte as true.
        Ok(self.take_array::<1>()?[0] != 0)
    }

    /// Reads a length prefix. `Ok(None)` is the null marker (-1). Any other negative length, or
    /// one larger than the bytes left times `min_element_bytes`, is rejected before allocating.
    fn read_length(&mut self, min_element_bytes: usize) -> Result<Option<usize>, DecodeError> {
        let offset = self.offset;
        let length = self.read_i32()?;
        if length == -1 {
            return Ok(None);
        }
        let bad = DecodeError::BadLength { offset, length };
        let count = usize::try_from(length).map_err(|_| bad.clone())?;
        if count.saturating_mul(min_element_bytes.max(1)) > self.remaining() {
            return Err(bad);
        }
        Ok(Some(count))
    }

    pub fn read_buffer(&mut self) -> Result<Option<Bytes>, DecodeError> {
        match self.read_length(1)? {
            None => Ok(None),
            Some(len) => Ok(Some(Bytes::copy_from_slice(self.take(len)?))),
        }
    }

    /// Reads a `ustring`; null decodes as `None`.
    pub fn read_opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        let Some(len) = self.read_length(1)? else {
            return Ok(None);
        };
        let offset = self.offset;
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::BadUtf8 { offset })?;
        Ok(Some(text.to_owned()))
    }

    /// Reads a vector's element count; null decodes as zero elements.
    pub fn read_count(&mut self, min_element_bytes: usize) -> Result<usize, DecodeError> {
        Ok(self.read_length(min_element_bytes)?.unwrap_or(0))
    }
}

/// A type with a jute encoding.
pub trait Jute: Sized {
    /// The fewest bytes one encoded value can take; bounds vector counts before allocation.
    const MIN_BYTES: usize;
    fn encode(&self, out: &mut BytesMut);
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Encodes into a fresh buffer.
    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// Decodes from a whole slice, ignoring trailing bytes as ZooKeeper's reader does.
    fn from_slice(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(&mut Reader::new(bytes))
    }
}

impl Jute for i32 {
    const MIN_BYTES: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(*self);
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_i32()
    }
}

impl Jute for i64 {
    const MIN_BYTES: usize = 8;
    fn encode(&self, out: &mut BytesMut) {
        out.put_i64(*self);
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_i64()
    }
}

impl Jute for bool {
    const MIN_BYTES: usize = 1;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_bool()
    }
}

/// A `ustring`. Null decodes as the empty string: every string field of the client protocol
/// is a path, a scheme or an id, where ZooKeeper treats null and empty alike (both fail
/// validation), and a server never sends null strings.
impl Jute for String {
    const MIN_BYTES: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_len(out, self.len());
        out.put_slice(self.as_bytes());
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(reader.read_opt_string()?.unwrap_or_default())
    }
}

/// A `buffer`, where null (`None`, length -1) and empty are distinct on the wire.
impl Jute for Option<Bytes> {
    const MIN_BYTES: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(bytes) => {
                put_len(out, bytes.len());
                out.put_slice(bytes);
            }
        }
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_buffer()
    }
}

/// A `vector<T>`; null decodes as empty.
impl<T: Jute> Jute for Vec<T> {
    const MIN_BYTES: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        put_len(out, self.len());
        for item in self {
            item.encode(out);
        }
    }
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = reader.read_count(T::MIN_BYTES)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::decode(reader)?);
        }
        Ok(items)
    }
}

/// Writes a length prefix. Lengths come from values this process built and are bounded by the
/// frame limit long before `i32::MAX`; saturating keeps the encoder total.
fn put_len(out: &mut BytesMut, len: usize) {
    out.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
}

/// Declares a jute record: a struct whose encoding is its fields in order.
#[macro_export]
macro_rules! jute_record {
    ($(#[$meta:meta])* pub struct $name:ident { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty ),* }

        impl $crate::jute::Jute for $name {
            const MIN_BYTES: usize = 0 $( + <$ty as $crate::jute::Jute>::MIN_BYTES )*;
            #[allow(unused_variables)]
            fn encode(&self, out: &mut bytes::BytesMut) {
                $( $crate::jute::Jute::encode(&self.$field, out); )*
            }
            #[allow(unused_variables)]
            fn decode(reader: &mut $crate::jute::Reader<'_>) -> Result<Self, $crate::jute::DecodeError> {
                Ok(Self { $( $field: <$ty as $crate::jute::Jute>::decode(reader)? ),* })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_are_big_endian() {
        let mut out = BytesMut::new();
        0x0102_0304i32.encode(&mut out);
        (-2i64).encode(&mut out);
        true.encode(&mut out);
        assert_eq!(
            &out[..],
            &[1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 1]
        );
    }

    #[test]
    fn null_and_empty_buffers_differ() {
        assert_eq!(&None::<Bytes>.to_bytes()[..], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&Some(Bytes::new()).to_bytes()[..], &[0, 0, 0, 0]);
        assert_eq!(Option::<Bytes>::from_slice(&[0xff; 4]).unwrap(), None);
    }

    #[test]
    fn lengths_beyond_the_frame_are_rejected_before_allocating() {
        let err = String::from_slice(&[0x7f, 0xff, 0xff, 0xff, b'a']).unwrap_err();
        assert!(matches!(err, DecodeError::BadLength { offset: 0, .. }));
        let err = Vec::<i64>::from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(matches!(err, DecodeError::BadLength { .. }));
        let err = String::from_slice(&[0xff, 0xff, 0xff, 0xfe]).unwrap_err();
        assert!(matches!(err, DecodeError::BadLength { length: -2, .. }));
    }

    #[test]
    fn any_nonzero_byte_is_true() {
        assert!(bool::from_slice(&[7]).unwrap());
        assert!(!bool::from_slice(&[0]).unwrap());
    }

    #[test]
    fn bad_utf8_is_an_error() {
        let err = String::from_slice(&[0, 0, 0, 1, 0xff]).unwrap_err();
        assert_eq!(err, DecodeError::BadUtf8 { offset: 4 });
    }
}
