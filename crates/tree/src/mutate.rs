//! Applying validated effects to the tree the way ZooKeeper's `DataTree` does (`createNode`,
//! `deleteNode`, `setData`, `setACL`), with the watch triggers each one fires, in order:
//! create → NodeCreated(path), NodeChildrenChanged(parent); delete → NodeDeleted(path),
//! NodeChildrenChanged(parent); setData → NodeDataChanged(path); setACL → none.
//!
//! Effects were validated against the same state, so the lookups here always succeed; if one
//! did not (a bug), the effect is skipped rather than panicking the replica.

use bytes::Bytes;
use corral_proto::{Acl, Stat};

use crate::node::{owner_kind, Node, OwnerKind};
use crate::prep::{Ctx, Effect};
use crate::{path, DataTree, WatchEvent, WatchTrigger};

/// What an applied effect answers.
pub(crate) enum Applied {
    Created {
        path: String,
        stat: Stat,
        with_stat: bool,
    },
    Deleted,
    DataSet(Stat),
    AclSet(Stat),
    Checked,
    /// Unreachable in a consistent tree; see the module docs.
    Skipped,
}

/// The watch triggers of the txn being applied, in ZooKeeper's order; none are built for a
/// caller with no watch registered (see [`DataTree::apply_unwatched`]).
pub(crate) struct Triggers {
    pub(crate) list: Vec<WatchTrigger>,
    keep: bool,
}

impl Triggers {
    pub(crate) fn new(keep: bool) -> Triggers {
        Triggers {
            list: Vec::new(),
            keep,
        }
    }
}

impl DataTree {
    pub(crate) fn commit(
        &mut self,
        ctx: &Ctx<'_>,
        effect: Effect<'_>,
        triggers: &mut Triggers,
    ) -> Applied {
        let result = match effect {
            Effect::Create {
                path,
                data,
                acl,
                owner,
                parent_cversion,
                with_stat,
            } => self
                .create_node(&path, data, &acl, owner, parent_cversion, ctx, triggers)
                .map(|stat| Applied::Created {
                    path,
                    stat,
                    with_stat,
                }),
            Effect::Delete { path } => self
                .delete_node(path, ctx.zxid, triggers)
                .then_some(Applied::Deleted),
            Effect::SetData {
                path,
                data,
                version,
            } => self
                .set_data(path, data, version, ctx, triggers)
                .map(Applied::DataSet),
            Effect::SetAcl { path, acl, version } => {
                self.set_acl(path, &acl, version).map(Applied::AclSet)
            }
            Effect::Check => Some(Applied::Checked),
        };
        debug_assert!(result.is_some(), "a validated effect failed to apply");
        result.unwrap_or(Applied::Skipped)
    }

    fn trigger(&self, triggers: &mut Triggers, path: &str, event: WatchEvent, acl: u32) {
        if !triggers.keep {
            return;
        }
        triggers.list.push(WatchTrigger {
            path: path.to_owned(),
            event,
            acl: self.acls.get(acl),
        });
    }

    /// `DataTree.createNode`. The parent's stored cversion and pzxid move only if the txn's
    /// cversion is larger (so after 2^31 - 1 creations the counter sticks, as in ZooKeeper,
    /// and the next sequential create under that parent meets NODEEXISTS).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_node(
        &mut self,
        path: &str,
        data: Option<&Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        ctx: &Ctx<'_>,
        triggers: &mut Triggers,
    ) -> Option<Stat> {
        let parent_path = path::parent_of(path);
        let name = path::name_of(path);
        let parent_id = self.store.lookup(parent_path)?;
        if self.store.child(parent_id, path).is_some() {
            return None;
        }
        let node = Node::new(name, data.map(|d| &d[..]), 0, ctx.zxid, ctx.time_ms)?;
        if parent_cversion > self.store.get(parent_id)?.cversion {
            self.preserve(parent_id);
        }
        let acl_id = self.acls.intern(acl);
        let parent = self.store.get_mut(parent_id)?;
        if parent_cversion > parent.cversion && parent.set_pzxid(ctx.zxid) {
            parent.cversion = parent_cversion;
        }
        let parent_acl = parent.acl;
        let mut node = node;
        node.acl = acl_id;
        let Some(id) = self.store.insert(parent_id, path, node, owner) else {
            self.acls.release(acl_id);
            return None;
        };
        self.data_bytes += (path.len() + data.map_or(0, Bytes::len)) as u64;
        match owner_kind(owner, self.config.extended_types_enabled) {
            OwnerKind::Container => {
                self.containers.insert(id);
            }
            OwnerKind::Ttl => {
                self.ttls.insert(id);
            }
            OwnerKind::Normal => self.sessions.add_ephemeral(owner, id),
            OwnerKind::Void => {}
        }
        let stat = self
            .store
            .get(id)?
            .stat(owner, self.config.extended_types_enabled);
        self.trigger(triggers, path, WatchEvent::NodeCreated, acl_id);
        self.trigger(
            triggers,
            path::watch_path(parent_path),
            WatchEvent::NodeChildrenChanged,
            parent_acl,
        );
        Some(stat)
    }

    /// `DataTree.deleteNode`: the parent's pzxid moves forward only.
    pub(crate) fn delete_node(&mut self, path: &str, zxid: i64, triggers: &mut Triggers) -> bool {
        let parent_path = path::parent_of(path);
        let Some(parent_id) = self.store.lookup(parent_path) else {
            return false;
        };
        let Some(id) = self.store.lookup(path).filter(|&id| {
            id != crate::store::ROOT && self.store.get(id).is_some_and(|n| n.parent == parent_id)
        }) else {
            return false;
        };
        self.preserve(parent_id);
        self.preserve(id);
        let Some((node, owner)) = self.store.remove(id) else {
            return false;
        };
        let Some(parent) = self.store.get_mut(parent_id) else {
            return false;
        };
        if zxid > parent.pzxid() {
            parent.set_pzxid(zxid);
        }
        let parent_acl = parent.acl;
        self.data_bytes = self
            .data_bytes
            .saturating_sub((path.len() + node.data_len()) as u64);
        match owner_kind(owner, self.config.extended_types_enabled) {
            OwnerKind::Container => {
                self.containers.remove(&id);
            }
            OwnerKind::Ttl => {
                self.ttls.remove(&id);
            }
            OwnerKind::Normal => self.sessions.remove_ephemeral(owner, id),
            OwnerKind::Void => {}
        }
        self.trigger(triggers, path, WatchEvent::NodeDeleted, node.acl);
        self.trigger(
            triggers,
            path::watch_path(parent_path),
            WatchEvent::NodeChildrenChanged,
            parent_acl,
        );
        self.acls.release(node.acl);
        true
    }

    /// `DataTree.setData`: data, mtime, mzxid and the version the txn carries.
    pub(crate) fn set_data(
        &mut self,
        path: &str,
        data: Option<&Bytes>,
        version: i32,
        ctx: &Ctx<'_>,
        triggers: &mut Triggers,
    ) -> Option<Stat> {
        let id = self.store.lookup(path)?;
        let extended = self.config.extended_types_enabled;
        let owner = self.store.owner(id);
        self.preserve(id);
        let node = self.store.get_mut(id)?;
        let old_len = node.data_len();
        if !node.set_data(data.map(|d| &d[..])) || !node.set_modified(ctx.zxid, ctx.time_ms) {
            return None;
        }
        node.version = version;
        let stat = node.stat(owner, extended);
        let acl = node.acl;
        self.data_bytes =
            (self.data_bytes + data.map_or(0, Bytes::len) as u64).saturating_sub(old_len as u64);
        self.trigger(triggers, path, WatchEvent::NodeDataChanged, acl);
        Some(stat)
    }

    /// `DataTree.setACL`: the new list and the aversion the txn carries; no watch fires.
    pub(crate) fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Option<Stat> {
        let id = self.store.lookup(path)?;
        self.preserve(id);
        let new_acl = self.acls.intern(acl);
        let extended = self.config.extended_types_enabled;
        let owner = self.store.owner(id);
        let Some(node) = self.store.get_mut(id) else {
            self.acls.release(new_acl);
            return None;
        };
        let old_acl = node.acl;
        node.acl = new_acl;
        let stored = node.set_aversion(version);
        debug_assert!(stored, "a payload could not grow by its wide section");
        let stat = node.stat(owner, extended);
        self.acls.release(old_acl);
        Some(stat)
    }
}
