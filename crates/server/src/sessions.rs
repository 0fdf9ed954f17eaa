//! Session liveness on the server that decides expiry (the leader; a standalone server is
//! always the leader). Expiry itself is a replicated `CloseSession` txn: this module only
//! decides *when*, from the last time each session was heard from.
//!
//! As in ZooKeeper, deadlines are rounded up to the next tick, so a session expires between
//! `timeout` and `timeout + tickTime` after its last request or ping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use corral_proto::consts::CONTAINER_EPHEMERAL_OWNER;
use parking_lot::Mutex;

struct Tracked {
    timeout_ms: u64,
    expires_at_ms: u64,
    closing: bool,
}

pub struct SessionTracker {
    tick_ms: u64,
    origin: Instant,
    sessions: Mutex<HashMap<i64, Tracked>>,
}

impl SessionTracker {
    pub fn new(tick_ms: u64) -> SessionTracker {
        SessionTracker {
            tick_ms: tick_ms.max(1),
            origin: Instant::now(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Monotonic milliseconds since the tracker started.
    pub fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn deadline(&self, now_ms: u64, timeout_ms: u64) -> u64 {
        let raw = now_ms + timeout_ms;
        raw.div_ceil(self.tick_ms) * self.tick_ms
    }

    /// Starts tracking a session (new, or known from the log after a restart or a leader change:
    /// then its timer starts afresh).
    pub fn add(&self, session_id: i64, timeout_ms: i32) {
        let timeout_ms = u64::try_from(timeout_ms).unwrap_or(0);
        let expires_at_ms = self.deadline(self.now_ms(), timeout_ms);
        self.sessions.lock().insert(
            session_id,
            Tracked {
                timeout_ms,
                expires_at_ms,
                closing: false,
            },
        );
    }

    /// Records activity; false when the session is unknown or already being closed.
    pub fn touch(&self, session_id: i64) -> bool {
        let now = self.now_ms();
        let mut sessions = self.sessions.lock();
        let Some(tracked) = sessions.get_mut(&session_id) else {
            return false;
        };
        if tracked.closing {
            return false;
        }
        tracked.expires_at_ms = self.deadline(now, tracked.timeout_ms);
        true
    }

    /// Changes the timeout of a re-attached session (the new connection negotiated it).
    pub fn set_timeout(&self, session_id: i64, timeout_ms: i32) {
        if let Some(tracked) = self.sessions.lock().get_mut(&session_id) {
            tracked.timeout_ms = u64::try_from(timeout_ms).unwrap_or(0);
        }
    }

    pub fn mark_closing(&self, session_id: i64) {
        if let Some(tracked) = self.sessions.lock().get_mut(&session_id) {
            tracked.closing = true;
        }
    }

    pub fn remove(&self, session_id: i64) {
        self.sessions.lock().remove(&session_id);
    }

    /// Sessions past their deadline, now marked closing (each is returned once).
    pub fn take_expired(&self) -> Vec<i64> {
        let now = self.now_ms();
        let mut expired: Vec<i64> = Vec::new();
        for (id, tracked) in self.sessions.lock().iter_mut() {
            if !tracked.closing && tracked.expires_at_ms <= now {
                tracked.closing = true;
                expired.push(*id);
            }
        }
        expired.sort_unstable();
        expired
    }

    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sessions grouped by expiry time (for the `dump` 4lw), ordered.
    pub fn by_deadline(&self) -> Vec<(u64, Vec<i64>)> {
        let mut groups: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
        for (id, tracked) in self.sessions.lock().iter() {
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

/// Allocates session ids as ZooKeeper does: the server id in the top byte, the low 40 bits of
/// the start time in ms in bits 16–55, a counter in the low bits. Unique across servers and
/// restarts without coordination.
pub struct SessionIdAllocator {
    next: AtomicI64,
}

impl SessionIdAllocator {
    pub fn new(server_id: u64, start_ms: u64) -> SessionIdAllocator {
        let time_bits = ((start_ms << 24) >> 8) as i64;
        let first = time_bits | ((server_id as i64) << 56);
        SessionIdAllocator {
            next: AtomicI64::new(first),
        }
    }

    pub fn allocate(&self) -> i64 {
        loop {
            let id = self.next.fetch_add(1, Ordering::AcqRel);
            if id != CONTAINER_EPHEMERAL_OWNER && id != 0 {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_server_id_and_increase() {
        let alloc = SessionIdAllocator::new(1, 0x0123_4567_89ab);
        let a = alloc.allocate();
        let b = alloc.allocate();
        assert_eq!(a >> 56, 1);
        assert_eq!(b, a + 1);
        assert_eq!(
            (a >> 16) & 0xff_ffff_ffff,
            0x0123_4567_89ab & 0xff_ffff_ffff
        );
    }

    #[test]
    fn deadlines_round_up_to_ticks_and_expire_once() {
        let tracker = SessionTracker::new(10);
        tracker.add(7, 0);
        std::thread::sleep(std::time::Duration::from_millis(25));
        assert_eq!(tracker.take_expired(), vec![7]);
        assert!(tracker.take_expired().is_empty());
        assert!(!tracker.touch(7));
        tracker.remove(7);
        assert!(tracker.is_empty());
    }
}
