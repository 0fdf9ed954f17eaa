//! Network partitions through the per-link proxies, under the recorded workload: the leader
//! isolated, a follower isolated, and one-way loss from the leader to one follower.

use std::time::{Duration, Instant};

use corral_testkit::proxy::{Direction, Mode};

use crate::cluster::{blocking, create_through, Cluster, Options, LEADER_WAIT};
use crate::workload::{is_acked_write, Spec, Workload, PROGRESS_WAIT};

/// How long each phase runs at least.
const PHASE: Duration = Duration::from_secs(2);

/// The leader loses every link (black hole: connections stay open and silent). The two others
/// elect a new leader and keep serving; after healing, the old leader rejoins as a follower.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_leader_is_replaced_and_rejoins_as_follower() {
    let mut cluster = blocking(|| Cluster::start(Options::proxied(3)));
    let leader = blocking(|| cluster.wait_for_leader());
    let workload = Workload::start(&cluster, leader, Spec::spread(3, 2)).await;
    workload.progress(&cluster, 0, None, PHASE).await;

    let isolated_at = workload.now();
    let started = Instant::now();
    cluster.isolate(leader);
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let new_leader = blocking(|| cluster.wait_for_leader_among(&others, LEADER_WAIT));
    println!(
        "server {} isolated: server {} leads after {:?} (the isolated one says {:?})",
        leader + 1,
        new_leader + 1,
        started.elapsed(),
        blocking(|| cluster.mode(leader))
    );
    // The majority keeps serving.
    workload
        .progress(&cluster, isolated_at, Some(leader), PHASE * 2)
        .await;

    let healed_at = workload.now();
    cluster.heal();
    let healed = Instant::now();
    // A leader cut off from its quorum acknowledges nothing invoked after the cut.
    let acked = workload.recorder().count(|op, server| {
        server == leader
            && op.invoked_at >= isolated_at
            && is_acked_write(op)
            && op.completion.as_ref().is_some_and(|c| c.at < healed_at)
    });
    assert_eq!(
        acked,
        0,
        "the isolated leader acknowledged writes\n{}",
        cluster.logs()
    );
    let leader_after = blocking(|| cluster.wait_for_leader());
    assert_ne!(
        leader_after, leader,
        "the old leader's log ends in an older term: it cannot win"
    );
    println!(
        "healed: server {} follows again after {:?}",
        leader + 1,
        healed.elapsed()
    );
    let rejoined_at = workload.now();
    workload.progress(&cluster, rejoined_at, None, PHASE).await;
    workload.finish(&mut cluster).await;
}

/// A follower loses every link, in a partition TCP survives (bytes are held, then delivered):
/// writes continue through the two others, the isolated server's own clients get no write
/// acknowledged while it is cut off, and after healing it serves writes again and catches up
/// (the final sync + reads agree on every server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_follower_acknowledges_nothing_and_catches_up() {
    isolated_follower(Mode::Hold).await;
}

/// The same behind a black hole: every connection that lost bytes stays open and silent after
/// healing (as when a middlebox forgets a connection), so the servers must notice dead
/// connections by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_follower_behind_a_black_hole_serves_writes_after_healing() {
    isolated_follower(Mode::Drop).await;
}

async fn isolated_follower(partition: Mode) {
    let mut cluster = blocking(|| Cluster::start(Options::proxied(3)));
    let leader = blocking(|| cluster.wait_for_leader());
    let follower = (leader + 1) % 3;
    let spec = Spec::spread(3, 2).with_pinned(follower, 2);
    let workload = Workload::start(&cluster, leader, spec).await;
    workload.progress(&cluster, 0, None, PHASE).await;

    let isolated_at = workload.now();
    cluster.isolate_with(follower, partition);
    // Long enough for the pinned clients to try, and the isolated server to give up.
    workload
        .progress(&cluster, isolated_at, Some(follower), PHASE * 2)
        .await;
    let healed_at = workload.now();
    cluster.heal();

    let during =
        |op: &corral_history::Op| op.invoked_at >= isolated_at && op.invoked_at < healed_at;
    let attempted = workload
        .recorder()
        .count(|op, server| server == follower && during(op) && !op.operation.is_read());
    let acked = workload.recorder().count(|op, server| {
        server == follower
            && during(op)
            && is_acked_write(op)
            && op.completion.as_ref().is_some_and(|c| c.at < healed_at)
    });
    println!(
        "isolated server {} ({partition:?}): {attempted} writes attempted on it while cut off, \
         {acked} acknowledged",
        follower + 1
    );
    assert_eq!(
        acked,
        0,
        "a server cut off from the others acknowledged writes\n{}",
        cluster.logs()
    );

    blocking(|| cluster.wait_for_leader());
    let took = create_through(&cluster, follower, "/after-healing", PROGRESS_WAIT).await;
    println!(
        "healed: a write through server {} acknowledged after {took:?}",
        follower + 1
    );
    let after = workload.now();
    workload.progress(&cluster, after, None, PHASE).await;
    workload.finish(&mut cluster).await;
}

/// Every byte from the leader to one follower is lost (on the connections either of them
/// opened), while the follower's bytes still reach the leader: the ensemble keeps serving
/// throughout, and after healing the follower serves writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_loss_from_leader_to_a_follower() {
    one_way_loss(Lost::LeaderToFollower).await;
}

/// The other way round: the follower's bytes to the leader are lost, the leader's still reach
/// it. The follower keeps hearing its leader, so nothing makes it drop its stream to the
/// leader, into which its clients' writes now vanish; after healing the stream stays dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_loss_from_a_follower_to_the_leader() {
    one_way_loss(Lost::FollowerToLeader).await;
}

#[derive(Debug, Clone, Copy)]
enum Lost {
    LeaderToFollower,
    FollowerToLeader,
}

async fn one_way_loss(lost: Lost) {
    let mut cluster = blocking(|| Cluster::start(Options::proxied(3)));
    let leader = blocking(|| cluster.wait_for_leader());
    let follower = (leader + 1) % 3;
    let workload = Workload::start(&cluster, leader, Spec::spread(3, 2)).await;
    workload.progress(&cluster, 0, None, PHASE).await;

    let cut_at = workload.now();
    // On the connections the leader opened to the follower the follower is the target, on
    // the ones the follower opened it is the client.
    let (leader_opened, follower_opened) = match lost {
        Lost::LeaderToFollower => (Direction::FromTarget, Direction::ToTarget),
        Lost::FollowerToLeader => (Direction::ToTarget, Direction::FromTarget),
    };
    cluster
        .link(leader, follower)
        .set_mode(Mode::OneWay(leader_opened));
    cluster
        .link(follower, leader)
        .set_mode(Mode::OneWay(follower_opened));
    workload
        .progress(&cluster, cut_at, Some(follower), PHASE)
        .await;
    // By now the follower has timed out on the leader (or the leader on it): the others
    // must still serve.
    let later = workload.now();
    workload
        .progress(&cluster, later, Some(follower), PHASE)
        .await;
    println!(
        "one-way loss ({lost:?}, server {} -> {}): modes {:?}",
        leader + 1,
        follower + 1,
        blocking(|| cluster.modes())
    );

    cluster.heal();
    blocking(|| cluster.wait_for_leader());
    let took = create_through(&cluster, follower, "/after-healing", PROGRESS_WAIT).await;
    println!(
        "healed: a write through server {} acknowledged after {took:?}",
        follower + 1
    );
    let healed_at = workload.now();
    workload.progress(&cluster, healed_at, None, PHASE).await;
    workload.finish(&mut cluster).await;
}
