//! Sessions across a leader change: the ephemeral of a session whose client keeps pinging
//! (re-attaching to another server when its connection ends) survives the old leader being
//! isolated; the ephemeral of a session whose client died disappears once its timeout has
//! passed, and a watcher sees that exactly once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_client::corral_proto::consts::{add_watch_mode, event_type, CreateMode};
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::ErrorCode;
use corral_client::{Client, ClientError, ConnectOptions, Notification};

use crate::cluster::{blocking, connect_within, open_acl, Cluster, Options, LEADER_WAIT};

const LIVE_TIMEOUT_MS: i32 = 8_000;
const DEAD_TIMEOUT_MS: i32 = 6_000;

/// A session kept alive by its client: pings (the client's own), and on connection loss a
/// re-attach by id and password to the next server that takes it.
struct LiveSession {
    client: Arc<Mutex<Client>>,
    stop: Arc<AtomicBool>,
    expired: Arc<AtomicBool>,
    reattached: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveSession {
    async fn start(cluster: &Cluster, home: usize) -> LiveSession {
        let options = ConnectOptions {
            timeout_ms: LIVE_TIMEOUT_MS,
            ..ConnectOptions::default()
        };
        let first = connect_within(&cluster.addr(home), options, LEADER_WAIT).await;
        let client = Arc::new(Mutex::new(first.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let expired = Arc::new(AtomicBool::new(false));
        let reattached = Arc::new(AtomicU64::new(0));
        let addrs = cluster.addrs();
        let task = tokio::spawn({
            let (client, stop, expired, reattached) = (
                client.clone(),
                stop.clone(),
                expired.clone(),
                reattached.clone(),
            );
            async move {
                let session_id = first.session_id();
                let password = first.password();
                let mut current = first;
                let mut server = home;
                while !stop.load(Ordering::Relaxed) {
                    let reason = tokio::select! {
                        reason = current.closed() => reason,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    };
                    println!(
                        "live session: connection to server {} ended: {reason}",
                        server + 1
                    );
                    'reattach: loop {
                        for k in 1..=addrs.len() {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let candidate = (server + k) % addrs.len();
                            let options = ConnectOptions {
                                timeout_ms: LIVE_TIMEOUT_MS,
                                session_id,
                                password: Some(password.clone()),
                                last_zxid_seen: current.last_zxid(),
                                connect_timeout_ms: 1_500,
                                ..ConnectOptions::default()
                            };
                            match Client::connect(&addrs[candidate], options).await {
                                Ok(next) => {
                                    println!(
                                        "live session: re-attached on server {}",
                                        candidate + 1
                                    );
                                    current = next.clone();
                                    *client.lock().unwrap() = next;
                                    server = candidate;
                                    reattached.fetch_add(1, Ordering::Relaxed);
                                    break 'reattach;
                                }
                                Err(ClientError::SessionExpired { .. }) => {
                                    expired.store(true, Ordering::Relaxed);
                                    return;
                                }
                                Err(_) => {}
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        LiveSession {
            client,
            stop,
            expired,
            reattached,
            task,
        }
    }

    fn client(&self) -> Client {
        self.client.lock().unwrap().clone()
    }

    fn session_id(&self) -> i64 {
        self.client().session_id()
    }

    /// Runs `f` on the current connection, retrying (for up to `within`) while it fails with
    /// a connection error.
    async fn with_client<T, F, Fut>(&self, within: Duration, f: F) -> T
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let started = Instant::now();
        loop {
            assert!(
                !self.expired.load(Ordering::Relaxed),
                "the live session expired"
            );
            match f(self.client()).await {
                Ok(value) => return value,
                Err(e) => assert!(
                    started.elapsed() < within,
                    "the live session cannot serve within {within:?}: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let client = self.client();
        self.task.await.expect("live session task");
        let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
    }
}

async fn exists(client: &Client, path: &str) -> Option<i64> {
    assert_eq!(client.sync(path).await.unwrap().code(), ErrorCode::Ok);
    let reply = client.exists(path, false).await.unwrap();
    match reply.result {
        Ok(Response::Stat(stat)) => Some(stat.ephemeral_owner),
        Err(ErrorCode::NoNode) => None,
        other => panic!("exists {path}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemerals_survive_a_leader_change_and_a_dead_session_expires_once() {
    let cluster = blocking(|| Cluster::start(Options::proxied(3)));
    let leader = blocking(|| cluster.wait_for_leader());
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let options = |timeout_ms| ConnectOptions {
        timeout_ms,
        ..ConnectOptions::default()
    };
    let setup = connect_within(&cluster.addr(leader), options(30_000), LEADER_WAIT).await;
    let created = setup
        .create("/f", b"", open_acl(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(created.code(), ErrorCode::Ok);
    drop(setup);

    // The live session sits on the leader, which is about to be cut off: it must notice and
    // move (ZooKeeper's leader drops its clients when it loses its quorum).
    let live = LiveSession::start(&cluster, leader).await;
    let created = live
        .client()
        .create("/f/live", b"", open_acl(), CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(created.code(), ErrorCode::Ok);
    // The dead one sits on a follower that stays in the majority.
    let dead = connect_within(
        &cluster.addr(others[0]),
        options(DEAD_TIMEOUT_MS),
        LEADER_WAIT,
    )
    .await;
    let dead_timeout = Duration::from_millis(dead.negotiated_timeout_ms() as u64);
    let created = dead
        .create("/f/dead", b"", open_acl(), CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(created.code(), ErrorCode::Ok);
    let dead_session = dead.session_id();
    let dead_password = dead.password();
    drop(dead); // no closeSession: the client just vanishes
    let dropped = Instant::now();

    cluster.isolate(leader);
    let new_leader = blocking(|| cluster.wait_for_leader_among(&others, LEADER_WAIT));
    println!(
        "server {} isolated: server {} leads after {:?}",
        leader + 1,
        new_leader + 1,
        dropped.elapsed()
    );

    // Two watchers on the majority side, armed after the leader change (watches are per
    // connection, and a leader change closes connections): one with ordinary one-shot
    // watches (getChildren on the parent, exists on the node), one with persistent watches on
    // both, which would also show a second deletion or any other change of /f's children.
    let watcher = connect_within(&cluster.addr(others[1]), options(30_000), LEADER_WAIT).await;
    let mut events = watcher.take_notifications().expect("notifications");
    assert_eq!(watcher.sync("/f").await.unwrap().code(), ErrorCode::Ok);
    let children = watcher.get_children("/f", true).await.unwrap();
    let Ok(Response::GetChildren { mut children }) = children.result else {
        panic!("getChildren /f: {children:?}");
    };
    children.sort();
    assert_eq!(
        children,
        ["dead", "live"],
        "{:?} after the dead client vanished: its session expired before its timeout \
         ({dead_timeout:?})",
        dropped.elapsed()
    );
    let armed = watcher.exists("/f/dead", true).await.unwrap();
    assert_eq!(armed.code(), ErrorCode::Ok);
    let persistent = connect_within(&cluster.addr(others[0]), options(30_000), LEADER_WAIT).await;
    let mut persistent_events = persistent.take_notifications().expect("notifications");
    for path in ["/f", "/f/dead"] {
        let added = persistent
            .add_watch(path, add_watch_mode::PERSISTENT)
            .await
            .unwrap();
        assert_eq!(added.code(), ErrorCode::Ok, "addWatch {path}");
    }
    let still_there = exists(&persistent, "/f/dead").await;
    assert!(
        still_there.is_some(),
        "the dead session expired before its timeout"
    );

    // Both events arrive on both connections once the dead session expires.
    let deadline = Instant::now() + dead_timeout * 3 + Duration::from_secs(10);
    // Sorted, as the received events are before comparing.
    let expected = [
        (event_type::NODE_DELETED, "/f/dead"),
        (event_type::NODE_CHILDREN_CHANGED, "/f"),
    ];
    let mut seen = Vec::new();
    for (name, client, events) in [
        ("one-shot", &watcher, &mut events),
        ("persistent", &persistent, &mut persistent_events),
    ] {
        let mut got: Vec<Notification> = Vec::new();
        while got.len() < expected.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, events.recv()).await {
                Ok(Some(n)) => got.push(n),
                Ok(None) => panic!(
                    "the {name} watcher's connection ended: {:?}\n{}",
                    client.close_reason(),
                    cluster.logs()
                ),
                Err(_) => panic!(
                    "the dead session's ephemeral was not deleted within {:?} of its client \
                     vanishing ({name} events {got:?})\n{}",
                    dropped.elapsed(),
                    cluster.logs()
                ),
            }
        }
        seen.push((name, got));
    }
    let expired_after = dropped.elapsed();
    println!("dead session 0x{dead_session:x} expired {expired_after:?} after its client vanished");
    assert!(
        expired_after + Duration::from_secs(1) >= dead_timeout,
        "expired after {expired_after:?}, before its timeout {dead_timeout:?}"
    );
    // Exactly once: nothing more arrives on either connection.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (name, events) in [
        ("one-shot", &mut events),
        ("persistent", &mut persistent_events),
    ] {
        if let Some(n) = events.try_recv() {
            panic!("an extra {name} event after the expiry: {n:?} (before: {seen:?})");
        }
    }
    for (name, got) in &seen {
        let mut got: Vec<(i32, &str)> = got
            .iter()
            .map(|n| (n.event_type, n.path.as_str()))
            .collect();
        got.sort();
        assert_eq!(got, expected, "{name} events");
    }
    let children = watcher.get_children2("/f", false).await.unwrap();
    let Ok(Response::GetChildren2 { children, stat }) = children.result else {
        panic!("getChildren2 /f: {children:?}");
    };
    assert_eq!(children, ["live"]);
    assert_eq!(
        stat.cversion, 3,
        "two creates and one delete change /f's children"
    );

    // The dead session is gone for good: re-attaching to it is refused.
    let reattach = Client::connect(
        &cluster.addr(others[1]),
        ConnectOptions {
            session_id: dead_session,
            password: Some(dead_password),
            ..options(DEAD_TIMEOUT_MS)
        },
    )
    .await;
    assert!(
        matches!(reattach, Err(ClientError::SessionExpired { .. })),
        "re-attaching to the expired session: {reattach:?}"
    );

    // The live session survived the leader change, and its ephemeral with it.
    assert_eq!(
        exists(&watcher, "/f/live").await,
        Some(live.session_id()),
        "the live session's ephemeral is gone\n{}",
        cluster.logs()
    );
    cluster.heal();
    blocking(|| cluster.wait_for_leader());
    let written = live
        .with_client(LEADER_WAIT, |client| async move {
            client.set_data("/f/live", b"still here", -1).await
        })
        .await;
    assert_eq!(written.code(), ErrorCode::Ok, "{}", cluster.logs());
    for i in 0..3 {
        let client = connect_within(&cluster.addr(i), options(30_000), LEADER_WAIT).await;
        assert_eq!(
            exists(&client, "/f/live").await,
            Some(live.session_id()),
            "server {}",
            i + 1
        );
        assert_eq!(exists(&client, "/f/dead").await, None, "server {}", i + 1);
    }
    println!(
        "live session re-attached {} times",
        live.reattached.load(Ordering::Relaxed)
    );
    assert!(!live.expired.load(Ordering::Relaxed));
    live.stop().await;
}
