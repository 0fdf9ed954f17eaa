//! An in-memory [`Vfs`] that models what survives a crash.
//!
//! Each file keeps its current bytes and the bytes as of its last fsync; the directory
//! keeps its current entries and the entries as of its last directory fsync. A
//! [`MemVfs::crash_image`] builds the file system a machine would find after power loss
//! at this instant, under a chosen [`CrashMode`]. Crash tests (here and in the simulation
//! layer) run a store on a `MemVfs`, crash it at random points and check that recovery
//! opens and keeps every acknowledged write.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::vfs::OpenMode;
use crate::vfs::Vfs;
use crate::vfs::VfsFile;

/// What happens to data written but not yet fsync'd when the machine crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// All of it is lost.
    LoseUnsynced,
    /// All of it reached the disk anyway.
    KeepUnsynced,
    /// Each file keeps its unsynced changes only up to a cut point derived from `seed`
    /// (a write that reached the disk as a prefix: a torn write).
    TornPrefix {
        /// Chooses the cut point of each file.
        seed: u64,
    },
}

#[derive(Default)]
struct MemFileData {
    current: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Default)]
struct MemFile {
    data: Mutex<MemFileData>,
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemFile").finish_non_exhaustive()
    }
}

impl VfsFile for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let data = self.data.lock();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.current.len());
        let src = data.current.get(start..).unwrap_or_default();
        let n = src.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), src.get(..n)) {
            dst.copy_from_slice(src);
        }
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let mut data = self.data.lock();
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let end = start + buf.len();
        if data.current.len() < end {
            data.current.resize(end, 0);
        }
        if let Some(dst) = data.current.get_mut(start..end) {
            dst.copy_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut data = self.data.lock();
        data.durable = data.current.clone();
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }

    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.data.lock().current.len() as u64)
    }

    fn set_len_bytes(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(io::Error::other)?;
        self.data.lock().current.resize(len, 0);
        Ok(())
    }
}

#[derive(Default)]
struct Namespace {
    dirs: BTreeSet<PathBuf>,
    current: BTreeMap<PathBuf, Arc<MemFile>>,
    durable: BTreeMap<PathBuf, Arc<MemFile>>,
}

/// The in-memory file system. Clones share state.
#[derive(Clone, Default)]
pub struct MemVfs {
    ns: Arc<Mutex<Namespace>>,
}

impl fmt::Debug for MemVfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.ns.lock();
        f.debug_struct("MemVfs")
            .field("files", &ns.current.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

/// A small deterministic generator (splitmix64) for the torn cut points.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl MemVfs {
    /// An empty file system.
    pub fn new() -> Self {
        MemVfs::default()
    }

    /// The file system as a machine would find it after crashing now. Directory entries
    /// are those as of the last directory fsync; contents follow `mode`.
    pub fn crash_image(&self, mode: CrashMode) -> MemVfs {
        let ns = self.ns.lock();
        let mut image = Namespace {
            dirs: ns.dirs.clone(),
            ..Namespace::default()
        };
        for (i, (path, file)) in ns.durable.iter().enumerate() {
            let data = file.data.lock();
            let bytes = match mode {
                CrashMode::LoseUnsynced => data.durable.clone(),
                CrashMode::KeepUnsynced => data.current.clone(),
                CrashMode::TornPrefix { seed } => {
                    let longest = data.current.len().max(data.durable.len());
                    let cut = (mix(seed ^ (i as u64)) % (longest as u64 + 1)) as usize;
                    let mut bytes = data.durable.clone();
                    let new_len = if cut >= data.durable.len() {
                        cut.min(data.current.len()).max(data.durable.len())
                    } else {
                        data.durable.len()
                    };
                    bytes.resize(new_len, 0);
                    let upto = cut.min(data.current.len()).min(bytes.len());
                    if let (Some(dst), Some(src)) =
                        (bytes.get_mut(..upto), data.current.get(..upto))
                    {
                        dst.copy_from_slice(src);
                    }
                    bytes
                }
            };
            let file = MemFile {
                data: Mutex::new(MemFileData {
                    current: bytes.clone(),
                    durable: bytes,
                }),
            };
            let file = Arc::new(file);
            image.current.insert(path.clone(), file.clone());
            image.durable.insert(path.clone(), file);
        }
        MemVfs {
            ns: Arc::new(Mutex::new(image)),
        }
    }

    /// Current content of a file (for tests that poke at bytes).
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let ns = self.ns.lock();
        ns.current.get(path).map(|f| f.data.lock().current.clone())
    }
}

impl Vfs for MemVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut ns = self.ns.lock();
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if !ns.dirs.contains(&parent) {
            return Err(not_found(&parent));
        }
        match (mode, ns.current.get(path)) {
            (OpenMode::CreateNew, Some(_)) => {
                Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"))
            }
            (OpenMode::CreateNew, None) => {
                let file = Arc::new(MemFile::default());
                ns.current.insert(path.to_path_buf(), file.clone());
                Ok(file)
            }
            (_, Some(file)) => Ok(file.clone()),
            (_, None) => Err(not_found(path)),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut ns = self.ns.lock();
        let file = ns.current.remove(from).ok_or_else(|| not_found(from))?;
        ns.current.insert(to.to_path_buf(), file);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut ns = self.ns.lock();
        ns.current
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let ns = self.ns.lock();
        if !ns.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(ns
            .current
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut ns = self.ns.lock();
        ns.durable.retain(|p, _| p.parent() != Some(dir));
        let entries: Vec<(PathBuf, Arc<MemFile>)> = ns
            .current
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        ns.durable.extend(entries);
        Ok(())
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut ns = self.ns.lock();
        let mut at = Some(dir);
        while let Some(d) = at {
            ns.dirs.insert(d.to_path_buf());
            at = d.parent();
        }
        Ok(())
    }
}
