//! Writing beside a target and moving the result into place only once it is verified: a
//! temporary directory in the target's parent (so the rename stays on one file system), a
//! rename that replaces nothing but an empty directory, and fsyncs so that the move survives
//! a crash.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::error::{io, MigrateError};

/// Refuses a target that exists and is not an empty directory.
pub(crate) fn check_target(target: &Path) -> Result<(), MigrateError> {
    match fs::read_dir(target) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(MigrateError::TargetNotEmpty {
                path: target.to_path_buf(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) if target.exists() => Err(MigrateError::TargetNotEmpty {
            path: target.to_path_buf(),
        }),
        Err(e) => Err(MigrateError::Io {
            path: target.to_path_buf(),
            source: e,
        }),
    }
}

/// A fresh temporary directory beside `target`, removed on drop unless [`Staging::keep`] or
/// [`Staging::commit`] was called.
pub(crate) struct Staging {
    path: PathBuf,
    target: PathBuf,
    keep: bool,
}

impl Staging {
    pub(crate) fn new(target: &Path, purpose: &str) -> Result<Staging, MigrateError> {
        let parent = parent_of(target);
        fs::create_dir_all(&parent).map_err(io(&parent))?;
        let name = target
            .file_name()
            .map_or_else(|| "target".into(), |n| n.to_string_lossy().into_owned());
        let path = parent.join(format!(".{name}.{purpose}-{}.tmp", std::process::id()));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io(&path))?;
        }
        fs::create_dir(&path).map_err(io(&path))?;
        Ok(Staging {
            path,
            target: target.to_path_buf(),
            keep: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place (for inspection after a failed verification).
    pub(crate) fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }

    /// Renames the directory onto the target (absent or empty) and makes that durable.
    pub(crate) fn commit(mut self) -> Result<(), MigrateError> {
        sync_tree(&self.path)?;
        check_target(&self.target)?;
        fs::rename(&self.path, &self.target).map_err(io(&self.target))?;
        self.keep = true;
        let parent = parent_of(&self.target);
        sync_dir(&parent)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// fsyncs every file and directory under `dir` (the storage crate syncs what it writes; this
/// also covers what was written here directly).
fn sync_tree(dir: &Path) -> Result<(), MigrateError> {
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io(&path))?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), MigrateError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}
