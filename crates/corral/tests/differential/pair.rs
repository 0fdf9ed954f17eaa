//! A session held on both servers at once: every request goes to both (concurrently), and the
//! two outcomes come back side by side.

use std::time::Duration;

use bytes::Bytes;
use corral_client::{Client, ClientError, ConnectOptions, Reply, WireEvent};
use corral_proto::request::Request;

use crate::servers::Targets;

/// Bound on any single request; far above any legitimate latency.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub type Outcome = Result<Reply, ClientError>;

/// The same session on Apache ZooKeeper (`zk`) and on Corral (`corral`).
#[derive(Debug, Clone)]
pub struct Pair {
    pub zk: Client,
    pub corral: Client,
}

/// Connect options of a test session: a wire log, and the client's own pings only for
/// sessions the test does not intend to expire.
pub fn options(timeout_ms: i32, ping: bool) -> ConnectOptions {
    ConnectOptions {
        timeout_ms,
        ping,
        wire_log: true,
        ..ConnectOptions::default()
    }
}

impl Pair {
    /// Connects to both servers; each side's error is reported as is.
    pub async fn connect_both(
        targets: &Targets,
        zk_options: ConnectOptions,
        corral_options: ConnectOptions,
    ) -> (Result<Client, ClientError>, Result<Client, ClientError>) {
        let (zk, corral) = tokio::join!(
            Client::connect(&targets.zk, zk_options),
            Client::connect(&targets.corral, corral_options)
        );
        for client in [&zk, &corral].into_iter().flatten() {
            // Events are read from the wire log only.
            drop(client.take_notifications());
        }
        (zk, corral)
    }

    /// Connects a new session on both servers, panicking on failure.
    pub async fn connect(targets: &Targets, options: ConnectOptions) -> Pair {
        match Pair::connect_both(targets, options.clone(), options).await {
            (Ok(zk), Ok(corral)) => Pair { zk, corral },
            (zk, corral) => panic!("connect failed: zk {zk:?}, corral {corral:?}"),
        }
    }

    pub async fn request(&self, request: Request) -> (Outcome, Outcome) {
        let (zk, corral) = tokio::join!(
            bounded(self.zk.request(request.clone())),
            bounded(self.corral.request(request))
        );
        (zk, corral)
    }

    /// Sends `requests` pipelined (all written before any reply is awaited) on both servers,
    /// in the same order on both: each request is queued for the writer on its first poll, the
    /// futures are first polled in order, and `unconstrained` keeps tokio's cooperative budget
    /// from making one of them yield before it is queued.
    pub async fn pipelined(&self, requests: Vec<Request>) -> Vec<(Outcome, Outcome)> {
        let side = |client: Client, requests: Vec<Request>| async move {
            let futures: Vec<_> = requests
                .into_iter()
                .map(|r| {
                    let client = client.clone();
                    async move { client.request(r).await }
                })
                .collect();
            let all = futures::future::join_all(futures);
            bounded_all(tokio::task::unconstrained(all)).await
        };
        let (zk, corral) = tokio::join!(
            side(self.zk.clone(), requests.clone()),
            side(self.corral.clone(), requests)
        );
        for outcomes in [&zk, &corral] {
            let xids: Vec<i32> = outcomes
                .iter()
                .filter_map(|o| o.as_ref().ok().map(|r| r.xid))
                .collect();
            assert!(
                xids.windows(2).all(|w| w[0] < w[1]),
                "the test client sent pipelined requests out of order: xids {xids:?}"
            );
        }
        zk.into_iter().zip(corral).collect()
    }

    pub async fn auth(&self, scheme: &str, auth: &[u8]) -> (Outcome, Outcome) {
        self.request(Request::Auth(corral_proto::records::AuthPacket {
            auth_type: 0,
            scheme: scheme.to_owned(),
            auth: Some(Bytes::copy_from_slice(auth)),
        }))
        .await
    }

    /// A ping on both: once answered, every event queued to this connection before it has
    /// been received (both servers send pings through their request pipelines).
    pub async fn barrier(&self) -> (Outcome, Outcome) {
        self.request(Request::Ping).await
    }

    pub fn take_wire(&self) -> (Vec<WireEvent>, Vec<WireEvent>) {
        (self.zk.take_wire_log(), self.corral.take_wire_log())
    }

    pub async fn close(&self) -> (Outcome, Outcome) {
        let (zk, corral) = tokio::join!(bounded(self.zk.close()), bounded(self.corral.close()));
        (zk, corral)
    }

    pub fn disconnect(&self) {
        self.zk.disconnect();
        self.corral.disconnect();
    }

    pub fn session_ids(&self) -> (i64, i64) {
        (self.zk.session_id(), self.corral.session_id())
    }
}

async fn bounded(future: impl std::future::Future<Output = Outcome>) -> Outcome {
    match tokio::time::timeout(REQUEST_TIMEOUT, future).await {
        Ok(outcome) => outcome,
        Err(_) => panic!("no reply within {REQUEST_TIMEOUT:?}"),
    }
}

async fn bounded_all(future: impl std::future::Future<Output = Vec<Outcome>>) -> Vec<Outcome> {
    match tokio::time::timeout(REQUEST_TIMEOUT, future).await {
        Ok(outcomes) => outcomes,
        Err(_) => panic!("no replies within {REQUEST_TIMEOUT:?}"),
    }
}
