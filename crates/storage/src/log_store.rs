//! [`LogStore`]: openraft's `RaftLogStorage`, and [`LogReader`]: its `RaftLogReader`.
//!
//! The store is the caller-facing half; the writer (`writer`, driven by a thread or inline,
//! see [`crate::WriterMode`]) is the disk half. An append is made readable at once
//! (entries go into the in-memory cache before `append` returns, as openraft requires) and
//! acknowledged when the writer's fsync covers it: later in thread mode, before `append`
//! returns in inline mode.
//!
//! Lock order, everywhere: `mem` before the segment table. The writer only ever takes the
//! segment table, and is never called with `mem` held, so readers that hold both cannot
//! deadlock with it.

use std::fmt;
use std::fmt::Debug;
use std::io;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use openraft::entry::RaftEntry;
use openraft::storage::IOFlushed;
use openraft::storage::RaftLogStorage;
use openraft::type_config::alias::LogIdOf;
use openraft::type_config::alias::VoteOf;
use openraft::LogState;
use openraft::OptionalSend;
use openraft::RaftLogReader;
use openraft::RaftTypeConfig;
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::append_sizes::AppendSizes;
use crate::cache::EntryCache;
use crate::config::LogStoreConfig;
use crate::error::Error;
use crate::error::Result;
use crate::fsync_times::FsyncTimes;
use crate::log_codec::{decode_entry, encode_entry, PersistedState};
use crate::record::framed_len;
use crate::recovery::recover;
use crate::vfs::OsVfs;
use crate::vfs::Vfs;
use crate::writer::Command;
use crate::writer::DiskShared;
use crate::writer::EncodedRecord;
use crate::writer::WriterSettings;
use crate::writer_handle::WriterHandle;

/// The log's write positions, as end indexes (one past the last entry in each state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPositions {
    /// Every entry below this index has been written to a segment file.
    pub written_end_index: u64,
    /// Every entry below this index is durable (and was acknowledged).
    pub durable_end_index: u64,
}

/// In-memory view of the log, guarded by `Shared::mem`.
struct Mem<C: RaftTypeConfig> {
    cache: EntryCache<C::Entry>,
    /// Log id of the last entry present (not counting the purge point).
    last_log_id: Option<LogIdOf<C>>,
    /// Index of the first entry present, when `last_log_id` is `Some`. A log that was never
    /// purged may start anywhere (openraft starts at 0 or after an installed snapshot).
    first_present: u64,
    /// Vote, committed and purge point as the store currently sees them.
    state: PersistedState<C>,
}

impl<C: RaftTypeConfig> Mem<C> {
    /// First index that has not been purged.
    fn purged_end(&self) -> u64 {
        self.state
            .purged
            .as_ref()
            .map(|p| p.index() + 1)
            .unwrap_or(0)
    }

    /// First index present, or `end_index()` if the log holds no entry.
    fn start_index(&self) -> u64 {
        match &self.last_log_id {
            Some(_) => self.first_present.max(self.purged_end()),
            None => self.end_index(),
        }
    }

    /// One past the last entry present, or the purge end if there is none.
    fn end_index(&self) -> u64 {
        match &self.last_log_id {
            Some(last) => last.index() + 1,
            None => self.purged_end(),
        }
    }
}

struct Shared<C: RaftTypeConfig> {
    mem: RwLock<Mem<C>>,
    disk: Arc<DiskShared>,
    read_batch_bytes_max: u64,
}

impl<C> Shared<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
    C::Vote: Serialize + DeserializeOwned,
{
    /// Entries `lo..hi`, which the caller has clamped to what exists.
    fn read_locked(&self, mem: &Mem<C>, lo: u64, hi: u64) -> Result<Vec<C::Entry>> {
        if lo >= hi {
            return Ok(Vec::new());
        }
        let split = mem.cache.first_index().unwrap_or(hi).clamp(lo, hi);
        let mut out = Vec::with_capacity(usize::try_from(hi - lo).unwrap_or(0).min(4096));
        if lo < split {
            let table = self.disk.table.read();
            table.read_payloads(lo, split, |index, payload, path, offset| {
                let entry = decode_entry::<C>(payload).map_err(|reason| {
                    Error::corrupt(path, offset, format!("entry {index}: {reason}"))
                })?;
                if entry.index() != index {
                    return Err(Error::corrupt(
                        path,
                        offset,
                        format!(
                            "record holds entry {} where entry {index} belongs",
                            entry.index()
                        ),
                    ));
                }
                out.push(entry);
                Ok(())
            })?;
        }
        for index in split..hi {
            let (entry, _) = mem.cache.get(index).ok_or_else(|| {
                Error::InvalidOperation(format!("log entry {index} is neither cached nor on disk"))
            })?;
            out.push(entry.clone());
        }
        Ok(out)
    }

    /// Clamp a requested range to the entries that exist: `[purged_end, end_index)`.
    fn clamp(mem: &Mem<C>, range: &impl RangeBounds<u64>) -> (u64, u64) {
        let lo = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let hi = match range.end_bound() {
            Bound::Included(x) => x.saturating_add(1),
            Bound::Excluded(x) => *x,
            Bound::Unbounded => u64::MAX,
        };
        (lo.max(mem.start_index()), hi.min(mem.end_index()))
    }

    fn read_range(&self, range: &impl RangeBounds<u64>) -> Result<Vec<C::Entry>> {
        let mem = self.mem.read();
        let (lo, hi) = Self::clamp(&mem, range);
        self.read_locked(&mem, lo, hi)
    }

    /// Like `read_range(start..end)` but stops after about `read_batch_bytes_max` bytes
    /// (always at least one entry when the range is not empty).
    fn read_limited(&self, start: u64, end: u64) -> Result<Vec<C::Entry>> {
        let mem = self.mem.read();
        let (lo, hi) = Self::clamp(&mem, &(start..end));
        let mut cap = lo;
        let mut bytes = 0u64;
        {
            let table = self.disk.table.read();
            while cap < hi {
                let size = match mem.cache.get(cap) {
                    Some((_, size)) => *size,
                    None => table.record_bytes(cap).unwrap_or(0),
                };
                if cap > lo && bytes + size > self.read_batch_bytes_max {
                    break;
                }
                bytes += size;
                cap += 1;
            }
        }
        self.read_locked(&mem, lo, cap)
    }
}

/// A durable Raft log in a directory of segment files. See the crate docs for the format.
pub struct LogStore<C: RaftTypeConfig> {
    shared: Arc<Shared<C>>,
    writer: WriterHandle,
    /// Encoded sizes of the entries appended (a leader's proposal sizes).
    append_sizes: Arc<AppendSizes>,
}

/// A cheap, clone-able read handle sharing the store's cache and files.
pub struct LogReader<C: RaftTypeConfig> {
    shared: Arc<Shared<C>>,
}

impl<C: RaftTypeConfig> Clone for LogReader<C> {
    fn clone(&self) -> Self {
        LogReader {
            shared: self.shared.clone(),
        }
    }
}

impl<C: RaftTypeConfig> fmt::Debug for LogStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogStore")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl<C: RaftTypeConfig> fmt::Debug for LogReader<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogReader").finish_non_exhaustive()
    }
}

impl<C> LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
    C::Vote: Serialize + DeserializeOwned,
{
    /// Open (or create) the log in `config.dir` on the real file system, running recovery.
    pub fn open(config: LogStoreConfig) -> Result<Self> {
        Self::open_with_vfs(config, OsVfs::shared())
    }

    /// Open (or create) the log through `vfs` (a [`crate::FaultVfs`] in tests).
    pub fn open_with_vfs(config: LogStoreConfig, vfs: Arc<dyn Vfs>) -> Result<Self> {
        config.validate()?;
        let recovered = recover::<C>(&config, &vfs)?;
        let disk = Arc::new(DiskShared::new(recovered.table, recovered.end_index));
        let writer = WriterHandle::start(
            config.writer,
            WriterSettings {
                dir: config.dir.clone(),
                prealloc_bytes: config.prealloc_bytes,
                segment_bytes_max: config.segment_bytes_max,
                force_sync: config.force_sync,
                lazy_state_interval: Duration::from_millis(config.committed_persist_interval_ms),
                queue_commands_max: config.writer_queue_commands_max,
            },
            vfs,
            disk.clone(),
        )?;
        let shared = Arc::new(Shared {
            mem: RwLock::new(Mem {
                cache: recovered.cache,
                last_log_id: recovered.last_log_id,
                first_present: recovered.first_present,
                state: recovered.state,
            }),
            disk,
            read_batch_bytes_max: config.read_batch_bytes_max,
        });
        Ok(LogStore {
            shared,
            writer,
            append_sizes: Arc::default(),
        })
    }

    /// The sizes of appended entries, shared: the holder reads and resets them.
    pub fn append_sizes(&self) -> Arc<AppendSizes> {
        self.append_sizes.clone()
    }

    /// The durations of the log's fsyncs, shared: the holder reads them.
    pub fn fsync_times(&self) -> Arc<FsyncTimes> {
        self.shared.disk.fsync_times.clone()
    }

    /// A new read handle.
    pub fn reader(&self) -> LogReader<C> {
        LogReader {
            shared: self.shared.clone(),
        }
    }

    /// The written and durable positions.
    pub fn positions(&self) -> LogPositions {
        LogPositions {
            written_end_index: self.shared.disk.written_end.load(Ordering::SeqCst),
            durable_end_index: self.shared.disk.durable_end.load(Ordering::SeqCst),
        }
    }

    /// `Some(Error::Poisoned)` once a write or fsync has failed.
    pub fn poisoned(&self) -> Option<Error> {
        self.shared.disk.poisoned_error()
    }

    fn check_poison(&self) -> Result<()> {
        match self.shared.disk.poisoned_error() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    async fn barrier(
        &mut self,
        make: impl FnOnce(oneshot::Sender<Result<()>>) -> Command,
    ) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.writer.send(make(tx))?;
        rx.await.map_err(|_| Error::WriterStopped)?
    }

    /// Append `entries`; `ack` is called once they are durable (or failed).
    pub async fn append_entries(
        &mut self,
        entries: Vec<C::Entry>,
        ack: Box<dyn FnOnce(io::Result<()>) + Send>,
    ) -> Result<()> {
        if let Some(err) = self.shared.disk.poisoned_error() {
            ack(Err(io::Error::from(err)));
            return Err(self.poisoned().unwrap_or(Error::WriterStopped));
        }
        let Some(first_index) = entries.first().map(|e| e.index()) else {
            ack(Ok(()));
            return Ok(());
        };
        let mut records = Vec::with_capacity(entries.len());
        for (k, entry) in entries.iter().enumerate() {
            let index = entry.index();
            if index != first_index + k as u64 {
                return Err(Error::InvalidOperation(format!(
                    "append batch is not contiguous: entry {index} at position {k} after {first_index}"
                )));
            }
            let payload = encode_entry::<C>(entry)?;
            self.append_sizes.record(payload.len());
            records.push(EncodedRecord { index, payload });
        }

        let overlaps = {
            let mem = self.shared.mem.read();
            let purged_end = mem.purged_end();
            let has_any = mem.last_log_id.is_some() || mem.state.purged.is_some();
            let end = mem.end_index();
            if first_index < purged_end {
                return Err(Error::InvalidOperation(format!(
                    "cannot append entry {first_index}: entries up to {} are purged",
                    purged_end - 1
                )));
            }
            if has_any && first_index > end {
                return Err(Error::InvalidOperation(format!(
                    "append would leave a hole: the log ends before {end}, the batch starts at {first_index}"
                )));
            }
            has_any && first_index < end
        };
        if overlaps {
            // openraft truncates before appending over a conflict; this keeps the store
            // correct for callers that overwrite directly (openraft's test suite does).
            self.truncate_from(first_index, None).await?;
        }

        {
            let mut mem = self.shared.mem.write();
            if mem.last_log_id.is_none() {
                mem.first_present = first_index;
            }
            for (entry, record) in entries.into_iter().zip(&records) {
                mem.last_log_id = Some(entry.log_id());
                mem.cache
                    .push(record.index, entry, framed_len(record.payload.len()) as u64);
            }
            let written_end = self.shared.disk.written_end.load(Ordering::SeqCst);
            mem.cache.evict(written_end);
        }
        self.writer.send(Command::Append { records, ack })
    }

    /// Remove entries `>= index`. `new_last` is the log id of `index - 1` if the caller
    /// knows it.
    async fn truncate_from(&mut self, index: u64, new_last: Option<LogIdOf<C>>) -> Result<()> {
        self.check_poison()?;
        {
            let mut mem = self.shared.mem.write();
            if index < mem.purged_end() {
                return Err(Error::InvalidOperation(format!(
                    "cannot truncate from {index}: entries up to {} are purged",
                    mem.purged_end() - 1
                )));
            }
            if index >= mem.end_index() {
                return Ok(());
            }
            mem.cache.truncate_from(index);
            mem.last_log_id = if index == mem.purged_end() {
                None
            } else if let Some(last) = new_last {
                Some(last)
            } else if let Some(last) = mem.cache.last() {
                Some(last.log_id())
            } else {
                let prev = self.shared.read_locked(&mem, index - 1, index)?;
                prev.last().map(|e| e.log_id())
            };
        }
        self.barrier(|reply| Command::TruncateFrom { index, reply })
            .await
    }

    async fn purge_upto(&mut self, log_id: LogIdOf<C>) -> Result<()> {
        self.check_poison()?;
        let state = {
            let mut mem = self.shared.mem.write();
            if mem
                .state
                .purged
                .as_ref()
                .is_some_and(|p| p.index() >= log_id.index())
            {
                return Ok(());
            }
            mem.cache.drop_below(log_id.index() + 1);
            if mem
                .last_log_id
                .as_ref()
                .is_some_and(|l| l.index() <= log_id.index())
            {
                mem.last_log_id = None;
            }
            mem.state.purged = Some(log_id.clone());
            mem.state.encode()?
        };
        let upto_index = log_id.index();
        self.barrier(|reply| Command::Purge {
            upto_index,
            state,
            reply,
        })
        .await
    }

    async fn save_vote_inner(&mut self, vote: &VoteOf<C>) -> Result<()> {
        self.check_poison()?;
        let state = {
            let mem = self.shared.mem.read();
            let mut state = mem.state.clone();
            state.vote = Some(vote.clone());
            state.encode()?
        };
        self.barrier(|reply| Command::SaveState { state, reply })
            .await?;
        self.shared.mem.write().state.vote = Some(vote.clone());
        Ok(())
    }

    fn save_committed_inner(&mut self, committed: Option<LogIdOf<C>>) -> Result<()> {
        self.check_poison()?;
        let state = {
            let mut mem = self.shared.mem.write();
            mem.state.committed = committed;
            mem.state.encode()?
        };
        self.writer.send(Command::SaveStateLazy { state })
    }
}

impl<C> RaftLogReader<C> for LogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
    C::Vote: Serialize + DeserializeOwned,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<C::Entry>> {
        Ok(self.shared.read_range(&range)?)
    }

    async fn read_vote(&mut self) -> io::Result<Option<VoteOf<C>>> {
        Ok(self.shared.mem.read().state.vote.clone())
    }

    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> io::Result<Vec<C::Entry>> {
        Ok(self.shared.read_limited(start, end)?)
    }
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
    C::Vote: Serialize + DeserializeOwned,
{
    type LogReader = LogReader<C>;

    async fn get_log_state(&mut self) -> io::Result<LogState<C>> {
        let mem = self.shared.mem.read();
        let last_purged_log_id = mem.state.purged.clone();
        let last_log_id = mem
            .last_log_id
            .clone()
            .or_else(|| last_purged_log_id.clone());
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> io::Result<()> {
        Ok(self.save_vote_inner(vote).await?)
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> io::Result<()> {
        Ok(self.save_committed_inner(committed)?)
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogIdOf<C>>> {
        Ok(self.shared.mem.read().state.committed.clone())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> io::Result<()>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        let ack = Box::new(move |result: io::Result<()>| callback.io_completed(result));
        Ok(self.append_entries(entries, ack).await?)
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> io::Result<()> {
        let index = last_log_id.as_ref().map(|l| l.index() + 1).unwrap_or(0);
        Ok(self.truncate_from(index, last_log_id).await?)
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> io::Result<()> {
        Ok(self.purge_upto(log_id).await?)
    }
}
