//! Which client connection each session is attached through, as the leader knows it:
//! ZooKeeper's session owner. Only that connection's writes of the session go into the log, so
//! a write held back somewhere (in a stale link, in a server's queue) can never take effect
//! after a later write the session made through another connection (ZooKeeper refuses it
//! with SESSIONMOVED, which closes the stale connection).
//!
//! Why the leader's order of attachments is the client's: a re-attached session's
//! ConnectResponse waits until the leader has recorded the attachment (ZooKeeper's
//! revalidation), and a client only connects elsewhere after it gave its connection up.
//!
//! Why per connection, where ZooKeeper records the server: the attachment is confirmed by a
//! request of its own, not ordered with the server's stream of writes, so a write of an
//! abandoned connection could still be on that stream after the session moved away and came
//! back to the same server. Refusing it loses nothing the client was promised: it saw that
//! connection fail, so the write's outcome was unknown to it.
//!
//! The table is the leader's alone and starts empty with each term. A write of a session with
//! no owner in the term is refused: every client connection is closed when the term changes,
//! and a connection made since either created its session (which makes it the owner) or
//! re-attached it (recorded here first), so such a write comes from a connection of an earlier
//! term, whose earlier writes may have been lost or may still be on their way.

use std::collections::HashMap;

use corral_entry::Origin;
use parking_lot::Mutex;

use crate::ids::SessionId;

/// Rows above the number of live sessions before the dead ones are dropped.
const STALE_ROWS_MAX: usize = 1024;

#[derive(Default)]
pub(crate) struct SessionOwners {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    term: u64,
    owner: HashMap<SessionId, Origin>,
}

impl SessionOwners {
    /// The session was re-attached through the connection `origin` in `term`: from now on only
    /// that connection's writes of it count. False if `term` is already over here.
    pub(crate) fn attach(&self, term: u64, session: SessionId, origin: Origin) -> bool {
        let mut table = self.table.lock();
        if !table.at(term) {
            return false;
        }
        table.owner.insert(session, origin);
        true
    }

    /// Whether a write of `session` from the connection `origin` may go into the log in
    /// `term`. A new session's `CreateSession` (`creates`) makes its connection the owner.
    pub(crate) fn admit(
        &self,
        term: u64,
        session: SessionId,
        origin: Origin,
        creates: bool,
    ) -> bool {
        let mut table = self.table.lock();
        if !table.at(term) {
            return false;
        }
        match creates {
            // Session ids are never reused: an owner already there means this is not the
            // session's first write, and it is refused like any other stale one.
            true => *table.owner.entry(session).or_insert(origin) == origin,
            false => table.owner.get(&session) == Some(&origin),
        }
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
    /// Moves the table on to `term`, which starts empty; false for an earlier term than the
    /// table's (a task that read the role just before it changed): nothing is recorded or
    /// admitted for a term that is over.
    fn at(&mut self, term: u64) -> bool {
        if term < self.term {
            return false;
        }
        if term > self.term {
            self.term = term;
            self.owner.clear();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(server_id: u64, connection_id: u64) -> Origin {
        Origin {
            server_id,
            connection_id,
        }
    }

    #[test]
    fn only_the_connection_a_session_is_attached_through_writes() {
        let owners = SessionOwners::default();
        let (a, b, c) = (conn(2, 10), conn(3, 20), conn(2, 11));
        assert!(
            owners.admit(1, 7, a, true),
            "its CreateSession makes a the owner"
        );
        assert!(owners.admit(1, 7, a, false));
        assert!(owners.attach(1, 7, b));
        assert!(
            !owners.admit(1, 7, a, false),
            "a write a still had on its way"
        );
        assert!(owners.admit(1, 7, b, false));
        assert!(owners.attach(1, 7, c));
        assert!(
            !owners.admit(1, 7, a, false),
            "back on a's server through another connection: a's writes stay refused"
        );
        assert!(!owners.admit(1, 7, b, false));
        assert!(owners.admit(1, 7, c, false));
        assert!(!owners.admit(1, 7, a, true), "a session is created once");
    }

    #[test]
    fn a_new_term_starts_with_no_owner() {
        let owners = SessionOwners::default();
        let a = conn(2, 10);
        assert!(owners.attach(1, 7, a));
        assert!(owners.admit(1, 7, a, false));
        assert!(
            !owners.admit(2, 7, a, false),
            "a connection of an earlier term is refused"
        );
        assert!(owners.attach(2, 7, a));
        assert!(owners.admit(2, 7, a, false));
        assert!(owners.admit(2, 8, conn(3, 1), true), "a new session");
        assert!(!owners.attach(1, 7, a), "term 1 is over");
        assert!(!owners.admit(1, 7, a, false));
        assert!(owners.admit(2, 7, a, false), "and term 2's table stays");
    }

    #[test]
    fn dead_rows_are_forgotten_past_the_limit() {
        let owners = SessionOwners::default();
        for session in 0..(STALE_ROWS_MAX as i64 + 10) {
            owners.admit(1, session, conn(1, 1), true);
        }
        owners.forget_dead(5, |session| session < 5);
        assert_eq!(owners.table.lock().owner.len(), 5);
    }
}
