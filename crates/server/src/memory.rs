//! How the process hands memory back to the system (glibc's allocator).
//!
//! Why: an operator sizes a machine by the resident set, and glibc keeps freed memory mapped
//! in two ways that made Corral's resident set tens of megabytes larger than what it uses:
//! free pages in the middle of a heap (returned by [`release_free_memory`]), and the free top
//! of a thread's heap, which glibc only unmaps once it exceeds a trim threshold that it raises
//! on its own, up to 64 MiB, each time a large block is freed (fixed by [`tune_allocator`]).
//! [`release_free_memory`] runs after log replay, after each snapshot and, through
//! [`trim_when_idle`], once each time writes pause after a burst.

/// Blocks of at least this size are mapped on their own and unmapped when freed. Fixed rather
/// than glibc's sliding threshold, which rises to the largest block freed so far (a 64 MiB
/// log segment read at start-up) and then keeps such blocks in the heap for good.
const MMAP_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// A thread heap whose free top exceeds this is shrunk on the next free.
const TRIM_THRESHOLD_BYTES: i32 = 4 * 1024 * 1024;

/// Fixes the allocator's mmap and trim thresholds; call once, first thing in the process.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it takes the allocator's lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
    }
}

/// Returns free pages inside the heaps to the system. Called after the events that free a lot
/// at once (log replay, a snapshot, the end of a burst of writes), never on a timer under
/// load: it walks every heap under the allocator's locks and would show in tail latency.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists; it takes the
    // allocator's locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How often [`trim_when_idle`] looks at the applied zxid.
const IDLE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Decides when to trim: once after the applied zxid stops moving for a whole check interval.
/// A burst of writes (a bulk load, a recovery) leaves freed request buffers, txns and log
/// entries behind; trimming then returns them, while a server under steady load is never
/// trimmed (the walk would show in its tail latency).
#[derive(Debug, Default)]
pub(crate) struct IdleTrim {
    last_zxid: i64,
    written_since_trim: bool,
}

impl IdleTrim {
    /// Called every check interval with the applied zxid; true when it is time to trim.
    pub(crate) fn observe(&mut self, applied_zxid: i64) -> bool {
        if applied_zxid != self.last_zxid {
            self.last_zxid = applied_zxid;
            self.written_since_trim = true;
            return false;
        }
        std::mem::take(&mut self.written_since_trim)
    }
}

/// Runs until `stopped` changes: trims the heap once each time writes pause (see [`IdleTrim`]),
/// watching the applied zxid through `applied_zxid`.
pub(crate) async fn trim_when_idle(
    applied_zxid: impl Fn() -> i64,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(IDLE_CHECK_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut policy = IdleTrim {
        last_zxid: applied_zxid(),
        written_since_trim: false,
    };
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = interval.tick() => {}
        }
        if policy.observe(applied_zxid()) {
            // Off the async workers: the walk takes milliseconds on a large heap.
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdleTrim;

    #[test]
    fn trims_once_per_pause_and_never_under_steady_writes() {
        let mut policy = IdleTrim::default();
        assert!(!policy.observe(0), "nothing written yet");
        for zxid in 1..100 {
            assert!(!policy.observe(zxid), "writes still arriving");
        }
        assert!(policy.observe(99), "first quiet interval after the burst");
        assert!(!policy.observe(99), "only once per pause");
        assert!(!policy.observe(120));
        assert!(policy.observe(120));
    }
}
