//! The file-system seam.
//!
//! Every byte this crate reads or writes goes through [`Vfs`] and [`VfsFile`], so tests
//! (and the simulation layer) can inject the failures real disks produce: short writes,
//! failed fsyncs, flipped bits. [`OsVfs`] is the real implementation (Unix positional I/O).
//!
//! Positional I/O (`read_at` / `write_at`) lets the writer thread append while reader
//! handles read older records from the same open file without sharing a cursor.

use std::fmt;
use std::fs;
use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::error::Result;

/// How to open a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and write; the file must exist.
    ReadWrite,
    /// Read and write; the file must not exist yet.
    CreateNew,
}

/// One open file.
pub trait VfsFile: Send + Sync + fmt::Debug {
    /// Read up to `buf.len()` bytes at `offset`; returns how many were read (0 at EOF).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Write up to `buf.len()` bytes at `offset`; returns how many were written.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;
    /// `fdatasync`: data and the metadata needed to read it back.
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`: data and all metadata.
    fn sync_all(&self) -> io::Result<()>;
    /// Current file length in bytes.
    fn len_bytes(&self) -> io::Result<u64>;
    /// Truncate or extend (with zeros) to `len` bytes.
    fn set_len_bytes(&self, len: u64) -> io::Result<()>;
}

/// A file system.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Open a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>>;
    /// Atomically rename `from` to `to` (replacing `to`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Names (not paths) of the entries of a directory, in no particular order.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// fsync a directory, making creations, renames and removals in it durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Create a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// True when paths name files of the operating system's file system as they are, so a
    /// caller may open them with other I/O (tokio's asynchronous files, say). Only [`OsVfs`]:
    /// a wrapper that changes what reads see (fault injection) must be read through.
    fn is_os_file_system(&self) -> bool {
        false
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsVfs;

impl OsVfs {
    /// The real file system, shared.
    pub fn shared() -> Arc<dyn Vfs> {
        Arc::new(OsVfs)
    }
}

#[derive(Debug)]
struct OsFile {
    file: File,
}

impl VfsFile for OsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.file.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len_bytes(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

impl Vfs for OsVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut options = OpenOptions::new();
        match mode {
            OpenMode::Read => options.read(true),
            OpenMode::ReadWrite => options.read(true).write(true),
            OpenMode::CreateNew => options.read(true).write(true).create_new(true),
        };
        Ok(Arc::new(OsFile {
            file: options.open(path)?,
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            // Names that are not UTF-8 cannot be ours; skip them.
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }
    fn is_os_file_system(&self) -> bool {
        true
    }
}

/// Read exactly `buf.len()` bytes at `offset`, looping over short reads.
pub fn read_exact_at(file: &dyn VfsFile, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let rest = buf.get_mut(done..).unwrap_or_default();
        let n = file.read_at(rest, offset + done as u64)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("file ended {} bytes early", buf.len() - done),
            ));
        }
        done += n;
    }
    Ok(())
}

/// Write all of `buf` at `offset`, looping over short writes.
pub fn write_all_at(file: &dyn VfsFile, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let rest = buf.get(done..).unwrap_or_default();
        let n = file.write_at(rest, offset + done as u64)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write returned 0 bytes",
            ));
        }
        done += n;
    }
    Ok(())
}

/// Read a whole file of at most `len_max` bytes.
pub fn read_whole(vfs: &dyn Vfs, path: &Path, len_max: u64) -> Result<Vec<u8>> {
    let file = vfs
        .open(path, OpenMode::Read)
        .map_err(|e| Error::io("open", path, e))?;
    let len = file.len_bytes().map_err(|e| Error::io("stat", path, e))?;
    if len > len_max {
        return Err(Error::corrupt(
            path,
            0,
            format!("file is {len} bytes, more than the {len_max} bytes allowed"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    read_exact_at(&*file, &mut buf, 0).map_err(|e| Error::io("read", path, e))?;
    Ok(buf)
}

/// Replace `dir/name` with `bytes` crash-safely: write `dir/name.tmp`, fsync it, rename it
/// over `dir/name`, fsync the directory. After a crash the file holds either the old or the
/// new content, never a mix.
pub fn atomic_write(vfs: &dyn Vfs, dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let tmp: PathBuf = dir.join(format!("{name}.tmp"));
    // A leftover temp file from a crash is garbage; ignore "not found".
    match vfs.remove(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", &tmp, e)),
    }
    let file = vfs
        .open(&tmp, OpenMode::CreateNew)
        .map_err(|e| Error::io("create", &tmp, e))?;
    write_all_at(&*file, bytes, 0).map_err(|e| Error::io("write", &tmp, e))?;
    file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
    drop(file);
    vfs.rename(&tmp, &path)
        .map_err(|e| Error::io("rename", &path, e))?;
    vfs.sync_dir(dir)
        .map_err(|e| Error::io("fsync directory", dir, e))?;
    Ok(())
}

/// Remove a file, treating "already gone" as success.
pub fn remove_if_exists(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    match vfs.remove(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}
