//! A [`Vfs`] wrapper that injects the failures real disks produce.
//!
//! Tests (here and in the simulation/crash layers) wrap a real [`Vfs`] and flip switches on
//! the shared [`Faults`] handle:
//!
//! * **short writes** — `write_at` writes only part of the buffer (callers must loop);
//! * **torn writes** — after a byte budget is spent, a write stores a prefix and fails;
//! * **fsync errors** — `sync_data` / `sync_all` fail (the store must poison itself);
//! * **bit flips** — a chosen byte of a chosen file reads back with some bits flipped;
//! * **slow fsyncs** — each sync sleeps, so concurrent appends pile up into one group;
//!
//! and it counts file fsyncs, so group commit can be observed.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::vfs::OpenMode;
use crate::vfs::Vfs;
use crate::vfs::VfsFile;

/// One bit flip applied to reads of matching files.
#[derive(Clone, Debug)]
struct BitFlip {
    /// Applies to files whose name contains this text.
    name_contains: String,
    /// Byte offset in the file.
    offset: u64,
    /// XOR mask applied to that byte.
    mask: u8,
}

/// The switches and counters shared by a [`FaultVfs`] and all files opened through it.
#[derive(Default)]
pub struct Faults {
    fail_syncs: AtomicBool,
    short_writes: AtomicBool,
    /// `u64::MAX` means "no limit".
    write_budget_bytes: AtomicU64,
    sync_delay_ms: AtomicU64,
    file_sync_count: AtomicU64,
    dir_sync_count: AtomicU64,
    flips: Mutex<Vec<BitFlip>>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("fail_syncs", &self.fail_syncs.load(Ordering::Relaxed))
            .field("short_writes", &self.short_writes.load(Ordering::Relaxed))
            .field(
                "file_sync_count",
                &self.file_sync_count.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Faults {
    fn new() -> Self {
        let faults = Faults::default();
        faults.write_budget_bytes.store(u64::MAX, Ordering::SeqCst);
        faults
    }

    /// While set, every file and directory fsync fails with an I/O error.
    pub fn set_fail_syncs(&self, fail: bool) {
        self.fail_syncs.store(fail, Ordering::SeqCst);
    }

    /// While set, every `write_at` writes at most half of its buffer (at least one byte).
    pub fn set_short_writes(&self, short: bool) {
        self.short_writes.store(short, Ordering::SeqCst);
    }

    /// After `bytes` more bytes have been written, writes store only what fits in the budget
    /// and then fail: a torn write followed by an I/O error. `None` removes the limit.
    pub fn set_write_budget_bytes(&self, bytes: Option<u64>) {
        self.write_budget_bytes
            .store(bytes.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Each fsync sleeps this long first (to let appends queue up behind it).
    pub fn set_sync_delay_ms(&self, delay_ms: u64) {
        self.sync_delay_ms.store(delay_ms, Ordering::SeqCst);
    }

    /// Reads of files whose name contains `name_contains` see byte `offset` XOR `mask`.
    pub fn flip_on_read(&self, name_contains: &str, offset: u64, mask: u8) {
        self.flips.lock().push(BitFlip {
            name_contains: name_contains.to_string(),
            offset,
            mask,
        });
    }

    /// Remove every bit flip.
    pub fn clear_flips(&self) {
        self.flips.lock().clear();
    }

    /// Number of successful and failed file fsyncs (`sync_data` + `sync_all`) so far.
    pub fn file_sync_count(&self) -> u64 {
        self.file_sync_count.load(Ordering::SeqCst)
    }

    /// Number of directory fsyncs so far.
    pub fn dir_sync_count(&self) -> u64 {
        self.dir_sync_count.load(Ordering::SeqCst)
    }

    fn sync_fault(&self) -> io::Result<()> {
        let delay_ms = self.sync_delay_ms.load(Ordering::SeqCst);
        if delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        if self.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        Ok(())
    }
}

/// A [`Vfs`] that forwards to an inner one, with faults from a shared [`Faults`].
#[derive(Debug, Clone)]
pub struct FaultVfs {
    inner: Arc<dyn Vfs>,
    faults: Arc<Faults>,
}

impl FaultVfs {
    /// Wrap `inner` with no faults switched on.
    pub fn new(inner: Arc<dyn Vfs>) -> Self {
        FaultVfs {
            inner,
            faults: Arc::new(Faults::new()),
        }
    }

    /// The switches and counters.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }
}

struct FaultFile {
    inner: Arc<dyn VfsFile>,
    name: String,
    faults: Arc<Faults>,
}

impl fmt::Debug for FaultFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultFile")
            .field("name", &self.name)
            .finish()
    }
}

impl VfsFile for FaultFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let n = self.inner.read_at(buf, offset)?;
        let flips = self.faults.flips.lock();
        for flip in flips.iter() {
            if !self.name.contains(&flip.name_contains) {
                continue;
            }
            if flip.offset >= offset && flip.offset < offset + n as u64 {
                let at = (flip.offset - offset) as usize;
                if let Some(byte) = buf.get_mut(at) {
                    *byte ^= flip.mask;
                }
            }
        }
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let mut len = buf.len();
        if self.faults.short_writes.load(Ordering::SeqCst) && len > 1 {
            len /= 2;
        }
        let budget = self.faults.write_budget_bytes.load(Ordering::SeqCst);
        if budget != u64::MAX {
            if budget == 0 {
                return Err(io::Error::other("injected write failure"));
            }
            len = len.min(usize::try_from(budget).unwrap_or(usize::MAX));
        }
        let n = self.inner.write_at(buf.get(..len).unwrap_or(buf), offset)?;
        if budget != u64::MAX {
            self.faults
                .write_budget_bytes
                .store(budget.saturating_sub(n as u64), Ordering::SeqCst);
        }
        Ok(n)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.faults.file_sync_count.fetch_add(1, Ordering::SeqCst);
        self.faults.sync_fault()?;
        self.inner.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.faults.file_sync_count.fetch_add(1, Ordering::SeqCst);
        self.faults.sync_fault()?;
        self.inner.sync_all()
    }

    fn len_bytes(&self) -> io::Result<u64> {
        self.inner.len_bytes()
    }

    fn set_len_bytes(&self, len: u64) -> io::Result<()> {
        self.inner.set_len_bytes(len)
    }
}

impl Vfs for FaultVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let inner = self.inner.open(path, mode)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Arc::new(FaultFile {
            inner,
            name,
            faults: self.faults.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.dir_sync_count.fetch_add(1, Ordering::SeqCst);
        self.faults.sync_fault()?;
        self.inner.sync_dir(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
}

/// Convenience: a [`FaultVfs`] over the real file system.
pub fn over_os() -> FaultVfs {
    FaultVfs::new(crate::vfs::OsVfs::shared())
}
