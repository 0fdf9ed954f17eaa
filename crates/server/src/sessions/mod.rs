//! Session liveness on this server. Expiry itself is a replicated `CloseSession` txn decided
//! by the leader ([`crate::leader`]); this module only keeps *when* each session was last
//! heard from ([`table`], pure), reading the time from the server's [`Clock`], and allocates
//! new session ids ([`allocator`]).

pub(crate) mod allocator;
pub(crate) mod table;

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

pub(crate) use allocator::SessionIdAllocator;
pub(crate) use table::SessionTable;

use crate::clock::Clock;
use crate::ids::SessionId;

/// The session table of a running server, on its clock.
pub(crate) struct Sessions {
    table: Mutex<SessionTable>,
    clock: Arc<dyn Clock>,
    /// Sessions touched here since the last [`Sessions::take_touched`]: what a follower tells
    /// the leader, which alone expires sessions. Bounded by the number of sessions. `None` on
    /// a standalone server, which is always its own leader: its requests then take no second
    /// lock.
    touched: Option<Mutex<HashSet<SessionId>>>,
}

impl Sessions {
    /// `forward_touches`: whether touches are kept for a leader on another server (an
    /// ensemble member).
    pub(crate) fn new(tick_ms: u64, clock: Arc<dyn Clock>, forward_touches: bool) -> Sessions {
        Sessions {
            table: Mutex::new(SessionTable::new(tick_ms)),
            clock,
            touched: forward_touches.then(|| Mutex::new(HashSet::new())),
        }
    }

    pub(crate) fn add(&self, session_id: SessionId, timeout_ms: i32) {
        let now = self.clock.monotonic_ms();
        self.table.lock().add(session_id, timeout_ms, now);
    }

    /// Records activity; false when the session is unknown or already being closed.
    pub(crate) fn touch(&self, session_id: SessionId) -> bool {
        let now = self.clock.monotonic_ms();
        let known = self.table.lock().touch(session_id, now);
        if let (true, Some(touched)) = (known, &self.touched) {
            touched.lock().insert(session_id);
        }
        known
    }

    /// Renews sessions another server heard from (the leader's side of a follower's touch).
    pub(crate) fn touch_all(&self, sessions: &[SessionId]) {
        let now = self.clock.monotonic_ms();
        let mut table = self.table.lock();
        for &session_id in sessions {
            table.touch(session_id, now);
        }
    }

    /// The sessions touched here since the last call, in id order (the same set always makes
    /// the same message: a simulation replays byte for byte).
    pub(crate) fn take_touched(&self) -> Vec<SessionId> {
        let Some(touched) = &self.touched else {
            return Vec::new();
        };
        let mut touched: Vec<SessionId> = touched.lock().drain().collect();
        touched.sort_unstable();
        touched
    }

    pub(crate) fn set_timeout(&self, session_id: SessionId, timeout_ms: i32) {
        self.table.lock().set_timeout(session_id, timeout_ms);
    }

    pub(crate) fn remove(&self, session_id: SessionId) {
        self.table.lock().remove(session_id);
    }

    /// Tracks every listed session (those the log knows) and gives each a fresh timeout.
    pub(crate) fn restart_all(&self, known: impl IntoIterator<Item = (SessionId, i32)>) {
        let now = self.clock.monotonic_ms();
        let mut table = self.table.lock();
        for (session_id, timeout_ms) in known {
            if !table.contains(session_id) {
                table.add(session_id, timeout_ms, now);
            }
        }
        table.restart_all(now);
    }

    pub(crate) fn take_expired(&self) -> Vec<SessionId> {
        let now = self.clock.monotonic_ms();
        self.table.lock().take_expired(now)
    }

    pub(crate) fn contains(&self, session_id: SessionId) -> bool {
        self.table.lock().contains(session_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.table.lock().len()
    }

    pub(crate) fn by_deadline(&self) -> Vec<(u64, Vec<SessionId>)> {
        self.table.lock().by_deadline()
    }
}
