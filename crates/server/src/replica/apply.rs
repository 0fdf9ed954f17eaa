//! Applying committed entries: where a log entry becomes a changed tree, fired watches and —
//! on the server the request came from — a reply, all under the tree's write lock so that the
//! ordering rules hold:
//!
//! - a watch event caused by zxid N is queued before any reply that reflects N (reads take the
//!   read lock, so they run before or after the whole apply, never in between);
//! - a reply that arms a watch is queued while the read lock is held, so before any event for
//!   that watch;
//! - replies to one connection's writes are queued in log order, which is submission order.

use corral_entry::LogEntry;
use corral_tree::{ApplyOutcome, DataTree, Txn, TxnKind, WatchTrigger};

use super::effects::{Answer, Effects, WatchEvent};
use super::{index_zxid, Replica};
use crate::ids::Zxid;

impl Replica {
    /// Applies committed entries in log order under one write lock of the tree, each txn with
    /// its local effects (see the module docs); an entry without a txn (`None`: raft's blank
    /// and membership entries) only advances the applied zxid. Indexes must increase strictly:
    /// zxid = log index, and a replica never applies an index twice.
    pub(crate) fn apply_batch<'a>(
        &self,
        entries: impl IntoIterator<Item = (u64, Option<&'a LogEntry>)>,
        effects: &dyn Effects,
    ) {
        let mut tree = self.tree.write();
        for (index, entry) in entries {
            let zxid = index_zxid(index);
            let applied = self.applied();
            assert!(
                zxid > applied || (zxid == 0 && applied == 0),
                "entry {zxid} applied after entry {applied}: zxids must increase strictly"
            );
            match entry {
                Some(entry) => self.apply_locked(&mut tree, zxid, entry, effects),
                None => self.advance_applied(zxid),
            }
        }
    }

    fn apply_locked(
        &self,
        tree: &mut DataTree,
        zxid: Zxid,
        entry: &LogEntry,
        effects: &dyn Effects,
    ) {
        // Watches are only registered under the tree's read lock, so none can appear
        // between this check and the apply; with none anywhere, triggers are not built.
        let watched = !self.watches.lock().is_empty();
        let outcome = if watched {
            tree.apply(zxid, &entry.txn)
        } else {
            tree.apply_unwatched(zxid, &entry.txn)
        };
        self.advance_applied(zxid);
        self.fire_triggers(tree, &outcome.triggers, zxid, effects);
        // The session must be known before its client can send a request, and a closing
        // session's own reply must be queued before its connection is closed.
        track_new_session(&entry.txn, &outcome, effects);
        self.answer_origin(entry, zxid, &outcome, effects);
        if let TxnKind::CloseSession { .. } = &entry.txn.kind {
            effects.session_closed(entry.txn.session_id);
        }
    }

    fn fire_triggers(
        &self,
        tree: &DataTree,
        triggers: &[WatchTrigger],
        zxid: Zxid,
        effects: &dyn Effects,
    ) {
        for trigger in triggers {
            for delivery in self.deliveries(&trigger.path, trigger.event) {
                effects.watch_event(
                    tree,
                    &WatchEvent {
                        connection: delivery.connection,
                        zxid,
                        event_type: delivery.event_type,
                        path: &trigger.path,
                        acl: &trigger.acl,
                    },
                );
            }
        }
    }

    fn answer_origin(
        &self,
        entry: &LogEntry,
        zxid: Zxid,
        outcome: &ApplyOutcome,
        effects: &dyn Effects,
    ) {
        let Some(origin) = entry.origin else {
            return;
        };
        if origin.server_id != self.server_id {
            return;
        }
        let txn = &entry.txn;
        let answer = match &txn.kind {
            TxnKind::CreateSession {
                timeout_ms,
                password,
            } => match outcome.result {
                Ok(_) => Answer::Connected {
                    session_id: txn.session_id,
                    timeout_ms: *timeout_ms,
                    password,
                },
                Err(_) => Answer::NotConnected,
            },
            TxnKind::CloseSession { .. } => Answer::SessionClosed {
                cxid: txn.cxid,
                zxid,
            },
            _ => Answer::Reply {
                cxid: txn.cxid,
                zxid,
                result: &outcome.result,
            },
        };
        effects.answer(origin.connection_id, answer);
    }
}

fn track_new_session(txn: &Txn, outcome: &ApplyOutcome, effects: &dyn Effects) {
    if let TxnKind::CreateSession { timeout_ms, .. } = &txn.kind {
        if outcome.result.is_ok() {
            effects.session_created(txn.session_id, *timeout_ms);
        }
    }
}
