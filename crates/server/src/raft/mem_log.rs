//! An in-memory raft log store. It keeps everything in a `BTreeMap` and acknowledges appends at
//! once; it is the log of the kernel until the durable store takes over, and of tests.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::Arc;

use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{OptionalSend, RaftTypeConfig};
use parking_lot::Mutex;

use super::types::TypeConfig;

type C = TypeConfig;
type LogIdOf = openraft::type_config::alias::LogIdOf<C>;
type VoteOf = <C as RaftTypeConfig>::Vote;
type EntryOf = <C as RaftTypeConfig>::Entry;

#[derive(Default)]
struct Inner {
    log: BTreeMap<u64, EntryOf>,
    vote: Option<VoteOf>,
    committed: Option<LogIdOf>,
    last_purged: Option<LogIdOf>,
}

/// Cheap to clone: clones share the log (the reader is a clone).
#[derive(Clone, Default)]
pub struct MemLogStore {
    inner: Arc<Mutex<Inner>>,
}

impl RaftLogReader<C> for MemLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<EntryOf>, io::Error> {
        let inner = self.inner.lock();
        Ok(inner.log.range(range).map(|(_, e)| e.clone()).collect())
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf>, io::Error> {
        Ok(self.inner.lock().vote)
    }
}

impl RaftLogStorage<C> for MemLogStore {
    type LogReader = MemLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let inner = self.inner.lock();
        let last = inner.log.values().next_back().map(|e| e.log_id);
        Ok(LogState {
            last_purged_log_id: inner.last_purged,
            last_log_id: last.or(inner.last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf) -> Result<(), io::Error> {
        self.inner.lock().vote = Some(*vote);
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf>) -> Result<(), io::Error> {
        self.inner.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf>, io::Error> {
        Ok(self.inner.lock().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = EntryOf> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        {
            let mut inner = self.inner.lock();
            for entry in entries {
                inner.log.insert(entry.log_id.index, entry);
            }
        }
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf>) -> Result<(), io::Error> {
        let mut inner = self.inner.lock();
        let keep_through = last_log_id.map(|id| id.index);
        let doomed: Vec<u64> = match keep_through {
            Some(index) => inner.log.range(index + 1..).map(|(i, _)| *i).collect(),
            None => inner.log.keys().copied().collect(),
        };
        for index in doomed {
            inner.log.remove(&index);
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf) -> Result<(), io::Error> {
        let mut inner = self.inner.lock();
        let doomed: Vec<u64> = inner.log.range(..=log_id.index).map(|(i, _)| *i).collect();
        for index in doomed {
            inner.log.remove(&index);
        }
        inner.last_purged = Some(log_id);
        Ok(())
    }
}
