//! The crate's typed error.
//!
//! Every error that comes from disk contents names the file and, where it has one, the byte
//! offset, so an operator can look at the damage with `xxd` instead of guessing. openraft's
//! traits speak `std::io::Error`; [`From<Error> for io::Error`] keeps our error as the inner
//! error so callers can downcast it back.

use std::io;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What we were doing ("fsync", "rename", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// Bytes on disk are not what we wrote: bad checksum, bad header, undecodable payload.
    #[error("corrupt data in {} at byte offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the first bad byte range (record, header field, frame).
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A log segment is missing between two segments (or before the first one).
    #[error(
        "missing log segment: entries from index {expected_first_index} are needed after {}, \
         but the next segment {} starts at index {next_first_index}",
        prev.display(),
        next.display()
    )]
    MissingSegment {
        /// The segment (or state file) that ends before the gap.
        prev: PathBuf,
        /// The first index that should come next.
        expected_first_index: u64,
        /// The segment after the gap.
        next: PathBuf,
        /// Its first index.
        next_first_index: u64,
    },

    /// The data directory was written by a different (unknown) storage format version.
    #[error(
        "{} names storage format version {found:?}, but this build only understands version \
         {supported}; refusing to open",
        path.display()
    )]
    UnknownVersion {
        /// The version file.
        path: PathBuf,
        /// What it contains (trimmed, possibly not a number).
        found: String,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// The directory holds Corral files but no version file: it was not created by us, or
    /// the version file was deleted.
    #[error("{} holds Corral data files but no version file {}; refusing to guess its format", dir.display(), file)]
    MissingVersion {
        /// The data directory.
        dir: PathBuf,
        /// The expected version file name.
        file: &'static str,
    },

    /// An earlier fsync or write failed. A failed fsync cannot be retried (the kernel may
    /// have dropped the dirty pages), so the store refuses all further writes.
    #[error("storage is poisoned by an earlier failure ({cause}); restart the process to recover from disk")]
    Poisoned {
        /// The first failure.
        cause: String,
    },

    /// The configuration is invalid.
    #[error("invalid storage configuration: {0}")]
    Config(String),

    /// A value could not be encoded (too large, serializer failure).
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What we tried to encode.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },

    /// The caller broke a contract of the log (hole, overwrite of purged entries, ...).
    #[error("invalid log operation: {0}")]
    InvalidOperation(String),

    /// The writer thread is gone (panicked or shut down); nothing can be written.
    #[error("the log writer thread has stopped")]
    WriterStopped,
}

impl Error {
    /// Build an [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Build an [`Error::Corrupt`].
    pub fn corrupt(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// Rebuild a typed error from an `io::Error` produced by `From<Error> for io::Error`,
    /// or wrap a foreign one as [`Error::Io`].
    pub fn from_io(op: &'static str, path: impl Into<PathBuf>, err: io::Error) -> Self {
        if err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = err.into_inner() {
                if let Ok(typed) = inner.downcast::<Error>() {
                    return *typed;
                }
            }
            return Error::InvalidOperation("lost inner error".to_string());
        }
        Error::io(op, path, err)
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        let kind = match &err {
            Error::Io { source, .. } => source.kind(),
            Error::Corrupt { .. } | Error::MissingSegment { .. } => io::ErrorKind::InvalidData,
            Error::UnknownVersion { .. } | Error::MissingVersion { .. } => {
                io::ErrorKind::Unsupported
            }
            Error::InvalidOperation(_) | Error::Config(_) => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}
