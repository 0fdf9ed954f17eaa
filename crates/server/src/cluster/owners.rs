//! Which server each session is attached to, as the leader knows it: ZooKeeper's session
//! owner. A forwarded write of a session that has since moved to another server is refused, so
//! a write held in a stale link can never take effect after a later write the session made
//! elsewhere (ZooKeeper refuses it with SESSIONMOVED, which closes the stale connection).
//!
//! The table is the leader's alone and starts empty with each term: the first server a
//! session's write or re-attachment comes through owns it, as after a ZooKeeper leader change.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::ids::{ServerId, SessionId};

/// Rows above the number of live sessions before the dead ones are dropped.
const STALE_ROWS_MAX: usize = 1024;

#[derive(Default)]
pub(crate) struct SessionOwners {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    term: u64,
    owner: HashMap<SessionId, ServerId>,
}

impl SessionOwners {
    /// The session was (re-)attached on `server` in `term`: from now on only its writes count.
    pub(crate) fn attach(&self, term: u64, session: SessionId, server: ServerId) {
        let mut table = self.table.lock();
        table.start_term(term);
        table.owner.insert(session, server);
    }

    /// Whether a write of `session` coming through `server` in `term` may go into the log;
    /// the first server seen in a term becomes the owner.
    pub(crate) fn admit(&self, term: u64, session: SessionId, server: ServerId) -> bool {
        let mut table = self.table.lock();
        table.start_term(term);
        *table.owner.entry(session).or_insert(server) == server
    }

    /// Drops the rows of sessions that no longer live, once there are many of them.
    pub(crate) fn forget_dead(&self, live_sessions: usize, alive: impl Fn(SessionId) -> bool) {
        let mut table = self.table.lock();
        if table.owner.len() > live_sessions + STALE_ROWS_MAX {
            table.owner.retain(|session, _| alive(*session));
        }
    }
}

impl Table {
    fn start_term(&mut self, term: u64) {
        if term != self.term {
            self.term = term;
            self.owner.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_session_refuses_its_old_server() {
        let owners = SessionOwners::default();
        assert!(owners.admit(1, 7, 2), "first server seen owns it");
        assert!(owners.admit(1, 7, 2));
        owners.attach(1, 7, 3);
        assert!(
            !owners.admit(1, 7, 2),
            "the old server's held write is refused"
        );
        assert!(owners.admit(1, 7, 3));
        assert!(owners.admit(2, 7, 2), "a new term starts afresh");
    }

    #[test]
    fn dead_rows_are_forgotten_past_the_limit() {
        let owners = SessionOwners::default();
        for session in 0..(STALE_ROWS_MAX as i64 + 10) {
            owners.admit(1, session, 1);
        }
        owners.forget_dead(5, |session| session < 5);
        assert_eq!(owners.table.lock().owner.len(), 5);
    }
}
