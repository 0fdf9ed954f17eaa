//! The error every decoder here returns: where in the input it stopped, and why.

/// A file (or record) that does not decode. `offset` is the byte offset, from the start of the
/// bytes given to the decoder, of the item that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte offset {offset}: {reason}")]
pub struct FormatError {
    pub offset: u64,
    pub reason: String,
}

impl FormatError {
    pub fn new(offset: u64, reason: impl Into<String>) -> FormatError {
        FormatError {
            offset,
            reason: reason.into(),
        }
    }

    /// From a jute decode error of a reader that started at `base` in the file.
    pub fn jute(base: u64, what: &str, err: corral_proto::DecodeError) -> FormatError {
        let offset = match &err {
            corral_proto::DecodeError::Truncated { offset, .. }
            | corral_proto::DecodeError::BadLength { offset, .. }
            | corral_proto::DecodeError::BadUtf8 { offset } => *offset as u64,
            corral_proto::DecodeError::BadValue { .. } => 0,
        };
        FormatError::new(base + offset, format!("{what}: {err}"))
    }
}
