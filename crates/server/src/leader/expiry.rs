//! Session expiry, on the leader: every tick, the sessions whose deadline passed are closed by
//! a replicated `CloseSession { expired: true }` txn, which deletes their ephemerals on every
//! server and ends their connections wherever they are.

use std::time::Duration;

use corral_tree::TxnKind;

use crate::proposer::Proposer;
use crate::sessions::Sessions;

/// Returns only when the log refuses a proposal (this server no longer leads or has stopped).
pub(crate) async fn run(proposer: &Proposer, sessions: &Sessions, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        for session_id in sessions.take_expired() {
            tracing::info!(
                session = format_args!("0x{session_id:x}"),
                "session expired"
            );
            let kind = TxnKind::CloseSession { expired: true };
            if let Err(err) = proposer.propose_internal(session_id, kind).await {
                tracing::warn!(%err, "expiry stopped");
                return;
            }
        }
    }
}
