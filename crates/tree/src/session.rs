//! The replicated sessions table and the ephemeral nodes each session owns.
//!
//! Both are ordered maps so that everything derived from them (closeSession's deletion order,
//! the `dump` listing, the digest) is the same on every replica.

use std::collections::{BTreeMap, BTreeSet};

use crate::node::NodeId;
use crate::SessionInfo;

#[derive(Default)]
pub(crate) struct Sessions {
    table: BTreeMap<i64, SessionInfo>,
    /// Ephemeral node ids by owner session.
    ephemerals: BTreeMap<i64, BTreeSet<NodeId>>,
    ephemeral_count: usize,
}

impl Sessions {
    pub(crate) fn contains(&self, session_id: i64) -> bool {
        self.table.contains_key(&session_id)
    }

    pub(crate) fn get(&self, session_id: i64) -> Option<&SessionInfo> {
        self.table.get(&session_id)
    }

    /// Adds a session; false if the id is taken.
    pub(crate) fn add(&mut self, session_id: i64, info: SessionInfo) -> bool {
        if self.table.contains_key(&session_id) {
            return false;
        }
        self.table.insert(session_id, info);
        true
    }

    pub(crate) fn remove(&mut self, session_id: i64) {
        self.table.remove(&session_id);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &SessionInfo)> {
        self.table.iter().map(|(&id, info)| (id, info))
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn add_ephemeral(&mut self, owner: i64, id: NodeId) {
        if self.ephemerals.entry(owner).or_default().insert(id) {
            self.ephemeral_count += 1;
        }
    }

    pub(crate) fn remove_ephemeral(&mut self, owner: i64, id: NodeId) {
        if let Some(set) = self.ephemerals.get_mut(&owner) {
            if set.remove(&id) {
                self.ephemeral_count -= 1;
            }
            if set.is_empty() {
                self.ephemerals.remove(&owner);
            }
        }
    }

    /// The ephemeral node ids of a session (unordered by path: callers sort by path).
    pub(crate) fn ephemerals_of(&self, owner: i64) -> impl Iterator<Item = NodeId> + '_ {
        self.ephemerals.get(&owner).into_iter().flatten().copied()
    }

    pub(crate) fn owners(&self) -> impl Iterator<Item = i64> + '_ {
        self.ephemerals.keys().copied()
    }

    pub(crate) fn ephemeral_count(&self) -> usize {
        self.ephemeral_count
    }
}
