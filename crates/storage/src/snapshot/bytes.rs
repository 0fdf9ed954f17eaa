//! [`SnapshotBytes`]: a snapshot file's raw bytes, streamed through the [`Vfs`] (to send the
//! file to another server as it is on disk). Nothing is checked here: the receiver verifies
//! the whole file before using it.

use std::io;
use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::error::Result;
use crate::vfs::OpenMode;
use crate::vfs::Vfs;
use crate::vfs::VfsFile;

/// Reads one file from its start to the length it had when opened, with positional reads of
/// at most the caller's buffer: never the whole file at once.
pub struct SnapshotBytes {
    path: PathBuf,
    file: Arc<dyn VfsFile>,
    pos: u64,
    len: u64,
}

impl std::fmt::Debug for SnapshotBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotBytes")
            .field("path", &self.path)
            .field("pos", &self.pos)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl SnapshotBytes {
    pub(crate) fn open(vfs: &dyn Vfs, path: &Path) -> Result<SnapshotBytes> {
        let file = vfs
            .open(path, OpenMode::Read)
            .map_err(|e| Error::io("open", path, e))?;
        let len = file.len_bytes().map_err(|e| Error::io("stat", path, e))?;
        Ok(SnapshotBytes {
            path: path.to_path_buf(),
            file,
            pos: 0,
            len,
        })
    }

    /// The file's length when it was opened.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }
}

impl Read for SnapshotBytes {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let Some(buf) = out.get_mut(..want) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.file.read_at(buf, self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} ended at byte {} of {}",
                    self.path.display(),
                    self.pos,
                    self.len
                ),
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}
