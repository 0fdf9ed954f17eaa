//! `globalOutstandingLimit`: how many client writes this server may have in the log (proposed,
//! not yet answered) at once. Past it, connections wait before proposing more, which stops
//! their readers: the same back-pressure ZooKeeper applies by no longer reading from sockets.
//! Without a bound, clients that pipeline writes faster than the disk commits them would queue
//! an unbounded number of entries in openraft's channels and the log.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct WriteGate {
    outstanding: AtomicUsize,
    limit: usize,
    released: Notify,
}

impl WriteGate {
    pub(crate) fn new(limit: usize) -> WriteGate {
        WriteGate {
            outstanding: AtomicUsize::new(0),
            limit: limit.max(1),
            released: Notify::new(),
        }
    }

    /// Takes one place, waiting while all `limit` are taken.
    pub(crate) async fn acquire(&self) {
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let current = self.outstanding.load(Ordering::Acquire);
            if current < self.limit {
                if self
                    .outstanding
                    .compare_exchange(current, current + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            notified.await;
        }
    }

    /// Gives back `count` places.
    pub(crate) fn release(&self, count: usize) {
        if count == 0 {
            return;
        }
        let before = self.outstanding.fetch_sub(count, Ordering::AcqRel);
        debug_assert!(before >= count, "write gate released more than it lent");
        self.released.notify_waiters();
    }

    /// Writes of this server in the log now (`zk_outstanding_requests`).
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_at_the_limit_until_released() {
        let gate = Arc::new(WriteGate::new(2));
        gate.acquire().await;
        gate.acquire().await;
        assert_eq!(gate.outstanding(), 2);
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "third write must wait");
        gate.release(1);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("released")
            .unwrap();
        assert_eq!(gate.outstanding(), 2);
    }
}
