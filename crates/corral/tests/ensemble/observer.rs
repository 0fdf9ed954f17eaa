//! A 3-participant + 1-observer ensemble: the observer serves reads and forwards writes, and
//! losing it does not stop writes.

use std::time::Duration;

use crate::cluster::{
    blocking, create_data_through, create_through, read_through, Cluster, Options, LEADER_WAIT,
};
use crate::workload::{is_acked_write, Spec, Workload, PROGRESS_WAIT};

/// How long each phase runs at least.
const PHASE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_serves_reads_forwards_writes_and_is_not_needed() {
    let mut cluster = blocking(|| {
        Cluster::start(Options {
            observers: 1,
            ..Options::proxied(3)
        })
    });
    let observer = 3;
    let leader = blocking(|| cluster.wait_for_leader());
    assert_eq!(
        blocking(|| cluster.mode(observer)).as_deref(),
        Some("observer")
    );
    // A write through the observer is acknowledged, readable there at once, and everywhere
    // after sync.
    create_data_through(&cluster, observer, "/via-observer", b"o", PROGRESS_WAIT).await;
    for i in 0..3 {
        assert_eq!(
            read_through(&cluster, i, "/via-observer", PROGRESS_WAIT)
                .await
                .as_deref(),
            Some(&b"o"[..]),
            "server {}",
            i + 1
        );
    }
    // A write through the leader is read on the observer.
    create_data_through(&cluster, leader, "/via-leader", b"l", PROGRESS_WAIT).await;
    assert_eq!(
        read_through(&cluster, observer, "/via-leader", PROGRESS_WAIT)
            .await
            .as_deref(),
        Some(&b"l"[..])
    );

    // The recorded workload, one worker homed on each server (the observer included).
    let workload = Workload::start(&cluster, leader, Spec::spread(4, 1)).await;
    workload.progress(&cluster, 0, None, PHASE).await;
    let via_observer = workload
        .recorder()
        .count(|op, server| server == observer && is_acked_write(op));
    println!("writes acknowledged through the observer: {via_observer}");
    assert!(
        via_observer > 0,
        "no write through the observer acknowledged"
    );

    // Losing the observer costs no quorum.
    let killed_at = workload.now();
    blocking(|| cluster.kill(observer));
    workload
        .progress(&cluster, killed_at, Some(observer), PHASE)
        .await;
    create_through(&cluster, leader, "/after-observer", PROGRESS_WAIT).await;
    workload.finish(&mut cluster).await;
}

/// Every server must reach the others at the addresses of its own zoo.cfg, also once the
/// leader has added the observer to the membership: isolating the leader then still leaves two
/// participants (and the observer) that elect a new leader and serve writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_leader_is_replaced_once_an_observer_joined() {
    let cluster = blocking(|| {
        Cluster::start(Options {
            observers: 1,
            ..Options::proxied(3)
        })
    });
    let observer = 3;
    let leader = blocking(|| cluster.wait_for_leader());
    assert_eq!(
        blocking(|| cluster.mode(observer)).as_deref(),
        Some("observer")
    );
    create_through(&cluster, observer, "/joined", PROGRESS_WAIT).await;

    cluster.isolate(leader);
    let others: Vec<usize> = (0..4).filter(|&i| i != leader).collect();
    let new_leader = blocking(|| cluster.wait_for_leader_among(&others, LEADER_WAIT));
    create_through(&cluster, new_leader, "/after-isolation", PROGRESS_WAIT).await;
    create_through(
        &cluster,
        observer,
        "/after-isolation-via-observer",
        PROGRESS_WAIT,
    )
    .await;
    cluster.heal();
    blocking(|| cluster.wait_for_leader());
    create_through(&cluster, leader, "/after-healing", PROGRESS_WAIT).await;
}
