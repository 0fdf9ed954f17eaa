//! SIGKILL under the recorded workload: the leader, then (once it is back) a follower, each
//! restarted on its data directory. Every acknowledged write must survive (the final reads
//! and the markers), and the history must check.

use std::time::{Duration, Instant};

use crate::cluster::{blocking, Cluster, Options, LEADER_WAIT};
use crate::workload::{Spec, Workload};

/// How long each phase runs at least.
const PHASE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_leader_and_of_follower_under_load() {
    let mut cluster = blocking(|| Cluster::start(Options::direct(3)));
    let leader = blocking(|| cluster.wait_for_leader());
    let workload = Workload::start(&cluster, leader, Spec::spread(3, 2)).await;
    workload.progress(&cluster, 0, None, PHASE).await;

    // The leader.
    let killed_at = workload.now();
    let started = Instant::now();
    blocking(|| cluster.kill(leader));
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let new_leader = blocking(|| cluster.wait_for_leader_among(&others, LEADER_WAIT));
    workload
        .progress(&cluster, killed_at, Some(leader), Duration::ZERO)
        .await;
    println!(
        "leader {} killed: server {} leads, 20 writes acknowledged again after {:?}",
        leader + 1,
        new_leader + 1,
        started.elapsed()
    );
    workload
        .progress(&cluster, killed_at, Some(leader), PHASE)
        .await;
    blocking(|| cluster.launch(leader));
    let current = blocking(|| cluster.wait_for_leader());
    let restarted_at = workload.now();
    workload.progress(&cluster, restarted_at, None, PHASE).await;

    // A follower: the one that was not just restarted, unless it leads now.
    let follower = (0..3)
        .find(|&i| i != current && i != leader)
        .unwrap_or(leader);
    let killed_at = workload.now();
    blocking(|| cluster.kill(follower));
    workload
        .progress(&cluster, killed_at, Some(follower), PHASE)
        .await;
    blocking(|| cluster.launch(follower));
    blocking(|| cluster.wait_for_leader());
    let restarted_at = workload.now();
    workload.progress(&cluster, restarted_at, None, PHASE).await;
    workload.finish(&mut cluster).await;
}
