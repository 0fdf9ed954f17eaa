//! Which deployment a data directory belongs to: a file in `dataDir` records whether a
//! standalone server or a member of which ensemble wrote it, and a server refuses to start on
//! a directory another deployment wrote.
//!
//! Why: a standalone server's log holds a one-voter membership. Restarted with `server.N`
//! lines on the same directory, it would find its raft state already initialised, skip the
//! ensemble's membership, and lead alone beside the real ensemble: a split brain. Likewise a
//! member's directory copied into another ensemble would bring a foreign history.

use std::fmt;
use std::path::{Path, PathBuf};

use corral_storage::layout::{LOG_DIR_NAME, SNAPSHOT_DIR_NAME};
use corral_storage::vfs::{atomic_write, read_whole, Vfs};

/// The file in `dataDir`.
pub(crate) const IDENTITY_FILE_NAME: &str = "corral-deployment";
/// It holds one short line.
const IDENTITY_FILE_BYTES_MAX: u64 = 4096;

/// What a data directory belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deployment {
    Standalone,
    /// An ensemble, by its id (derived from the member list, or `corral.ensembleId`).
    Ensemble(String),
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deployment::Standalone => write!(f, "standalone"),
            Deployment::Ensemble(id) => write!(f, "ensemble {id}"),
        }
    }
}

impl Deployment {
    fn parse(text: &str) -> Option<Deployment> {
        let line = text.trim();
        if line == "standalone" {
            return Some(Deployment::Standalone);
        }
        let id = line.strip_prefix("ensemble ")?.trim();
        (!id.is_empty()).then(|| Deployment::Ensemble(id.to_owned()))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum IdentityError {
    #[error(
        "{path} says this data directory belongs to {found}, but this server's configuration \
         makes it part of {expected}; start it on an empty data directory (or, if only the \
         server list was rewritten, set corral.ensembleId to the recorded id)"
    )]
    Mismatch {
        path: PathBuf,
        found: Deployment,
        expected: Deployment,
    },
    #[error(
        "{dir} holds data written by a standalone Corral server; an ensemble member must start \
         on an empty data directory (its raft state would otherwise be a one-voter cluster \
         leading alone beside the ensemble)"
    )]
    StandaloneData { dir: PathBuf },
    #[error("{path} is not a deployment record (expected `standalone` or `ensemble <id>`)")]
    Unreadable { path: PathBuf },
    #[error("deployment record: {0}")]
    Storage(#[from] corral_storage::Error),
}

/// Checks that `data_dir` belongs to `me`, or records that it does when it holds nothing yet.
pub(crate) fn check_or_record(
    vfs: &dyn Vfs,
    data_dir: &Path,
    data_log_dir: &Path,
    me: &Deployment,
) -> Result<(), IdentityError> {
    let path = data_dir.join(IDENTITY_FILE_NAME);
    if has_entry(vfs, data_dir, IDENTITY_FILE_NAME) {
        let bytes = read_whole(vfs, &path, IDENTITY_FILE_BYTES_MAX)?;
        let found = std::str::from_utf8(&bytes)
            .ok()
            .and_then(Deployment::parse)
            .ok_or_else(|| IdentityError::Unreadable { path: path.clone() })?;
        if &found != me {
            return Err(IdentityError::Mismatch {
                path,
                found,
                expected: me.clone(),
            });
        }
        return Ok(());
    }
    // No record: a new directory, or one written before records existed (all of them by a
    // standalone server).
    let has_data = !is_empty(vfs, &data_log_dir.join(LOG_DIR_NAME))
        || !is_empty(vfs, &data_dir.join(SNAPSHOT_DIR_NAME));
    if has_data && matches!(me, Deployment::Ensemble(_)) {
        return Err(IdentityError::StandaloneData {
            dir: data_dir.to_owned(),
        });
    }
    atomic_write(
        vfs,
        data_dir,
        IDENTITY_FILE_NAME,
        format!("{me}\n").as_bytes(),
    )?;
    Ok(())
}

fn has_entry(vfs: &dyn Vfs, dir: &Path, name: &str) -> bool {
    vfs.list(dir)
        .is_ok_and(|names| names.iter().any(|n| n == name))
}

/// True for a missing directory, or one holding nothing but Corral's format-version file.
fn is_empty(vfs: &dyn Vfs, dir: &Path) -> bool {
    vfs.list(dir).map_or(true, |names| {
        names.iter().all(|n| n.starts_with("corral-version"))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use corral_storage::mem_vfs::MemVfs;

    use super::*;

    fn setup() -> (Arc<MemVfs>, PathBuf) {
        let vfs = Arc::new(MemVfs::new());
        let dir = PathBuf::from("/data");
        vfs.create_dir_all(&dir).unwrap();
        (vfs, dir)
    }

    #[test]
    fn a_new_directory_is_recorded_and_then_recognised() {
        let (vfs, dir) = setup();
        let me = Deployment::Ensemble("abc".into());
        check_or_record(&*vfs, &dir, &dir, &me).unwrap();
        check_or_record(&*vfs, &dir, &dir, &me).unwrap();
        let other = Deployment::Ensemble("xyz".into());
        let err = check_or_record(&*vfs, &dir, &dir, &other).unwrap_err();
        assert!(matches!(err, IdentityError::Mismatch { .. }), "{err}");
        let err = check_or_record(&*vfs, &dir, &dir, &Deployment::Standalone).unwrap_err();
        assert!(err.to_string().contains("ensemble abc"), "{err}");
    }

    #[test]
    fn standalone_data_without_a_record_is_refused_for_an_ensemble_only() {
        let (vfs, dir) = setup();
        let log = dir.join(LOG_DIR_NAME);
        vfs.create_dir_all(&log).unwrap();
        atomic_write(&*vfs, &log, "segment-1", b"x").unwrap();
        let err = check_or_record(&*vfs, &dir, &dir, &Deployment::Ensemble("abc".into()));
        assert!(matches!(err, Err(IdentityError::StandaloneData { .. })));
        check_or_record(&*vfs, &dir, &dir, &Deployment::Standalone).unwrap();
        check_or_record(&*vfs, &dir, &dir, &Deployment::Standalone).unwrap();
    }

    #[test]
    fn a_damaged_record_is_reported() {
        let (vfs, dir) = setup();
        atomic_write(&*vfs, &dir, IDENTITY_FILE_NAME, b"garbage").unwrap();
        let err = check_or_record(&*vfs, &dir, &dir, &Deployment::Standalone).unwrap_err();
        assert!(matches!(err, IdentityError::Unreadable { .. }), "{err}");
    }
}
