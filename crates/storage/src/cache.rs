//! The in-memory suffix of the log, bounded by bytes.
//!
//! openraft reads recent entries constantly (replication to followers, apply to the state
//! machine); keeping them decoded avoids a disk read and a decode per entry. The cache is
//! always a contiguous run `first_index..=last` ending at the last appended entry, because
//! entries appended but not yet written by the writer thread can only be read from here:
//! eviction therefore only drops entries below the writer's `written` position.

use std::collections::VecDeque;

/// A contiguous run of entries with their encoded sizes.
#[derive(Debug)]
pub(crate) struct EntryCache<E> {
    /// Index of `entries[0]`.
    first_index: u64,
    /// The entries and the byte size each was counted with.
    entries: VecDeque<(E, u64)>,
    /// Sum of the sizes.
    bytes: u64,
    /// Soft bound on `bytes` (unwritten entries may exceed it).
    bytes_max: u64,
}

impl<E> EntryCache<E> {
    pub(crate) fn new(bytes_max: u64) -> Self {
        EntryCache {
            first_index: 0,
            entries: VecDeque::new(),
            bytes: 0,
            bytes_max,
        }
    }

    /// First cached index, if any entry is cached.
    pub(crate) fn first_index(&self) -> Option<u64> {
        (!self.entries.is_empty()).then_some(self.first_index)
    }

    /// One past the last cached index, if any entry is cached.
    pub(crate) fn end_index(&self) -> Option<u64> {
        (!self.entries.is_empty()).then(|| self.first_index + self.entries.len() as u64)
    }

    pub(crate) fn get(&self, index: u64) -> Option<&(E, u64)> {
        let at = index.checked_sub(self.first_index)?;
        self.entries.get(usize::try_from(at).ok()?)
    }

    pub(crate) fn last(&self) -> Option<&E> {
        self.entries.back().map(|(e, _)| e)
    }

    /// Append `entry` at `index`. If `index` does not continue the run, the run is dropped
    /// first (the caller guarantees everything before `index` is on disk or purged).
    pub(crate) fn push(&mut self, index: u64, entry: E, bytes: u64) {
        if self.end_index() != Some(index) {
            self.clear();
            self.first_index = index;
        }
        self.entries.push_back((entry, bytes));
        self.bytes += bytes;
    }

    /// Drop entries with index `>= index`.
    pub(crate) fn truncate_from(&mut self, index: u64) {
        while self.end_index().is_some_and(|end| end > index) {
            if let Some((_, b)) = self.entries.pop_back() {
                self.bytes -= b;
            }
        }
    }

    /// Drop entries with index `< index`.
    pub(crate) fn drop_below(&mut self, index: u64) {
        while self.first_index().is_some_and(|first| first < index) {
            self.pop_front();
        }
    }

    /// Evict oldest entries while over budget, but only those below `written_end`.
    pub(crate) fn evict(&mut self, written_end: u64) {
        while self.bytes > self.bytes_max
            && self.first_index().is_some_and(|first| first < written_end)
        {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, b)) = self.entries.pop_front() {
            self.bytes -= b;
            self.first_index += 1;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_evict_truncate() {
        let mut c = EntryCache::new(10);
        for i in 5..10u64 {
            c.push(i, i, 4);
        }
        assert_eq!(c.first_index(), Some(5));
        assert_eq!(c.end_index(), Some(10));
        // Nothing written: nothing may be evicted.
        c.evict(0);
        assert_eq!(c.first_index(), Some(5));
        c.evict(7);
        assert_eq!(c.first_index(), Some(7));
        c.evict(100);
        assert_eq!(c.first_index(), Some(8));
        assert_eq!(c.get(9).map(|x| x.0), Some(9));
        c.truncate_from(9);
        assert_eq!(c.end_index(), Some(9));
        c.drop_below(20);
        assert_eq!(c.first_index(), None);
        c.push(30, 30, 1);
        assert_eq!(c.first_index(), Some(30));
    }
}
