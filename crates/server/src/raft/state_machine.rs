//! openraft's state machine: hands every committed entry to [`Replica::apply_batch`] in log
//! order with this server's [`Effects`], builds snapshots (see [`super::snapshot`]) and
//! restores the tree from the newest valid snapshot at start-up.

use std::io;
use std::sync::Arc;

use corral_entry::{
    decode_snapshot_meta, ApplyReply, LogEntry, LogId, SnapshotMeta, StoredMembership, TypeConfig,
};
use corral_storage::snapshot::SnapshotStore;
use corral_tree::{AuthProviders, DataTree};
use futures::{FutureExt, Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::SnapshotOf;
use openraft::{EntryPayload, OptionalSend};
use parking_lot::Mutex;

use super::snapshot::{SnapshotBuilder, SnapshotFile};
use crate::metrics::DurationSummary;
use crate::replica::{Effects, Replica};

type C = TypeConfig;

/// Committed entries applied under one acquisition of the tree's write lock, at most. Why
/// batch: a snapshot being written holds the read lock for one chunk at a time, and an apply
/// that takes the write lock per entry can wait for a chunk at every entry; one lock per batch
/// also costs less in any case. Why bound it: reads wait while the batch applies (a setData
/// applies in about a microsecond, so 256 stay well under 1 ms).
const APPLY_BATCH_ENTRIES_MAX: usize = 256;

/// Snapshot bytes as openraft moves them: the snapshot file.
pub(crate) type SnapshotData = SnapshotFile;

/// Told of everything a server applies, in log order: how a simulation records each
/// replica's history (production servers have none). Called with the tree's state just
/// changed, on the task that applies; it must not block.
pub trait ApplyObserver: Send + Sync + 'static {
    /// The entry at `index`, of term `term`, was applied; `entry` is `None` for openraft's
    /// own entries (blank, membership).
    fn applied(&self, index: u64, term: u64, entry: Option<&LogEntry>);
    /// The tree was replaced by a snapshot ending at `index` (of term `term`): at start-up, or
    /// installed from the leader.
    fn restored(&self, index: u64, term: u64);
}

/// How the state machine works besides its tree and snapshot store.
pub(crate) struct StateMachineOptions {
    /// The ACL schemes a restored tree knows (this server's configuration).
    pub(crate) providers: AuthProviders,
    pub(crate) retain_count: usize,
    /// Write snapshot files on the task that builds them instead of a blocking thread (a
    /// simulation on virtual time, where another thread would make runs differ).
    pub(crate) inline_snapshots: bool,
    pub(crate) observer: Option<Arc<dyn ApplyObserver>>,
    /// Told how long each snapshot file took to write (the operator's `snapshottime`).
    pub(crate) snapshot_times: Arc<DurationSummary>,
}

pub(crate) struct StateMachine {
    replica: Arc<Replica>,
    effects: Arc<dyn Effects>,
    /// The ACL schemes a restored tree knows (this server's configuration).
    providers: AuthProviders,
    store: Arc<SnapshotStore>,
    retain_count: usize,
    inline_snapshots: bool,
    observer: Option<Arc<dyn ApplyObserver>>,
    snapshot_times: Arc<DurationSummary>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    current: Arc<Mutex<Option<SnapshotOf<C, SnapshotFile>>>>,
    /// Committed entries gathered for one `apply_batch`; empty between calls, kept for its
    /// capacity.
    batch: Vec<EntryResponder<C>>,
}

impl StateMachine {
    /// Opens the state machine: the tree from the newest valid snapshot in `store` (a newer one
    /// that fails its checksum is reported and passed over; the caller checks that the log
    /// still covers what follows the one used), or an empty tree.
    pub(crate) fn open(
        replica: Arc<Replica>,
        effects: Arc<dyn Effects>,
        store: Arc<SnapshotStore>,
        options: StateMachineOptions,
    ) -> io::Result<StateMachine> {
        let mut machine = StateMachine {
            replica,
            effects,
            providers: options.providers,
            store,
            retain_count: options.retain_count,
            inline_snapshots: options.inline_snapshots,
            observer: options.observer,
            snapshot_times: options.snapshot_times,
            last_applied: None,
            membership: StoredMembership::default(),
            current: Arc::new(Mutex::new(None)),
            batch: Vec::with_capacity(APPLY_BATCH_ENTRIES_MAX),
        };
        let newest = machine.store.newest_valid().map_err(io::Error::other)?;
        if let Some(reader) = newest {
            let path = reader.path().to_owned();
            let meta = decode_snapshot_meta(&reader.meta().opaque)?;
            machine.restore(&meta, SnapshotFile { path })?;
        }
        Ok(machine)
    }

    /// Index of the snapshot the tree was restored from (0 without one).
    pub(crate) fn restored_index(&self) -> u64 {
        self.last_applied.map_or(0, |id| id.index)
    }

    fn restore(&mut self, meta: &SnapshotMeta, file: SnapshotFile) -> io::Result<()> {
        let started = std::time::Instant::now();
        let reader = self
            .store
            .open_snapshot(&file.path)
            .map_err(io::Error::other)?;
        let tree = DataTree::load_snapshot_with(reader, self.providers.clone()).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {err}", file.path.display()),
            )
        })?;
        let index = meta.last_log_id.map_or(0, |id| id.index);
        tracing::info!(
            file = %file.path.display(),
            index,
            nodes = tree.node_count(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "tree restored from snapshot"
        );
        self.replica.restore(tree, index);
        if let Some(observer) = &self.observer {
            observer.restored(index, meta.last_log_id.map_or(0, |id| id.leader_id.term));
        }
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        *self.current.lock() = Some(SnapshotOf::<C, SnapshotFile> {
            meta: meta.clone(),
            snapshot: file,
        });
        Ok(())
    }
}

impl StateMachine {
    /// Applies the gathered batch of committed entries in log order (the txns under one write
    /// lock of the tree), then answers openraft for each; leaves the batch empty.
    fn apply_batch(&mut self) {
        self.replica.apply_batch(
            self.batch.iter().map(|(entry, _)| match &entry.payload {
                EntryPayload::Normal(log_entry) => (entry.log_id.index, Some(log_entry)),
                EntryPayload::Blank | EntryPayload::Membership(_) => (entry.log_id.index, None),
            }),
            &*self.effects,
        );
        if let Some(observer) = &self.observer {
            for (entry, _) in &self.batch {
                let payload = match &entry.payload {
                    EntryPayload::Normal(log_entry) => Some(log_entry),
                    EntryPayload::Blank | EntryPayload::Membership(_) => None,
                };
                observer.applied(entry.log_id.index, entry.log_id.leader_id.term, payload);
            }
        }
        for (entry, responder) in self.batch.drain(..) {
            let log_id = entry.log_id;
            let index = log_id.index;
            match &entry.payload {
                EntryPayload::Normal(_) | EntryPayload::Blank => {}
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(log_id), membership.clone());
                }
            }
            self.last_applied = Some(log_id);
            if let Some(responder) = responder {
                responder.send(ApplyReply { zxid: index as i64 });
            }
        }
    }
}

impl RaftStateMachine<C> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some(first) = entries.next().await {
            let mut item = Some(first);
            // Whatever else is ready joins the batch: the tree's write lock is then taken once
            // for all of them instead of once per entry (see APPLY_BATCH_ENTRIES_MAX).
            while let Some(next) = item.take() {
                match next {
                    Ok(entry) => self.batch.push(entry),
                    Err(err) => {
                        // Entries read before the failure are applied, as one by one.
                        self.apply_batch();
                        return Err(err);
                    }
                }
                if self.batch.len() < APPLY_BATCH_ENTRIES_MAX {
                    item = entries.next().now_or_never().flatten();
                }
            }
            self.apply_batch();
        }
        Ok(())
    }

    /// Called between two applies: the copy-on-write snapshot begins exactly at the last
    /// applied entry.
    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let token = self.replica.begin_snapshot();
        SnapshotBuilder {
            replica: self.replica.clone(),
            store: self.store.clone(),
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
            },
            token: Some(token),
            retain_count: self.retain_count,
            inline: self.inline_snapshots,
            current: self.current.clone(),
            times: self.snapshot_times.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        self.restore(meta, snapshot)
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<C, Self::SnapshotData>>, io::Error> {
        Ok(self.current.lock().clone())
    }
}
