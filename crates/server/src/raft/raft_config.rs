//! openraft's settings for this server, from named limits: the timeouts, the snapshot policy,
//! the batch sizes.

use openraft::SnapshotPolicy;

/// Raft's timers. A standalone server (a one-voter cluster) never waits for a peer, so these
/// only bound how soon it leads after a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RaftTimeouts {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// The budget openraft hands the transport for one snapshot (the transport applies an
    /// idle timeout per chunk instead; see `corral-peer`).
    pub install_snapshot_timeout_ms: u64,
    /// openraft's `quorum_loss_probe_interval` (the liveness fix of openraft #2080); `None`
    /// for a one-voter cluster, which has no quorum to lose.
    pub quorum_loss_probe_interval_ms: Option<u64>,
    /// Whether a server that led before a restart leads again at once (openraft's
    /// `enable_leader_restore`): right for a one-voter cluster (no election to wait for); not
    /// for an ensemble member, which would claim a leadership the others have moved on from
    /// and take writes it cannot commit until it learns the newer term.
    pub leader_restore: bool,
}

impl RaftTimeouts {
    /// An ensemble's timers, from zoo.cfg's tickTime/initLimit/syncLimit (mapped in
    /// `config::ensemble`).
    pub(crate) fn ensemble(t: &crate::config::RaftTimeoutsMs) -> RaftTimeouts {
        RaftTimeouts {
            heartbeat_interval_ms: t.heartbeat_interval_ms,
            election_timeout_min_ms: t.election_timeout_min_ms,
            election_timeout_max_ms: t.election_timeout_max_ms,
            install_snapshot_timeout_ms: t.install_snapshot_timeout_ms,
            quorum_loss_probe_interval_ms: Some(
                t.election_timeout_max_ms * QUORUM_LOSS_PROBE_PER_ELECTION_TIMEOUT_MAX,
            ),
            leader_restore: false,
        }
    }
}

/// openraft requires the probe interval to be at least twice the largest election timeout.
const QUORUM_LOSS_PROBE_PER_ELECTION_TIMEOUT_MAX: u64 = 2;

/// A one-voter cluster's timers.
pub(crate) const STANDALONE_TIMEOUTS: RaftTimeouts = RaftTimeouts {
    heartbeat_interval_ms: 250,
    election_timeout_min_ms: 1000,
    election_timeout_max_ms: 2000,
    install_snapshot_timeout_ms: 10_000,
    quorum_loss_probe_interval_ms: None,
    leader_restore: true,
};

/// Entries per AppendEntries and per storage append, at most.
const PAYLOAD_ENTRIES_MAX: u64 = 4096;
/// Log entries purged at a time once a snapshot covers them.
const PURGE_BATCH_ENTRIES: u64 = 256;

#[derive(Debug, thiserror::Error)]
#[error("invalid raft settings: {0}")]
pub struct RaftConfigError(String);

/// Builds openraft's config. `snapshot_interval_entries` is this server's randomised
/// interval between snapshots; `log_kept_entries` how much log stays behind the newest
/// snapshot (back to the previous one, so that if the newest snapshot file is ever damaged
/// the server can start from the previous one plus the log).
pub(crate) fn build(
    timeouts: RaftTimeouts,
    snapshot_interval_entries: u64,
    log_kept_entries: u64,
) -> Result<openraft::Config, RaftConfigError> {
    let config = openraft::Config {
        cluster_name: "corral".to_owned(),
        heartbeat_interval: timeouts.heartbeat_interval_ms,
        election_timeout_min: timeouts.election_timeout_min_ms,
        election_timeout_max: timeouts.election_timeout_max_ms,
        install_snapshot_timeout: timeouts.install_snapshot_timeout_ms,
        quorum_loss_probe_interval: timeouts.quorum_loss_probe_interval_ms,
        enable_leader_restore: Some(timeouts.leader_restore),
        // A member whose data directory was lost (a replaced disk, an operator's wipe) comes
        // back with an empty log. openraft takes that for a bug and by default never
        // replicates to it again: the server stays a follower at zxid 0 forever. ZooKeeper
        // syncs such a server (a SNAP) and operators rely on it, so the leader here starts
        // that follower's replication over. Resending the log or a snapshot loses nothing;
        // the risk of a wiped voter (its vote no longer covers what it acknowledged) comes
        // from the wipe, and catching it up is what shortens it.
        allow_log_reversion: Some(true),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_interval_entries),
        max_in_snapshot_log_to_keep: log_kept_entries,
        purge_batch_size: PURGE_BATCH_ENTRIES,
        max_payload_entries: PAYLOAD_ENTRIES_MAX,
        ..Default::default()
    };
    config
        .validate()
        .map_err(|e| RaftConfigError(e.to_string()))
}

/// Entries between snapshots: like ZooKeeper, a random count in [snapCount/2 + 1, snapCount]
/// (drawn once per start, from `random`) so the servers of an ensemble do not all snapshot at
/// once.
pub(crate) fn snapshot_interval(snap_count: u64, random: u64) -> u64 {
    let half = (snap_count / 2).max(1);
    let span = snap_count.max(half + 1) - half;
    half + 1 + random % span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_interval_stays_in_range() {
        for random in [0, 1, 7, u64::MAX] {
            let n = snapshot_interval(100_000, random);
            assert!((50_001..=100_000).contains(&n), "{n}");
        }
        assert_eq!(snapshot_interval(2, 5), 2);
    }

    #[test]
    fn standalone_settings_are_valid() {
        build(STANDALONE_TIMEOUTS, 1000, 1000).unwrap();
    }
}
