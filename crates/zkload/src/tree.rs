//! The run's nodes: made before the first op, removed after the last, by many creates or
//! deletes pipelined over every session.
//!
//! Parents are made one level at a time (a level's requests may go through different sessions,
//! which the servers do not order among themselves). Cleanup deletes children before parents,
//! by name (see [`crate::layout`]), and takes a node already gone as done: after a failed
//! create or a partial setup, some names were never made.

use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use zookeeper_client as zk;

use crate::error::LoadError;
use crate::layout::Layout;
use crate::stats::Errors;

/// Requests in flight per session during setup and cleanup.
const WINDOW: usize = 64;

const PERSISTENT: zk::CreateOptions<'static> =
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());

#[derive(Debug, Clone, Copy)]
enum Action<'a> {
    Create(&'a [u8]),
    Delete,
}

/// What a batch of requests came to.
#[derive(Debug, Default)]
struct Outcome {
    done: u64,
    /// Deletes of a node that was not there.
    absent: u64,
    errors: Errors,
    first_error: Option<(String, zk::Error)>,
}

impl Outcome {
    fn add(&mut self, path: &str, action: Action<'_>, result: Result<(), zk::Error>) {
        match (result, action) {
            (Ok(()), _) => self.done += 1,
            (Err(zk::Error::NoNode), Action::Delete) => self.absent += 1,
            (Err(err), _) => {
                self.errors.record(&err);
                self.first_error
                    .get_or_insert_with(|| (path.to_owned(), err));
            }
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.done += other.done;
        self.absent += other.absent;
        self.errors.merge(other.errors);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn one<'a>(
    client: &zk::Client,
    path: &'a str,
    action: Action<'_>,
) -> (&'a str, Result<(), zk::Error>) {
    let result = match action {
        Action::Create(data) => client.create(path, data, &PERSISTENT).await.map(drop),
        Action::Delete => client.delete(path, None).await,
    };
    (path, result)
}

/// `action` on every path, the paths dealt round robin to the clients, [`WINDOW`] in flight on
/// each.
async fn apply(clients: &[zk::Client], paths: &[String], action: Action<'_>) -> Outcome {
    if clients.is_empty() {
        return Outcome::default();
    }
    let shares = clients.iter().enumerate().map(|(i, client)| async move {
        let mut outcome = Outcome::default();
        let mut mine = paths.iter().skip(i).step_by(clients.len());
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < WINDOW {
                let Some(path) = mine.next() else { break };
                running.push(one(client, path, action));
            }
            let Some((path, result)) = running.next().await else {
                break;
            };
            outcome.add(path, action, result);
        }
        outcome
    });
    let mut total = Outcome::default();
    for outcome in futures::future::join_all(shares).await {
        total.merge(outcome);
    }
    total
}

/// Creates the root (which must not exist), the parents and `keys` keys holding `value`.
/// On [`LoadError::RootExists`] nothing was made; on any other error, [`cleanup`] removes
/// what was.
pub async fn prepare(
    clients: &[zk::Client],
    layout: &Layout,
    sessions: usize,
    keys: usize,
    value: &[u8],
) -> Result<(), LoadError> {
    let root = layout.root.as_str();
    for level in layout.parent_levels(sessions) {
        strict(apply(clients, &level, Action::Create(b"")).await, root)?;
    }
    let keys: Vec<String> = (0..keys).map(|i| layout.key(i)).collect();
    strict(apply(clients, &keys, Action::Create(value)).await, root)
}

fn strict(outcome: Outcome, root: &str) -> Result<(), LoadError> {
    match outcome.first_error {
        None => Ok(()),
        Some((path, zk::Error::NodeExists)) if path == root => Err(LoadError::RootExists(path)),
        Some((path, source)) => Err(LoadError::Setup { path, source }),
    }
}

/// What cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CleanupReport {
    pub root: String,
    pub deleted: u64,
    pub already_gone: u64,
    pub failed: u64,
    pub errors: Errors,
    /// Why cleanup did not run, when it could not (the nodes are then left behind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Deletes everything the run may have made under `layout.root`, and the root: the first
/// `created[s]` nodes of each session s, `keys` keys, the parents.
pub async fn cleanup(
    clients: &[zk::Client],
    layout: &Layout,
    created: &[u64],
    keys: usize,
) -> CleanupReport {
    let made: Vec<String> = created
        .iter()
        .enumerate()
        .flat_map(|(s, &n)| (0..n).map(move |i| layout.created(s, i)))
        .collect();
    let keys: Vec<String> = (0..keys).map(|i| layout.key(i)).collect();
    let [root, top, session_parents] = layout.parent_levels(created.len());
    let mut total = Outcome::default();
    // Children before parents.
    for level in [made, keys, session_parents, top, root] {
        total.merge(apply(clients, &level, Action::Delete).await);
    }
    CleanupReport {
        root: layout.root.clone(),
        deleted: total.done,
        already_gone: total.absent,
        failed: total.errors.total(),
        errors: total.errors,
        skipped: None,
    }
}
