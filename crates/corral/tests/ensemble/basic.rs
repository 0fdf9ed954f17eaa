//! Writes from any server, reads everywhere, the leader killed with SIGKILL under an open
//! session, and a restarted server catching up (no proxies, no faults beyond the kill).

use std::time::{Duration, Instant};

use corral_client::corral_proto::consts::CreateMode;
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::ErrorCode;
use corral_client::{Client, ConnectOptions};

use crate::cluster::{blocking, open_acl, Cluster, Options, LEADER_WAIT};

async fn connect(addr: &str) -> Client {
    let options = ConnectOptions {
        timeout_ms: 30_000,
        ..ConnectOptions::default()
    };
    Client::connect(addr, options).await.expect("connect")
}

async fn data_after_sync(client: &Client, path: &str) -> Option<Vec<u8>> {
    assert_eq!(client.sync(path).await.unwrap().code(), ErrorCode::Ok);
    match client.get_data(path, false).await.unwrap().result {
        Ok(Response::GetData { data, .. }) => Some(data.map(|d| d.to_vec()).unwrap_or_default()),
        Err(ErrorCode::NoNode) => None,
        other => panic!("getData {path}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_from_any_server_survive_the_leader_being_killed() {
    let mut ensemble = blocking(|| Cluster::start(Options::direct(3)));
    let leader = blocking(|| ensemble.wait_for_leader());
    let follower = (leader + 1) % 3;

    // A write through a follower is forwarded to the leader and answered by the follower.
    let on_follower = connect(&ensemble.addr(follower)).await;
    let created = on_follower
        .create("/a", b"from-follower", open_acl(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(created.code(), ErrorCode::Ok, "{}", ensemble.logs());
    // ...and read back at once on the same server (it applied the write before replying).
    let read = on_follower.get_data("/a", false).await.unwrap();
    assert!(matches!(read.result, Ok(Response::GetData { .. })));
    // Every server has it after sync.
    for i in 0..3 {
        let client = connect(&ensemble.addr(i)).await;
        assert_eq!(
            data_after_sync(&client, "/a").await.as_deref(),
            Some(&b"from-follower"[..]),
            "server {i}"
        );
    }
    // A write on the leader, many writes pipelined through the follower.
    let on_leader = connect(&ensemble.addr(leader)).await;
    on_leader
        .create("/b", b"from-leader", open_acl(), CreateMode::Persistent)
        .await
        .unwrap();
    let writes = (0..100).map(|i| {
        let client = &on_follower;
        async move {
            client
                .create(
                    &format!("/a/{i:03}"),
                    b"",
                    open_acl(),
                    CreateMode::Persistent,
                )
                .await
                .unwrap()
                .code()
        }
    });
    let codes = futures::future::join_all(writes).await;
    assert!(codes.iter().all(|c| *c == ErrorCode::Ok), "{codes:?}");

    // SIGKILL the leader: the two others elect a new one and keep every acknowledged write.
    blocking(|| ensemble.kill(leader));
    let killed_at = Instant::now();
    let new_leader = blocking(|| ensemble.wait_for_leader());
    assert_ne!(new_leader, leader);
    let survivor = connect(&ensemble.addr(new_leader)).await;
    let after = survivor
        .create("/c", b"after-failover", open_acl(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(after.code(), ErrorCode::Ok);
    println!(
        "failover: leader killed -> first acknowledged write in {:?}",
        killed_at.elapsed()
    );
    for path in ["/a", "/b", "/c"] {
        assert!(
            data_after_sync(&survivor, path).await.is_some(),
            "{path} lost"
        );
    }
    let children = survivor.get_children("/a", false).await.unwrap();
    let Ok(Response::GetChildren { children }) = children.result else {
        panic!("getChildren /a");
    };
    assert_eq!(children.len(), 100, "acknowledged pipelined writes lost");

    // The killed server restarts on its data and catches up.
    blocking(|| ensemble.launch(leader));
    blocking(|| ensemble.wait_for_leader());
    let started = Instant::now();
    let rejoined = loop {
        if let Ok(client) = Client::connect(&ensemble.addr(leader), ConnectOptions::default()).await
        {
            break client;
        }
        assert!(
            started.elapsed() < LEADER_WAIT,
            "restarted server never serves"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        data_after_sync(&rejoined, "/c").await.as_deref(),
        Some(&b"after-failover"[..])
    );
}
