//! A snapshot file received whole from another server (the ensemble's snapshot transfer): its
//! bytes are written to a temporary file as they arrive, and only a file that verifies
//! completely (every frame's checksum, the trailer, and the log index it claims) is renamed
//! into place. A transfer that fails or is abandoned leaves nothing behind.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::snapshot::format::{snapshot_file_name, SnapshotInfo};
use crate::snapshot::reader::SnapshotReader;
use crate::vfs::{remove_if_exists, write_all_at, OpenMode, Vfs, VfsFile};

/// A snapshot file being received; dropped unfinished, its temporary file is removed.
pub struct IncomingSnapshot {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    tmp_path: PathBuf,
    final_path: PathBuf,
    last_log_index: u64,
    file: Arc<dyn VfsFile>,
    pos: u64,
    done: bool,
}

impl IncomingSnapshot {
    pub(crate) fn create(
        vfs: Arc<dyn Vfs>,
        dir: PathBuf,
        tmp_path: PathBuf,
        last_log_index: u64,
    ) -> Result<IncomingSnapshot> {
        let file = vfs
            .open(&tmp_path, OpenMode::CreateNew)
            .map_err(|e| Error::io("create", &tmp_path, e))?;
        let final_path = dir.join(snapshot_file_name(last_log_index));
        Ok(IncomingSnapshot {
            vfs,
            dir,
            tmp_path,
            final_path,
            last_log_index,
            file,
            pos: 0,
            done: false,
        })
    }

    /// Appends the next bytes of the file.
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        write_all_at(&*self.file, chunk, self.pos)
            .map_err(|e| Error::io("write", &self.tmp_path, e))?;
        self.pos += chunk.len() as u64;
        Ok(())
    }

    /// Makes the file durable, verifies it whole, and renames it into place.
    pub fn finish(mut self) -> Result<SnapshotInfo> {
        self.file
            .sync_all()
            .map_err(|e| Error::io("fsync", &self.tmp_path, e))?;
        let mut reader = SnapshotReader::open(&*self.vfs, &self.tmp_path)?;
        reader.verify_to_end()?;
        let claimed = reader.meta().last_log_index;
        if claimed != self.last_log_index {
            return Err(Error::corrupt(
                &self.tmp_path,
                0,
                format!(
                    "received snapshot ends at index {claimed}, but the sender announced {}",
                    self.last_log_index
                ),
            ));
        }
        self.vfs
            .rename(&self.tmp_path, &self.final_path)
            .map_err(|e| Error::io("rename", &self.final_path, e))?;
        self.done = true;
        self.vfs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io("fsync directory", &self.dir, e))?;
        Ok(SnapshotInfo {
            path: self.final_path.clone(),
            last_log_index: self.last_log_index,
        })
    }
}

impl Drop for IncomingSnapshot {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = remove_if_exists(&*self.vfs, &self.tmp_path) {
                tracing::warn!(file = %self.tmp_path.display(), error = %e, "could not remove an unfinished received snapshot");
            }
        }
    }
}
