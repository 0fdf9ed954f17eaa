//! The pure session table: deadlines of live sessions, with the time passed in by the caller
//! (so it runs the same on a real and a virtual clock, and tests need no sleeps).
//!
//! As in ZooKeeper, deadlines are rounded up to the next tick, so a session expires between
//! `timeout` and `timeout + tickTime` after its last request or ping.

use std::collections::{BTreeMap, HashMap};

use crate::ids::SessionId;

#[derive(Debug)]
struct Tracked {
    timeout_ms: u64,
    expires_at_ms: u64,
    /// Expiry was proposed: the close is in the log, no more touches count.
    closing: bool,
}

#[derive(Debug)]
pub(crate) struct SessionTable {
    tick_ms: u64,
    sessions: HashMap<SessionId, Tracked>,
}

impl SessionTable {
    pub(crate) fn new(tick_ms: u64) -> SessionTable {
        SessionTable {
            tick_ms: tick_ms.max(1),
            sessions: HashMap::new(),
        }
    }

    fn deadline(&self, now_ms: u64, timeout_ms: u64) -> u64 {
        let raw = now_ms.saturating_add(timeout_ms);
        raw.div_ceil(self.tick_ms).saturating_mul(self.tick_ms)
    }

    /// Starts tracking a session (new, or known from the log after a restart or a leader
    /// change: then its timer starts afresh).
    pub(crate) fn add(&mut self, session_id: SessionId, timeout_ms: i32, now_ms: u64) {
        let timeout_ms = u64::try_from(timeout_ms).unwrap_or(0);
        let expires_at_ms = self.deadline(now_ms, timeout_ms);
        self.sessions.insert(
            session_id,
            Tracked {
                timeout_ms,
                expires_at_ms,
                closing: false,
            },
        );
    }

    /// Records activity; false when the session is unknown or already being closed.
    pub(crate) fn touch(&mut self, session_id: SessionId, now_ms: u64) -> bool {
        let Some(timeout_ms) = self
            .sessions
            .get(&session_id)
            .filter(|t| !t.closing)
            .map(|t| t.timeout_ms)
        else {
            return false;
        };
        let deadline = self.deadline(now_ms, timeout_ms);
        if let Some(tracked) = self.sessions.get_mut(&session_id) {
            tracked.expires_at_ms = deadline;
        }
        true
    }

    /// Changes the timeout of a re-attached session (the new connection negotiated it).
    pub(crate) fn set_timeout(&mut self, session_id: SessionId, timeout_ms: i32) {
        if let Some(tracked) = self.sessions.get_mut(&session_id) {
            tracked.timeout_ms = u64::try_from(timeout_ms).unwrap_or(0);
        }
    }

    pub(crate) fn remove(&mut self, session_id: SessionId) {
        self.sessions.remove(&session_id);
    }

    /// Gives every session a full timeout from `now_ms` and forgets pending closes: what a new
    /// leader does, so that time spent without a leader is not charged to clients.
    pub(crate) fn restart_all(&mut self, now_ms: u64) {
        let tick_ms = self.tick_ms;
        for tracked in self.sessions.values_mut() {
            let raw = now_ms.saturating_add(tracked.timeout_ms);
            tracked.expires_at_ms = raw.div_ceil(tick_ms).saturating_mul(tick_ms);
            tracked.closing = false;
        }
    }

    /// Sessions past their deadline, now marked closing (each is returned once), in id order.
    pub(crate) fn take_expired(&mut self, now_ms: u64) -> Vec<SessionId> {
        let mut expired: Vec<SessionId> = Vec::new();
        for (id, tracked) in &mut self.sessions {
            if !tracked.closing && tracked.expires_at_ms <= now_ms {
                tracked.closing = true;
                expired.push(*id);
            }
        }
        expired.sort_unstable();
        expired
    }

    pub(crate) fn contains(&self, session_id: SessionId) -> bool {
        self.sessions.contains_key(&session_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions grouped by deadline (for the `dump` 4lw), ordered.
    pub(crate) fn by_deadline(&self) -> Vec<(u64, Vec<SessionId>)> {
        let mut groups: BTreeMap<u64, Vec<SessionId>> = BTreeMap::new();
        for (id, tracked) in &self.sessions {
            groups.entry(tracked.expires_at_ms).or_default().push(*id);
        }
        groups
            .into_iter()
            .map(|(at, mut ids)| {
                ids.sort_unstable();
                (at, ids)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_ticks_and_expire_once() {
        let mut table = SessionTable::new(10);
        table.add(7, 15, 0);
        assert!(
            table.take_expired(19).is_empty(),
            "deadline 15 rounds up to 20"
        );
        assert_eq!(table.take_expired(20), vec![7]);
        assert!(table.take_expired(100).is_empty(), "returned once");
        assert!(!table.touch(7, 100), "a closing session is not kept alive");
        table.remove(7);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn touches_push_the_deadline() {
        let mut table = SessionTable::new(10);
        table.add(1, 100, 0);
        assert!(table.touch(1, 90));
        assert!(table.take_expired(150).is_empty());
        assert_eq!(table.take_expired(190), vec![1]);
        assert!(!table.touch(2, 0), "unknown");
    }

    #[test]
    fn restart_all_gives_a_fresh_timeout_and_reopens_closing_sessions() {
        let mut table = SessionTable::new(10);
        table.add(1, 100, 0);
        table.add(2, 50, 0);
        assert_eq!(table.take_expired(100), vec![1, 2]);
        table.restart_all(1_000);
        assert!(table.take_expired(1_049).is_empty());
        assert_eq!(table.take_expired(1_050), vec![2]);
        assert_eq!(table.take_expired(1_100), vec![1]);
    }
}
