//! Inline mode: the [`Writer`] runs in the calling task, one command at a time, for
//! deterministic simulation.
//!
//! A simulation runs several servers in one current-thread tokio runtime with paused
//! (virtual) time over `MemVfs`. A background thread would make the interleaving depend on
//! the OS scheduler, and tokio's auto-advancing clock would jump while the runtime waits for
//! it (spurious election timeouts). Here every command completes before `send` returns:
//!
//! * an append is written, fsync'd (unless `force_sync` is off) and acknowledged — its
//!   `IOFlushed` callback is called on the caller's thread before `append` returns;
//! * a barrier (truncate, purge, vote save) is done and its reply sent;
//! * the lazy `save_committed` is persisted at once (`committed_persist_interval_ms` is not
//!   used): waiting for a deadline would mean reading a clock, and the next command may
//!   never come.
//!
//! Every command is its own group, so there is one fsync per append (no group commit): the
//! on-disk bytes, positions and poisoning are the same as in thread mode, only the number
//! of fsyncs differs. No thread is spawned and no clock is read.

use std::fmt;

use parking_lot::Mutex;

use crate::writer::Command;
use crate::writer::Writer;

/// Executes commands synchronously. The mutex is never contended: it is reached only
/// through `&mut self` (`get_mut`), and exists because the store must be `Sync` (openraft
/// requires it) while the writer's pending callbacks are only `Send`.
pub(crate) struct InlineWriter {
    writer: Mutex<Writer>,
}

impl InlineWriter {
    pub(crate) fn new(writer: Writer) -> Self {
        InlineWriter {
            writer: Mutex::new(writer),
        }
    }

    /// Execute `cmd` completely, then return.
    pub(crate) fn execute(&mut self, cmd: Command) {
        let writer = self.writer.get_mut();
        match cmd {
            Command::SaveStateLazy { state } => writer.save_state_unacknowledged(&state),
            cmd => writer.handle(cmd),
        }
        writer.sync_and_ack();
    }
}

impl fmt::Debug for InlineWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineWriter").finish_non_exhaustive()
    }
}

impl Drop for InlineWriter {
    fn drop(&mut self) {
        // Nothing is pending after `execute`; this keeps the shutdown contract in one place.
        self.writer.get_mut().shutdown();
    }
}
