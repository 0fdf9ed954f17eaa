//! Why an import or export stopped. Every variant names the file (and, for damage inside one,
//! the byte offset) the operator has to look at.

use std::path::PathBuf;

use corral_zkdata::model::digest::DigestMismatch;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no ZooKeeper data (no version-2 directory with snapshot.* or log.* files)", dir.display())]
    NotZooKeeperData { dir: PathBuf },
    #[error("{}: the target is not empty; give a new or empty directory", path.display())]
    TargetNotEmpty { path: PathBuf },
    #[error("{}: compressed snapshots are not supported; restart ZooKeeper with \
             zookeeper.snapshot.compression.method unset so that it writes a plain one", path.display())]
    CompressedSnapshot { path: PathBuf },
    #[error("no snapshot could be read ({})", reasons.join("; "))]
    NoValidSnapshot { reasons: Vec<String> },
    #[error("{}: corrupt at byte offset {offset}: {reason} (ZooKeeper would refuse to start)", path.display())]
    CorruptFile {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{}: at byte offset {offset}: {reason}", path.display())]
    LogOrder {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{}: record at byte offset {offset}: {source}", path.display())]
    Apply {
        path: PathBuf,
        offset: u64,
        source: corral_zkdata::model::ApplyError,
    },
    #[error("the replayed tree differs from ZooKeeper's recorded digest {} time(s), first at \
             zxid {:#x} ({} digest {:#x}, replayed {:#x}); nothing was written \
             (--ignore-digest-mismatch imports anyway)",
            count, first.zxid, first.source, first.recorded, first.replayed)]
    DigestMismatch { first: DigestMismatch, count: usize },
    #[error("the tree cannot be converted: {0}")]
    Convert(String),
    #[error(transparent)]
    Storage(#[from] corral_storage::Error),
    #[error("the Corral data cannot be read: {0}")]
    CorralData(String),
    #[error("verification failed, nothing was moved into place (left in {}): {what}", tmp.display())]
    Verify { tmp: PathBuf, what: String },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> MigrateError {
    let path = path.into();
    move |source| MigrateError::Io { path, source }
}
