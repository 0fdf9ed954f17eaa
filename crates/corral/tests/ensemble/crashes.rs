//! SIGKILL under the recorded workload: the leader, then (once it is back) a follower, each
//! restarted on its data directory. Every acknowledged write must survive (the final reads
//! and the markers), and the history must check.

use std::time::{Duration, Instant};

use crate::cluster::{blocking, create_through, read_through, Cluster, Options, LEADER_WAIT};
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

/// A follower whose data directory is lost (a replaced disk) comes back empty and catches up
/// with no writes going on: nothing new to replicate wakes the leader's replication to it, so
/// the leader must notice by itself that the old connection died and start over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_lost_its_data_catches_up_while_nothing_is_written() {
    let mut cluster = blocking(|| Cluster::start(Options::direct(3)));
    let leader = blocking(|| cluster.wait_for_leader());
    for n in 0..20 {
        create_through(&cluster, leader, &format!("/before-{n}"), LEADER_WAIT).await;
    }
    let follower = (leader + 1) % 3;
    blocking(|| cluster.kill(follower));
    cluster.wipe_data(follower);
    blocking(|| cluster.launch(follower));
    let want = cluster.zxid(leader).expect("the leader answers srvr");
    let started = Instant::now();
    loop {
        if cluster.zxid(follower).as_deref() == Some(want.as_str())
            && cluster.mode(follower).as_deref() == Some("follower")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server {} stayed at zxid {:?} (leader {want}) after {:?}\n{}",
            follower + 1,
            cluster.zxid(follower),
            started.elapsed(),
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "server {} caught up from empty in {:?}",
        follower + 1,
        started.elapsed()
    );
    let read = read_through(&cluster, follower, "/before-19", LEADER_WAIT).await;
    assert_eq!(read.as_deref(), Some(&b""[..]));
}
