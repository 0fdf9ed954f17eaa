//! The `corral-version` file: which storage format a data directory holds.
//!
//! A build must never guess at bytes written by a different format: a directory whose
//! version file names anything but [`STORAGE_FORMAT_VERSION`] is refused. A fresh (or
//! foreign-file-only) directory gets the file, written atomically, before anything else.

use std::path::Path;

use crate::error::Error;
use crate::error::Result;
use crate::vfs::atomic_write;
use crate::vfs::read_whole;
use crate::vfs::Vfs;

/// Name of the version file.
pub const VERSION_FILE_NAME: &str = "corral-version";
/// The storage format this build reads and writes.
pub const STORAGE_FORMAT_VERSION: u32 = 1;
/// The version file is one short line.
const VERSION_FILE_BYTES_MAX: u64 = 64;

/// Check `dir`'s version file, creating it if the directory holds none of our files.
/// `is_ours` says whether a file name belongs to this crate's formats.
pub fn check_or_init(vfs: &dyn Vfs, dir: &Path, is_ours: fn(&str) -> bool) -> Result<()> {
    let names = vfs.list(dir).map_err(|e| Error::io("list", dir, e))?;
    let path = dir.join(VERSION_FILE_NAME);
    if names.iter().any(|n| n == VERSION_FILE_NAME) {
        let bytes = read_whole(vfs, &path, VERSION_FILE_BYTES_MAX)?;
        let text = String::from_utf8_lossy(&bytes);
        let found = text.trim();
        if found.parse::<u32>().ok() == Some(STORAGE_FORMAT_VERSION) {
            return Ok(());
        }
        return Err(Error::UnknownVersion {
            path,
            found: found.to_string(),
            supported: STORAGE_FORMAT_VERSION,
        });
    }
    if names.iter().any(|n| is_ours(n)) {
        return Err(Error::MissingVersion {
            dir: dir.to_path_buf(),
            file: VERSION_FILE_NAME,
        });
    }
    atomic_write(
        vfs,
        dir,
        VERSION_FILE_NAME,
        format!("{STORAGE_FORMAT_VERSION}\n").as_bytes(),
    )
}
