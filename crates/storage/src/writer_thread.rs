//! Thread mode (the default): the [`Writer`] runs on a dedicated std thread doing group
//! commit.
//!
//! Not a tokio worker: an fsync can block for tens of milliseconds and must not stall the
//! runtime. Commands arrive through a bounded channel (backpressure from the disk). The
//! thread takes one command, then everything else already queued (up to
//! [`GROUP_COMMANDS_MAX`]), and ends the group with one fsync covering all of it. The lazy
//! `save_committed` is persisted when its deadline passes (`committed_persist_interval_ms`),
//! with any barrier, and at shutdown.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::error::Error;
use crate::error::Result;
use crate::vfs::Vfs;
use crate::writer::Command;
use crate::writer::DiskShared;
use crate::writer::Writer;
use crate::writer::WriterSettings;

/// At most this many commands are folded into one group (one fsync), so a steady stream of
/// appends cannot postpone acknowledgements forever.
pub(crate) const GROUP_COMMANDS_MAX: usize = 1024;

/// The store's handle on its writer thread. Dropping it drains the queue, syncs, persists
/// any lazy state and joins the thread.
#[derive(Debug)]
pub(crate) struct WriterThread {
    tx: Option<mpsc::SyncSender<Command>>,
    join: Option<JoinHandle<()>>,
}

impl WriterThread {
    pub(crate) fn spawn(
        settings: WriterSettings,
        vfs: Arc<dyn Vfs>,
        shared: Arc<DiskShared>,
    ) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel(settings.queue_commands_max);
        let writer = Writer::new(settings, vfs, shared);
        let join = std::thread::Builder::new()
            .name("corral-log-writer".into())
            .spawn(move || run(writer, rx))
            .map_err(|e| Error::io("spawn writer thread", "", e))?;
        Ok(WriterThread {
            tx: Some(tx),
            join: Some(join),
        })
    }

    /// Queue a command (blocks while the queue is full: backpressure from the disk).
    pub(crate) fn send(&self, cmd: Command) -> Result<()> {
        let tx = self.tx.as_ref().ok_or(Error::WriterStopped)?;
        tx.send(cmd).map_err(|_| Error::WriterStopped)
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(join) = self.join.take() {
            if join.join().is_err() {
                tracing::error!("log writer thread panicked");
            }
        }
    }
}

/// The thread's loop: one group per iteration, until the store drops its sender.
fn run(mut writer: Writer, rx: mpsc::Receiver<Command>) {
    loop {
        let first = match writer.lazy_state_due() {
            Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(cmd) => Some(cmd),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    writer.persist_lazy_state();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            },
            None => rx.recv().ok(),
        };
        let Some(first) = first else { break };
        writer.handle(first);
        for _ in 1..GROUP_COMMANDS_MAX {
            match rx.try_recv() {
                Ok(cmd) => writer.handle(cmd),
                Err(_) => break,
            }
        }
        writer.sync_and_ack();
        // Under constant load `recv_timeout` may never time out: check the deadline here.
        if writer
            .lazy_state_due()
            .is_some_and(|due| due <= Instant::now())
        {
            writer.persist_lazy_state();
        }
    }
    writer.shutdown();
}
