//! The log writer: the only code that changes log files (group commit, rollover, truncate,
//! purge, state saves), whichever way it is driven.
//!
//! [`Writer`] executes [`Command`]s strictly in order, which is what openraft requires ("all
//! write-IO must be serialized"). Two drivers share it, selected by
//! [`crate::WriterMode`]: `writer_thread` (a dedicated std thread doing group commit,
//! the production mode) and `writer_inline` (each command executed at once in the calling
//! task, for deterministic simulation). Keeping the logic here, once, is what guarantees both
//! modes leave the same bytes on disk and poison the same way.
//!
//! **Group commit.** A driver hands the writer one or more commands ([`Writer::handle`]) and
//! then ends the group ([`Writer::sync_and_ack`]): every appended record is written, then one
//! fdatasync per file touched (normally exactly one) covers all of them, and only then are the
//! appends' `IOFlushed` callbacks called. Barrier commands (truncate, purge, state save) first
//! complete the group in progress, so the state file never names a committed entry that is
//! not durable, and a truncation never races an unsynced write.
//!
//! **Positions.** [`DiskShared::written_end`] (everything below it has been written to its
//! segment, readable through the page cache) and [`DiskShared::durable_end`] (everything
//! below it survived an fsync, or was written when `force_sync` is off) are kept apart, as
//! in neon's safekeeper. The cache may only evict below `written_end`.
//!
//! **Poisoning.** A failed fsync cannot be retried: Linux may already have dropped the dirty
//! pages and cleared the error (PostgreSQL's "fsyncgate"). After any failed write or fsync
//! the writer poisons the shared state: every pending and later callback gets an error, and
//! nothing is acknowledged again until the process restarts and recovers from disk.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use parking_lot::Mutex;
use parking_lot::RwLock;
use tokio::sync::oneshot;

use crate::error::Error;
use crate::error::Result;
use crate::fsync_times::FsyncTimes;
use crate::record::encode_record;
use crate::record::framed_len;
use crate::record::RECORD_BYTES_MAX;
use crate::segment::encode_header;
use crate::segment::segment_file_name;
use crate::segment::SEGMENT_FILE_BYTES_MAX;
use crate::segment::SEGMENT_HEADER_BYTES;
use crate::segment_table::Segment;
use crate::segment_table::SegmentTable;
use crate::state_file::encode_state_file;
use crate::state_file::STATE_FILE_NAME;
use crate::vfs::atomic_write;
use crate::vfs::remove_if_exists;
use crate::vfs::write_all_at;
use crate::vfs::OpenMode;
use crate::vfs::Vfs;
use crate::vfs::VfsFile;

/// Encoded records are buffered up to this size before a `write` syscall.
const WRITE_BUFFER_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Called once with the outcome of an append: `Ok` only after it is durable.
pub(crate) type AckFn = Box<dyn FnOnce(io::Result<()>) + Send>;
/// Reply channel of a barrier command.
pub(crate) type Reply = oneshot::Sender<Result<()>>;

/// One entry, already encoded by the caller.
pub(crate) struct EncodedRecord {
    pub(crate) index: u64,
    pub(crate) payload: Vec<u8>,
}

/// Work for the writer, executed in order.
pub(crate) enum Command {
    /// Append records (contiguous, continuing the log or starting after a purged prefix).
    Append {
        records: Vec<EncodedRecord>,
        ack: AckFn,
    },
    /// Remove every entry with index `>= index`.
    TruncateFrom { index: u64, reply: Reply },
    /// Persist `state` (which names the new purge point), then delete segments whose
    /// entries are all `<= upto_index`.
    Purge {
        upto_index: u64,
        state: Vec<u8>,
        reply: Reply,
    },
    /// Persist `state` now (vote changes).
    SaveState { state: Vec<u8>, reply: Reply },
    /// Persist `state` within the lazy interval (committed log id).
    SaveStateLazy { state: Vec<u8> },
}

/// State shared by the writer, the store and its readers.
#[derive(Debug, Default)]
pub(crate) struct DiskShared {
    /// Where each written entry lives.
    pub(crate) table: RwLock<SegmentTable>,
    /// Every entry with index below this has been written to its segment file.
    pub(crate) written_end: AtomicU64,
    /// Every entry with index below this is durable (and acknowledged).
    pub(crate) durable_end: AtomicU64,
    poisoned: AtomicBool,
    poison_cause: Mutex<Option<String>>,
    /// Durations of the group commits' fsyncs (the operator's `fsynctime`).
    pub(crate) fsync_times: Arc<FsyncTimes>,
}

impl DiskShared {
    pub(crate) fn new(table: SegmentTable, end_index: u64) -> Self {
        DiskShared {
            table: RwLock::new(table),
            written_end: AtomicU64::new(end_index),
            durable_end: AtomicU64::new(end_index),
            poisoned: AtomicBool::new(false),
            poison_cause: Mutex::new(None),
            fsync_times: Arc::default(),
        }
    }

    /// `Some(Error::Poisoned)` once poisoned.
    pub(crate) fn poisoned_error(&self) -> Option<Error> {
        if !self.poisoned.load(Ordering::SeqCst) {
            return None;
        }
        let cause = self.poison_cause.lock().clone().unwrap_or_default();
        Some(Error::Poisoned { cause })
    }

    fn poison(&self, cause: &Error) {
        let mut slot = self.poison_cause.lock();
        if slot.is_none() {
            tracing::error!(error = %cause, "log storage poisoned: no further writes will be acknowledged");
            *slot = Some(cause.to_string());
        }
        self.poisoned.store(true, Ordering::SeqCst);
    }
}

/// Settings the writer needs from the store configuration.
#[derive(Clone, Debug)]
pub(crate) struct WriterSettings {
    pub(crate) dir: PathBuf,
    pub(crate) prealloc_bytes: u64,
    pub(crate) segment_bytes_max: u64,
    pub(crate) force_sync: bool,
    /// How long `save_committed` may wait (thread mode; inline mode saves at once).
    pub(crate) lazy_state_interval: Duration,
    /// Commands the thread's queue holds before `send` blocks (thread mode only).
    pub(crate) queue_commands_max: usize,
}

/// The disk half of a log store; see the module docs. Driven by exactly one driver.
pub(crate) struct Writer {
    settings: WriterSettings,
    vfs: Arc<dyn Vfs>,
    shared: Arc<DiskShared>,
    /// Encoded records for the last segment not yet written, starting at `buf_offset`.
    buf: Vec<u8>,
    buf_offset: u64,
    buf_first_index: u64,
    /// File offset of each record in `buf`.
    buf_offsets: Vec<u32>,
    /// Files written since the last fsync.
    dirty: Vec<(Arc<dyn VfsFile>, PathBuf)>,
    /// Appends waiting for the next fsync.
    acks: Vec<AckFn>,
    /// State image from `save_committed` not yet persisted, and when it is due.
    lazy_state: Option<(Vec<u8>, Instant)>,
}

impl Writer {
    pub(crate) fn new(
        settings: WriterSettings,
        vfs: Arc<dyn Vfs>,
        shared: Arc<DiskShared>,
    ) -> Self {
        Writer {
            settings,
            vfs,
            shared,
            buf: Vec::new(),
            buf_offset: 0,
            buf_first_index: 0,
            buf_offsets: Vec::new(),
            dirty: Vec::new(),
            acks: Vec::new(),
            lazy_state: None,
        }
    }

    /// Add `cmd` to the group in progress. Appends are written (maybe only buffered) and
    /// acknowledged by the next [`Writer::sync_and_ack`]; barriers complete at once. A lazy
    /// state save is only remembered, with its deadline ([`Writer::lazy_state_due`]).
    pub(crate) fn handle(&mut self, cmd: Command) {
        if let Some(err) = self.shared.poisoned_error() {
            reject(cmd, err);
            return;
        }
        match cmd {
            Command::Append { records, ack } => {
                for record in records {
                    if let Err(e) = self.append_record(record.index, &record.payload) {
                        self.fail(&e);
                        ack(Err(io::Error::from(self.poisoned())));
                        return;
                    }
                }
                self.acks.push(ack);
            }
            Command::TruncateFrom { index, reply } => {
                let result = self.barrier(|w| w.truncate_from(index));
                reply.send(result).ok();
            }
            Command::Purge {
                upto_index,
                state,
                reply,
            } => {
                let result = self.barrier(|w| {
                    w.lazy_state = None;
                    w.write_state(&state)?;
                    w.purge_segments(upto_index);
                    Ok(())
                });
                reply.send(result).ok();
            }
            Command::SaveState { state, reply } => {
                let result = self.barrier(|w| {
                    w.lazy_state = None;
                    w.write_state(&state)
                });
                reply.send(result).ok();
            }
            Command::SaveStateLazy { state } => {
                let due = match &self.lazy_state {
                    Some((_, due)) => *due,
                    None => Instant::now() + self.settings.lazy_state_interval,
                };
                self.lazy_state = Some((state, due));
            }
        }
    }

    /// Complete the group in progress, then run `op`; any failure poisons.
    fn barrier(&mut self, op: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        self.sync_and_ack();
        if let Some(err) = self.shared.poisoned_error() {
            return Err(err);
        }
        match op(self) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    fn poisoned(&self) -> Error {
        self.shared.poisoned_error().unwrap_or(Error::Poisoned {
            cause: "unknown".into(),
        })
    }

    /// Poison the store and fail every append waiting for an fsync.
    fn fail(&mut self, cause: &Error) {
        self.shared.poison(cause);
        self.buf.clear();
        self.buf_offsets.clear();
        for ack in self.acks.drain(..) {
            ack(Err(io::Error::from(Error::Poisoned {
                cause: cause.to_string(),
            })));
        }
    }

    /// Where the next record goes: (next index, next byte offset, records in the segment),
    /// or `None` if there is no segment.
    fn tail(&self) -> Option<(u64, u64, usize)> {
        let table = self.shared.table.read();
        let last = table.segments.last()?;
        if self.buf_offsets.is_empty() {
            Some((last.end_index(), last.data_end, last.offsets.len()))
        } else {
            Some((
                self.buf_first_index + self.buf_offsets.len() as u64,
                self.buf_offset + self.buf.len() as u64,
                last.offsets.len() + self.buf_offsets.len(),
            ))
        }
    }

    fn append_record(&mut self, index: u64, payload: &[u8]) -> Result<()> {
        let record_bytes = framed_len(payload.len()) as u64;
        let (next_offset, _) = loop {
            match self.tail() {
                Some((next_index, next_offset, records))
                    if next_index == index
                        && (records == 0
                            || next_offset + record_bytes <= self.settings.segment_bytes_max) =>
                {
                    break (next_offset, records);
                }
                Some((next_index, _, _)) if index < next_index => {
                    return Err(Error::InvalidOperation(format!(
                        "writer asked to append entry {index} but the log already ends at {next_index}"
                    )));
                }
                // No segment yet, a gap after a purge, or the segment is full: roll over.
                _ => {
                    self.flush_buf()?;
                    self.sync_last_segment()?;
                    self.create_segment(index)?;
                }
            }
        };
        if next_offset + record_bytes > SEGMENT_FILE_BYTES_MAX {
            return Err(Error::InvalidOperation(format!(
                "segment would exceed {SEGMENT_FILE_BYTES_MAX} bytes"
            )));
        }
        if self.buf.is_empty() {
            self.buf_offset = next_offset;
            self.buf_first_index = index;
        }
        self.buf_offsets.push(next_offset as u32);
        encode_record(payload, RECORD_BYTES_MAX, &mut self.buf).map_err(|e| Error::Encode {
            what: "log record",
            reason: e.to_string(),
        })?;
        if self.buf.len() >= WRITE_BUFFER_BYTES_MAX {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// Write the buffered records to the last segment and publish their offsets.
    fn flush_buf(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let (file, path, file_len) = {
            let table = self.shared.table.read();
            let last = table
                .segments
                .last()
                .ok_or_else(|| Error::InvalidOperation("buffered records but no segment".into()))?;
            (last.file.clone(), last.path.clone(), last.file_len)
        };
        let end = self.buf_offset + self.buf.len() as u64;
        let mut new_len = file_len;
        if end > file_len {
            let prealloc = self.settings.prealloc_bytes;
            let chunks = (end - file_len).div_ceil(prealloc);
            new_len = (file_len + chunks * prealloc).min(self.settings.segment_bytes_max.max(end));
            file.set_len_bytes(new_len)
                .map_err(|e| Error::io("preallocate", &path, e))?;
        }
        write_all_at(&*file, &self.buf, self.buf_offset)
            .map_err(|e| Error::io("write", &path, e))?;
        {
            let mut table = self.shared.table.write();
            if let Some(last) = table.segments.last_mut() {
                last.offsets.append(&mut self.buf_offsets);
                last.data_end = end;
                last.file_len = new_len;
                self.shared
                    .written_end
                    .store(last.end_index(), Ordering::SeqCst);
            }
        }
        self.buf.clear();
        self.buf_offsets.clear();
        self.mark_dirty(file, path);
        Ok(())
    }

    /// fsync the last segment before a newer one exists, even with `force_sync` off:
    /// recovery accepts a torn tail only in the last segment, so every earlier segment must
    /// be complete on disk before a crash can leave a later one behind.
    fn sync_last_segment(&mut self) -> Result<()> {
        let last = {
            let table = self.shared.table.read();
            table
                .segments
                .last()
                .map(|s| (s.file.clone(), s.path.clone()))
        };
        if let Some((file, path)) = last {
            file.sync_data().map_err(|e| Error::io("fsync", &path, e))?;
            self.dirty.retain(|(f, _)| !Arc::ptr_eq(f, &file));
        }
        Ok(())
    }

    fn mark_dirty(&mut self, file: Arc<dyn VfsFile>, path: PathBuf) {
        if !self.dirty.iter().any(|(f, _)| Arc::ptr_eq(f, &file)) {
            self.dirty.push((file, path));
        }
    }

    /// Create `log-<first_index>.seg` crash-safely (temp name, header, preallocate, fsync,
    /// rename, directory fsync) and make it the last segment.
    fn create_segment(&mut self, first_index: u64) -> Result<()> {
        let name = segment_file_name(first_index);
        let path = self.settings.dir.join(&name);
        let tmp = self.settings.dir.join(format!("{name}.tmp"));
        remove_if_exists(&*self.vfs, &tmp)?;
        let file = self
            .vfs
            .open(&tmp, OpenMode::CreateNew)
            .map_err(|e| Error::io("create", &tmp, e))?;
        write_all_at(&*file, &encode_header(first_index), 0)
            .map_err(|e| Error::io("write", &tmp, e))?;
        let file_len = self
            .settings
            .prealloc_bytes
            .max(SEGMENT_HEADER_BYTES as u64);
        file.set_len_bytes(file_len)
            .map_err(|e| Error::io("preallocate", &tmp, e))?;
        file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        self.vfs
            .rename(&tmp, &path)
            .map_err(|e| Error::io("rename", &path, e))?;
        self.vfs
            .sync_dir(&self.settings.dir)
            .map_err(|e| Error::io("fsync directory", &self.settings.dir, e))?;
        self.shared.table.write().segments.push(Segment {
            first_index,
            path,
            file,
            offsets: Vec::new(),
            data_end: SEGMENT_HEADER_BYTES as u64,
            file_len,
        });
        Ok(())
    }

    /// End the group: write what is buffered, fsync every touched file once, then
    /// acknowledge. On failure, poison and fail the acknowledgements instead.
    pub(crate) fn sync_and_ack(&mut self) {
        if self.shared.poisoned_error().is_some() {
            let err = self.poisoned();
            self.fail(&err);
            return;
        }
        if let Err(e) = self.flush_buf() {
            self.fail(&e);
            return;
        }
        if self.acks.is_empty() && self.dirty.is_empty() {
            return;
        }
        if self.settings.force_sync && !self.dirty.is_empty() {
            let started = Instant::now();
            for (file, path) in &self.dirty {
                if let Err(e) = file.sync_data() {
                    let err = Error::io("fsync", path, e);
                    self.fail(&err);
                    return;
                }
            }
            self.shared.fsync_times.record(started.elapsed());
        }
        self.dirty.clear();
        self.shared.durable_end.store(
            self.shared.written_end.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        for ack in self.acks.drain(..) {
            ack(Ok(()));
        }
    }

    fn write_state(&mut self, state: &[u8]) -> Result<()> {
        atomic_write(
            &*self.vfs,
            &self.settings.dir,
            STATE_FILE_NAME,
            &encode_state_file(state),
        )
    }

    /// When the remembered lazy state save is due, if there is one.
    pub(crate) fn lazy_state_due(&self) -> Option<Instant> {
        self.lazy_state.as_ref().map(|(_, due)| *due)
    }

    /// Persist the remembered lazy state save now, if there is one.
    pub(crate) fn persist_lazy_state(&mut self) {
        if let Some((state, _)) = self.lazy_state.take() {
            self.save_state_unacknowledged(&state);
        }
    }

    /// Persist `state` at once as a barrier, for a caller that waits for no reply (the
    /// lazy `save_committed`): a failure poisons the store and is logged; a store already
    /// poisoned drops it silently, as [`Writer::handle`] does.
    pub(crate) fn save_state_unacknowledged(&mut self, state: &[u8]) {
        if self.shared.poisoned_error().is_some() {
            return;
        }
        let result = self.barrier(|w| {
            w.lazy_state = None;
            w.write_state(state)
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "could not persist the committed log id");
        }
    }

    /// Complete everything before the writer goes away: the group in progress and any lazy
    /// state save.
    pub(crate) fn shutdown(&mut self) {
        self.sync_and_ack();
        self.persist_lazy_state();
    }

    /// Remove entries `>= index`: whole segments from the newest backwards, each removal
    /// made durable before the next (so a crash never leaves a hole), then the tail of the
    /// segment that keeps a prefix.
    fn truncate_from(&mut self, index: u64) -> Result<()> {
        let mut table = self.shared.table.write();
        while let Some(last) = table.segments.last() {
            if last.first_index < index {
                break;
            }
            self.vfs
                .remove(&last.path)
                .map_err(|e| Error::io("remove", &last.path, e))?;
            self.vfs
                .sync_dir(&self.settings.dir)
                .map_err(|e| Error::io("fsync directory", &self.settings.dir, e))?;
            table.segments.pop();
        }
        if let Some(last) = table.segments.last_mut() {
            if last.end_index() > index {
                let keep = usize::try_from(index - last.first_index).unwrap_or(usize::MAX);
                let cut = last
                    .offsets
                    .get(keep)
                    .copied()
                    .map(u64::from)
                    .ok_or_else(|| {
                        Error::InvalidOperation(format!(
                            "no offset for entry {index} in {}",
                            last.path.display()
                        ))
                    })?;
                // Cut, then re-extend: the bytes after the cut read back as zeros, so
                // recovery sees end-of-data there, never the old records.
                last.file
                    .set_len_bytes(cut)
                    .map_err(|e| Error::io("truncate", &last.path, e))?;
                last.file
                    .set_len_bytes(last.file_len.max(cut))
                    .map_err(|e| Error::io("preallocate", &last.path, e))?;
                last.file
                    .sync_all()
                    .map_err(|e| Error::io("fsync", &last.path, e))?;
                last.offsets.truncate(keep);
                last.data_end = cut;
            }
        }
        drop(table);
        self.shared.written_end.fetch_min(index, Ordering::SeqCst);
        self.shared.durable_end.fetch_min(index, Ordering::SeqCst);
        Ok(())
    }

    /// Delete segments whose entries are all `<= upto_index`, oldest first (a crash leaves
    /// a contiguous suffix). Failures only cost disk space: recovery deletes dead segments.
    fn purge_segments(&mut self, upto_index: u64) {
        let purged_end = upto_index.saturating_add(1);
        let mut table = self.shared.table.write();
        let count = table.segments.len();
        let mut dead = 0;
        for (i, seg) in table.segments.iter().enumerate() {
            let is_last = i + 1 == count;
            let keep_empty_tail =
                is_last && seg.offsets.is_empty() && seg.first_index == purged_end;
            if seg.end_index() <= purged_end && !keep_empty_tail {
                dead = i + 1;
            } else {
                break;
            }
        }
        let removed: Vec<Segment> = table.segments.drain(..dead).collect();
        drop(table);
        for seg in &removed {
            if let Err(e) = self.vfs.remove(&seg.path) {
                tracing::warn!(file = %seg.path.display(), error = %e, "could not remove purged log segment");
            }
        }
        if !removed.is_empty() {
            if let Err(e) = self.vfs.sync_dir(&self.settings.dir) {
                tracing::warn!(error = %e, "could not fsync the log directory after purging");
            }
        }
    }
}

/// Answer a command without doing it.
fn reject(cmd: Command, err: Error) {
    match cmd {
        Command::Append { ack, .. } => ack(Err(io::Error::from(err))),
        Command::TruncateFrom { reply, .. }
        | Command::Purge { reply, .. }
        | Command::SaveState { reply, .. } => {
            reply.send(Err(err)).ok();
        }
        Command::SaveStateLazy { .. } => {}
    }
}
