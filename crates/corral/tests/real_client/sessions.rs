//! Sessions: close (ephemerals gone at once, other sessions' watchers told), expiry after the
//! timeout once the connection is gone without a close (ephemerals gone, NodeDeleted, the
//! session refused on reconnect), re-attach with session id and password, and a wrong
//! password.

use std::time::{Duration, Instant};

use corral_client::{ClientError, ConnectOptions};
use zookeeper_client as zk;

use crate::support::*;

#[tokio::test]
async fn closing_a_session_deletes_its_ephemerals_at_once() {
    let server = Server::start();
    let observer = server.client().await;
    let owner = server.client().await;
    within("dir", owner.create("/s", b"", &PERSISTENT))
        .await
        .unwrap();
    within("e1", owner.create("/s/e1", b"", &EPHEMERAL))
        .await
        .unwrap();
    within("e2", owner.create("/s/e2-", b"", &EPHEMERAL_SEQUENTIAL))
        .await
        .unwrap();
    let (_, deleted) = within("watch", observer.check_and_watch_stat("/s/e1"))
        .await
        .unwrap();
    let (_, children) = within("watch", observer.list_and_watch_children("/s"))
        .await
        .unwrap();
    let info = owner.session().clone();

    // Dropping the last handle of a non-detached client sends closeSession.
    let closed_at = Instant::now();
    drop(owner);
    let event = within("NodeDeleted", deleted.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    let event = within("NodeChildrenChanged", children.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeChildrenChanged);
    assert!(
        closed_at.elapsed() < SESSION_TIMEOUT / 2,
        "a close is not an expiry: {:?}",
        closed_at.elapsed()
    );
    assert!(within("ls", observer.list_children("/s"))
        .await
        .unwrap()
        .is_empty());
    // The closed session cannot be resumed.
    let result = within(
        "resume closed",
        Server::connector()
            .with_session(info)
            .connect(&server.addr()),
    )
    .await;
    assert_eq!(result.err(), Some(zk::Error::SessionExpired));
}

#[tokio::test]
async fn a_dropped_connection_expires_after_the_timeout() {
    // tickTime 250: session timeouts 500..5000 ms.
    let server = Server::with_cfg(&[("tickTime", "250")]);
    let observer = server.client().await;
    let timeout = Duration::from_millis(1500);
    let owner = server
        .connect(
            zk::Client::connector()
                .with_session_timeout(timeout)
                .with_detached(),
        )
        .await;
    assert_eq!(owner.session_timeout(), timeout, "negotiated as asked");
    let (stat, _) = within("ephemeral", owner.create("/e", b"", &EPHEMERAL))
        .await
        .unwrap();
    assert_eq!(stat.ephemeral_owner, owner.session_id().0);
    let (_, deleted) = within("watch", observer.check_and_watch_stat("/e"))
        .await
        .unwrap();
    let info = owner.session().clone();

    // A detached client closes its connection, not its session: the server must expire it.
    let dropped_at = Instant::now();
    drop_and_wait_closed(owner).await;
    let event = within("NodeDeleted on expiry", deleted.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    let waited = dropped_at.elapsed();
    assert!(
        waited >= timeout - Duration::from_millis(300),
        "expired after {waited:?}, before the {timeout:?} timeout"
    );
    assert_eq!(within("exists", observer.check_stat("/e")).await, Ok(None));
    let result = within(
        "resume expired",
        Server::connector()
            .with_session(info)
            .connect(&server.addr()),
    )
    .await;
    assert_eq!(result.err(), Some(zk::Error::SessionExpired));
}

#[tokio::test]
async fn a_silent_client_is_expired_and_disconnected_by_the_server() {
    let server = Server::with_cfg(&[("tickTime", "250")]);
    let observer = server.client().await;
    // Our raw client without pings: the connection stays open but says nothing.
    let silent = server
        .raw_with(ConnectOptions {
            timeout_ms: 1000,
            ping: false,
            ..ConnectOptions::default()
        })
        .await;
    assert_eq!(silent.negotiated_timeout_ms(), 1000);
    let reply = silent
        .create(
            "/quiet",
            b"",
            crate::create::open_acl(),
            corral_client::corral_proto::consts::CreateMode::Ephemeral,
        )
        .await
        .unwrap();
    assert!(reply.result.is_ok(), "{reply:?}");
    let (_, deleted) = within("watch", observer.check_and_watch_stat("/quiet"))
        .await
        .unwrap();
    let event = within("expiry", deleted.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    // The server closes the expired session's connection.
    let reason = within("closed", silent.closed()).await;
    assert!(
        matches!(reason, ClientError::ConnectionClosed),
        "{reason:?}"
    );
    // Re-attaching is refused with a zero timeout.
    let result = server_connect_err(
        &server,
        ConnectOptions {
            session_id: silent.session_id(),
            password: Some(silent.password()),
            ..ConnectOptions::default()
        },
    )
    .await;
    assert!(
        matches!(result, ClientError::SessionExpired { timeout_ms: 0 }),
        "{result:?}"
    );
    // The observer's own session was kept alive by its pings throughout.
    within("observer", observer.check_stat("/")).await.unwrap();
}

async fn server_connect_err(server: &Server, options: ConnectOptions) -> ClientError {
    within(
        "connect",
        corral_client::Client::connect(&server.addr(), options),
    )
    .await
    .expect_err("the connect is refused")
}

#[tokio::test]
async fn a_session_is_resumed_with_its_id_and_password() {
    let server = Server::start();
    let first = server.connect(Server::connector().with_detached()).await;
    let id = first.session_id();
    within("ephemeral", first.create("/mine", b"", &EPHEMERAL))
        .await
        .unwrap();
    let (_, _, watch) = within("watch", first.get_and_watch_data("/mine"))
        .await
        .unwrap();
    let info = first.session().clone();
    drop(watch);
    drop_and_wait_closed(first).await;

    let resumed = server.connect(Server::connector().with_session(info)).await;
    assert_eq!(resumed.session_id(), id);
    let (_, stat) = within("get", resumed.get_data("/mine")).await.unwrap();
    assert_eq!(
        stat.ephemeral_owner, id.0,
        "the ephemeral survived the reconnect"
    );
    assert_eq!(
        within("ephemerals", resumed.list_ephemerals("/"))
            .await
            .unwrap(),
        ["/mine"]
    );

    // Through our raw client: the right id with a wrong password is refused. As in
    // ZooKeeper (reopenSession), the connection holding the session is closed before the
    // password is checked, so the resumed client reconnects; the session itself lives on.
    let wrong = server_connect_err(
        &server,
        ConnectOptions {
            session_id: id.0,
            password: Some(bytes::Bytes::from_static(&[7; 16])),
            ..ConnectOptions::default()
        },
    )
    .await;
    assert!(
        matches!(wrong, ClientError::SessionExpired { timeout_ms: 0 }),
        "{wrong:?}"
    );
    let stat = eventually("the resumed client reconnects", STEP, || async {
        match resumed.get_data("/mine").await {
            Ok((_, stat)) => Some(stat),
            Err(zk::Error::ConnectionLoss) => None,
            Err(e) => panic!("get after the wrong password: {e}"),
        }
    })
    .await;
    assert_eq!(stat.ephemeral_owner, id.0);

    // Closing the resumed session removes the ephemeral.
    let observer = server.client().await;
    let (_, deleted) = within("watch", observer.check_and_watch_stat("/mine"))
        .await
        .unwrap();
    drop(resumed);
    let event = within("closed", deleted.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
}
