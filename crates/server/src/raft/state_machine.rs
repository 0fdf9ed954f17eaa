//! openraft's state machine: hands every committed entry to [`Core::apply_entry`] in log order.

use std::io;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::type_config::alias::SnapshotOf;
use openraft::{EntryPayload, OptionalSend, RaftTypeConfig, StoredMembership};

use super::types::{ApplyReply, TypeConfig};
use crate::core::Core;

type C = TypeConfig;
type LogIdOf = openraft::type_config::alias::LogIdOf<C>;
type StoredMembershipOf = openraft::type_config::alias::StoredMembershipOf<C>;
type SnapshotMetaOf = openraft::type_config::alias::SnapshotMetaOf<C>;

/// Snapshot bytes as openraft moves them between servers.
pub type SnapshotData = std::io::Cursor<Vec<u8>>;

pub struct StateMachine {
    core: Arc<Core>,
    last_applied: Option<LogIdOf>,
    membership: StoredMembershipOf,
}

impl StateMachine {
    pub fn new(core: Arc<Core>) -> StateMachine {
        StateMachine {
            core,
            last_applied: None,
            membership: StoredMembership::default(),
        }
    }
}

/// Builds snapshots of the tree. Snapshots are disabled (`SnapshotPolicy::Never`) until the
/// durable storage layer provides their file format, so openraft never asks for one.
pub struct SnapshotBuilder;

impl RaftSnapshotBuilder<C> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<C, SnapshotData>, io::Error> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "snapshots are disabled in this build (SnapshotPolicy::Never)",
        ))
    }
}

impl RaftStateMachine<C> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogIdOf>, StoredMembershipOf), io::Error> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<C>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id;
            let index = log_id.index;
            match &entry.payload {
                EntryPayload::Blank => self.core.note_applied(index),
                EntryPayload::Normal(log_entry) => self.core.apply_entry(index, log_entry),
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(log_id), membership.clone());
                    self.core.note_applied(index);
                }
            }
            self.last_applied = Some(log_id);
            if let Some(responder) = responder {
                responder.send(ApplyReply { zxid: index as i64 });
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMetaOf,
        _snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a standalone server never receives a snapshot",
        ))
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<C, Self::SnapshotData>>, io::Error> {
        Ok(None)
    }
}

#[allow(dead_code)]
fn _assert_types(_: <C as RaftTypeConfig>::D) {}
