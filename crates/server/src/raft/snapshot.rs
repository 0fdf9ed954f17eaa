//! Snapshots of the tree, taken without pausing writes.
//!
//! openraft asks the state machine for a builder between two applies; that is where the tree's
//! copy-on-write snapshot begins (so the snapshot is exactly the state at the last applied log
//! entry). The builder then runs on a blocking thread (in a simulation, on its own task): it
//! copies the tree out in chunks, each under the tree's *read* lock, so writes are applied
//! between chunks; nodes they change keep their pre-snapshot version until the snapshot ends. The stream goes into a checksummed
//! snapshot file (temporary name, fsync, rename, directory fsync: `corral-storage`).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use corral_entry::{encode_snapshot_meta, SnapshotMeta, TypeConfig};
use corral_storage::snapshot::{SnapshotFileMeta, SnapshotStore};
use corral_tree::SnapshotToken;
use openraft::storage::RaftSnapshotBuilder;
use openraft::type_config::alias::SnapshotOf;

use crate::metrics::DurationSummary;
use crate::replica::Replica;

type C = TypeConfig;

/// Nodes copied per chunk: bounds how long one chunk holds the read lock (writes wait at most
/// that long, about 0.2 µs a node: under half a millisecond) without making the snapshot slow.
const SNAPSHOT_CHUNK_NODES: usize = 2_048;

/// Where a snapshot's bytes are: its file. openraft moves this between the state machine and
/// (in an ensemble) the peer transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotFile {
    pub path: PathBuf,
}

pub(crate) struct SnapshotBuilder {
    pub(super) replica: Arc<Replica>,
    pub(super) store: Arc<SnapshotStore>,
    pub(super) meta: SnapshotMeta,
    pub(super) token: Option<SnapshotToken>,
    pub(super) retain_count: usize,
    /// Write the file on this task rather than a blocking thread (see `StateMachineOptions`).
    pub(super) inline: bool,
    /// Filled in with the finished snapshot so the state machine can hand it out later.
    pub(super) current: Arc<parking_lot::Mutex<Option<SnapshotOf<C, SnapshotFile>>>>,
    /// Told how long the file took to write.
    pub(super) times: Arc<DurationSummary>,
}

impl RaftSnapshotBuilder<C> for SnapshotBuilder {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<C, SnapshotFile>, io::Error> {
        let Some(token) = self.token.take() else {
            return Err(io::Error::other("snapshot builder used twice"));
        };
        let replica = self.replica.clone();
        let store = self.store.clone();
        let meta = self.meta.clone();
        let retain_count = self.retain_count;
        let started = std::time::Instant::now();
        let write = move || write_snapshot_file(&replica, &store, &meta, token, retain_count);
        let built = match self.inline {
            true => write()?,
            false => tokio::task::spawn_blocking(write)
                .await
                .map_err(io::Error::other)??,
        };
        self.times.record(started.elapsed());
        tracing::info!(
            index = ?self.meta.last_log_id.map(|id| id.index),
            file = %built.path.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "snapshot written"
        );
        let snapshot = SnapshotOf::<C, SnapshotFile> {
            meta: self.meta.clone(),
            snapshot: built.clone(),
        };
        *self.current.lock() = Some(SnapshotOf::<C, SnapshotFile> {
            meta: self.meta.clone(),
            snapshot: built,
        });
        Ok(snapshot)
    }
}

/// A builder openraft drops without building (e.g. on shutdown) must still end the tree's
/// copy-on-write snapshot, or preserved node versions would pile up until the next one.
impl Drop for SnapshotBuilder {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            self.replica.end_snapshot(token);
        }
    }
}

fn write_snapshot_file(
    replica: &Replica,
    store: &SnapshotStore,
    meta: &SnapshotMeta,
    mut token: SnapshotToken,
    retain_count: usize,
) -> io::Result<SnapshotFile> {
    let file_meta = SnapshotFileMeta {
        last_log_index: meta.last_log_id.map_or(0, |id| id.index),
        last_log_term: meta.last_log_id.map_or(0, |id| id.leader_id.term),
        opaque: encode_snapshot_meta(meta)?,
    };
    let result = (|| -> io::Result<SnapshotFile> {
        let mut writer = store.begin(file_meta).map_err(io::Error::other)?;
        let mut chunk = Vec::with_capacity(1 << 20);
        loop {
            chunk.clear();
            let done = replica.write_snapshot_chunk(&mut token, &mut chunk, SNAPSHOT_CHUNK_NODES);
            if token.is_aborted() {
                return Err(io::Error::other("snapshot aborted by a newer one"));
            }
            writer.write_all(&chunk)?;
            if done {
                break;
            }
        }
        let info = writer.finish().map_err(io::Error::other)?;
        Ok(SnapshotFile { path: info.path })
    })();
    replica.end_snapshot(token);
    // The chunks and the node versions preserved meanwhile are freed now.
    crate::memory::release_free_memory();
    let file = result?;
    match store.purge(retain_count) {
        Ok(purge) if !purge.removed.is_empty() => {
            tracing::info!(removed = purge.removed.len(), "old snapshots purged")
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(%err, "purging old snapshots failed"),
    }
    Ok(file)
}
