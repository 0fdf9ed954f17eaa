//! Opening and closing the run's `zookeeper-client` sessions.
//!
//! All sessions connect at once, under one deadline: the client on its own keeps retrying a
//! server that refuses (until its session timeout), and a run that cannot connect must fail
//! quickly and say so. Closing drops every handle (the client then sends closeSession) and
//! waits, briefly, until each session reports itself closed, so the servers are not left with
//! sessions to expire while the next run measures.

use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use zookeeper_client as zk;

use crate::args::Config;
use crate::error::LoadError;

/// How long [`close`] waits for the sessions to report closed.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// One session and what the create op has made with it so far.
#[derive(Debug)]
pub struct Session {
    pub index: usize,
    pub client: zk::Client,
    /// The next node index the create op uses under this session's parent (every index below
    /// may exist, so cleanup deletes them all).
    pub next_create: u64,
}

fn connector(config: &Config) -> zk::Connector {
    zk::Client::connector().with_session_timeout(config.session_timeout)
}

/// Opens `config.sessions` sessions, session i on `config.connect_string_for(i)`.
pub async fn open_all(config: &Config) -> Result<Vec<Session>, LoadError> {
    let mut pending: FuturesUnordered<_> = (0..config.sessions)
        .map(|index| {
            let connect = config.connect_string_for(index).to_owned();
            let connector = connector(config);
            async move {
                let result = connector.connect(&connect).await;
                (index, connect, result)
            }
        })
        .collect();
    let mut sessions = Vec::with_capacity(config.sessions);
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    loop {
        match tokio::time::timeout_at(deadline, pending.next()).await {
            Ok(None) => break,
            Ok(Some((index, _, Ok(client)))) => sessions.push(Session {
                index,
                client,
                next_create: 0,
            }),
            Ok(Some((session, connect, Err(source)))) => {
                return Err(LoadError::Connect {
                    session,
                    connect,
                    source,
                })
            }
            Err(_elapsed) => {
                return Err(LoadError::ConnectTimeout {
                    timeout_s: config.connect_timeout.as_secs_f64(),
                    connected: sessions.len(),
                    sessions: config.sessions,
                })
            }
        }
    }
    sessions.sort_by_key(|s| s.index);
    Ok(sessions)
}

/// A session still able to send requests.
pub fn is_usable(client: &zk::Client) -> bool {
    !client.state().is_terminated()
}

/// A fresh session on the whole connect string, for cleanup when every session of the run
/// has ended.
pub async fn open_spare(config: &Config) -> Option<zk::Client> {
    let connect = connector(config).connect(&config.connect);
    tokio::time::timeout(config.connect_timeout, connect)
        .await
        .ok()?
        .ok()
}

/// Closes every session and waits up to [`CLOSE_WAIT`] for them to report closed.
pub async fn close(clients: Vec<zk::Client>) {
    let mut watchers: Vec<zk::StateWatcher> = clients.iter().map(|c| c.state_watcher()).collect();
    // The last handle of a session going away is what makes the client close it.
    drop(clients);
    let closed = watchers.iter_mut().map(|watcher| async move {
        while !watcher.peek_state().is_terminated() {
            watcher.changed().await;
        }
    });
    let _ = tokio::time::timeout(CLOSE_WAIT, futures::future::join_all(closed)).await;
}
