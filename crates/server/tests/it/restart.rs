//! A server restarted on the same (in-memory) disk comes back with its tree and sessions.

use corral_client::corral_proto::consts::{perms, CreateMode};
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::{Acl, ErrorCode};
use corral_client::ConnectOptions;

use crate::support::{config, connect, pinging, start_on};

#[tokio::test(start_paused = true)]
async fn tree_and_sessions_survive_a_restart() {
    let vfs = corral_storage::mem_vfs::MemVfs::new();
    let node = start_on(config(), &vfs).await;
    let client = connect(&node, pinging(30_000)).await;
    let acl = vec![Acl::new(perms::ALL, "world", "anyone")];
    client
        .create("/p", b"persist", acl.clone(), CreateMode::Persistent)
        .await
        .unwrap();
    client
        .create("/p/e", b"", acl, CreateMode::Ephemeral)
        .await
        .unwrap();
    let (session_id, password, zxid) = (client.session_id(), client.password(), client.last_zxid());
    node.shutdown().await;

    let node = start_on(config(), &vfs).await;
    let again = connect(
        &node,
        ConnectOptions {
            session_id,
            password: Some(password),
            last_zxid_seen: zxid,
            ..pinging(30_000)
        },
    )
    .await;
    assert_eq!(again.session_id(), session_id, "the session re-attaches");
    let data = again.get_data("/p", false).await.unwrap();
    let Ok(Response::GetData { data, .. }) = data.result else {
        panic!("/p is gone");
    };
    assert_eq!(data.as_deref(), Some(&b"persist"[..]));
    assert_eq!(
        again.exists("/p/e", false).await.unwrap().code(),
        ErrorCode::Ok
    );
    node.shutdown().await;
}
