//! The store's handle on its writer, whichever [`WriterMode`] drives it.
//!
//! A separate module so that `log_store` sees one `send`, and the two drivers
//! (`writer_thread`, `writer_inline`) depend only on the shared `writer`, never on each
//! other.

use std::sync::Arc;

use crate::config::WriterMode;
use crate::error::Result;
use crate::vfs::Vfs;
use crate::writer::Command;
use crate::writer::DiskShared;
use crate::writer::Writer;
use crate::writer::WriterSettings;
use crate::writer_inline::InlineWriter;
use crate::writer_thread::WriterThread;

/// Where commands go. Dropping it completes everything queued.
#[derive(Debug)]
pub(crate) enum WriterHandle {
    /// A dedicated thread with group commit.
    Thread(WriterThread),
    /// The calling task, one command at a time (boxed: the writer's buffers would make
    /// every handle as big as the largest variant).
    Inline(Box<InlineWriter>),
}

impl WriterHandle {
    pub(crate) fn start(
        mode: WriterMode,
        settings: WriterSettings,
        vfs: Arc<dyn Vfs>,
        shared: Arc<DiskShared>,
    ) -> Result<Self> {
        Ok(match mode {
            WriterMode::Thread => WriterHandle::Thread(WriterThread::spawn(settings, vfs, shared)?),
            WriterMode::Inline => WriterHandle::Inline(Box::new(InlineWriter::new(Writer::new(
                settings, vfs, shared,
            )))),
        })
    }

    /// Thread mode: queue `cmd` (blocking while the queue is full). Inline mode: execute it
    /// completely (acknowledgement and reply included) before returning.
    pub(crate) fn send(&mut self, cmd: Command) -> Result<()> {
        match self {
            WriterHandle::Thread(thread) => thread.send(cmd),
            WriterHandle::Inline(inline) => {
                inline.execute(cmd);
                Ok(())
            }
        }
    }
}
