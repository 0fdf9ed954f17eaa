//! Deletes empty containers and expired TTL nodes on ZooKeeper's schedule
//! (`znode.container.checkIntervalMs`, at most `znode.container.maxPerMinute`), on the leader:
//! the tree names the candidates, and each delete is a replicated txn that fails harmlessly if
//! the node gained a child or changed meanwhile.

use std::time::Duration;

use corral_tree::TxnKind;

use crate::clock::Clock;
use crate::config::slices::ReaperSchedule;
use crate::proposer::Proposer;
use crate::replica::Replica;

/// Returns only when the log refuses a proposal.
pub(crate) async fn run(
    proposer: &Proposer,
    replica: &Replica,
    clock: &dyn Clock,
    schedule: &ReaperSchedule,
) {
    let per_minute = u64::from(schedule.deletes_per_minute_max.max(1));
    let spacing = Duration::from_millis(60_000 / per_minute);
    let limit = usize::try_from(per_minute).unwrap_or(usize::MAX);
    let mut interval =
        tokio::time::interval(Duration::from_millis(schedule.check_interval_ms.max(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let candidates = replica.tree().reap_candidates(
            clock.wall_ms(),
            schedule.max_never_used_interval_ms,
            limit,
        );
        for path in candidates {
            if let Err(err) = proposer
                .propose_internal(0, TxnKind::DeleteContainer { path })
                .await
            {
                tracing::warn!(%err, "reaping stopped");
                return;
            }
            tokio::time::sleep(spacing).await;
        }
    }
}
