//! `corral bench populate`: loads a large tree into each target, one target after the other, and
//! leaves it there, so that memory, restart time and snapshot size can be measured with it.
//!
//! The tree is numbered breadth first: node 0 is `--root`, node `i > 0` is a child of node
//! `(i - 1) / fanout` named `n<i>`, so with fan-out 10 and a million nodes every parent has ten
//! children and the tree is seven levels deep:
//!
//! ```text
//! /corral-populate                 node 0
//!   /n1 .. /n10                    level 1
//!     /n1/n11 .. /n1/n20           level 2 (children of n1)
//!     ...
//! ```
//!
//! Every node holds `--value-bytes` bytes. The creates go out as pipelined `multi` batches over
//! `--sessions` sessions; a level starts when the one above it is complete (its parents
//! exist), and the batches of a level are made lazily, so the load generator's memory stays
//! small whatever `--nodes` is. The run ends by reading back the last node.

use std::ops::Range;
use std::time::Instant;

use bytes::Bytes;
use corral_client::corral_proto::consts::{perms, CreateMode};
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::Acl;
use corral_client::ops::multi_op;
use corral_client::{Client, ConnectOptions};
use serde::{Deserialize, Serialize};

use crate::args::{BenchArgs, Target};
use crate::batch::{self, BatchError, Splitter};
use crate::error::BenchError;

/// The shape of the populated tree: which node is whose child and what each is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub root: String,
    pub nodes: u64,
    pub fanout: u64,
}

impl Tree {
    pub fn new(root: &str, nodes: u64, fanout: u64) -> Tree {
        Tree {
            root: root.to_owned(),
            nodes,
            fanout: fanout.max(2),
        }
    }

    pub fn parent(&self, node: u64) -> Option<u64> {
        (node > 0).then(|| (node - 1) / self.fanout)
    }

    /// The path of `node` (`node < nodes`).
    pub fn path(&self, node: u64) -> String {
        let mut chain = Vec::new();
        let mut at = node;
        while let Some(parent) = self.parent(at) {
            chain.push(at);
            at = parent;
        }
        let mut path = self.root.clone();
        for n in chain.iter().rev() {
            path.push_str("/n");
            path.push_str(&n.to_string());
        }
        path
    }

    /// The node ranges of each level, top down; together they cover `0..nodes`.
    pub fn levels(&self) -> Vec<Range<u64>> {
        let mut levels = Vec::new();
        let (mut start, mut width) = (0u64, 1u64);
        while start < self.nodes {
            let end = start.saturating_add(width).min(self.nodes);
            levels.push(start..end);
            start = end;
            width = width.saturating_mul(self.fanout);
        }
        levels
    }

    /// The paths of a range of nodes, each parent's path built once for all its children.
    pub fn paths(&self, range: Range<u64>) -> impl Iterator<Item = String> + '_ {
        let mut parent_path: Option<(u64, String)> = None;
        range.map(move |node| {
            let Some(parent) = self.parent(node) else {
                return self.root.clone();
            };
            let base = match &parent_path {
                Some((p, path)) if *p == parent => path,
                _ => &parent_path.insert((parent, self.path(parent))).1,
            };
            format!("{base}/n{node}")
        })
    }
}

/// What populating one target did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PopulateResult {
    pub target: String,
    pub addr: String,
    /// Znodes created, the root included.
    pub nodes: u64,
    pub fanout: u64,
    pub levels: usize,
    pub value_bytes: usize,
    pub root: String,
    /// The last node created, read back at the end.
    pub last_path: String,
    /// From the first create to the last reply.
    pub elapsed_s: f64,
    pub nodes_per_s: f64,
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

/// Populates one target (see the module doc) and checks the last node.
pub async fn populate(target: &Target, args: &BenchArgs) -> Result<PopulateResult, BenchError> {
    let client_error = |source| BenchError::Client {
        target: target.name.clone(),
        source,
    };
    let options = ConnectOptions {
        timeout_ms: args.session_timeout_ms,
        ..ConnectOptions::default()
    };
    let connects =
        (0..args.sessions).map(|i| Client::connect(target.server_for(i), options.clone()));
    let mut clients = Vec::with_capacity(args.sessions);
    for client in futures::future::join_all(connects).await {
        let client = client.map_err(client_error)?;
        drop(client.take_notifications());
        clients.push(client);
    }
    let outcome = load(target, args, &clients).await;
    let closes = clients.iter().map(|c| c.close());
    let _ = futures::future::join_all(closes).await;
    outcome
}

async fn load(
    target: &Target,
    args: &BenchArgs,
    clients: &[Client],
) -> Result<PopulateResult, BenchError> {
    let tree = Tree::new(&args.root, args.nodes, args.fanout);
    let value = Bytes::from(vec![b'v'; args.value_bytes]);
    let levels = tree.levels();
    let started = Instant::now();
    for (depth, level) in levels.iter().enumerate() {
        tracing::info!(target = %target.name, depth, nodes = level.end - level.start, "populating level");
        let ops = tree
            .paths(level.clone())
            .map(|path| multi_op::create(&path, &value, open_acl(), CreateMode::Persistent));
        batch::run_strict_batches(clients, Splitter::new(ops))
            .await
            .map_err(|err| match err {
                BatchError::Client(source) => BenchError::Client {
                    target: target.name.clone(),
                    source,
                },
                BatchError::Op { path, code } => BenchError::Setup {
                    target: target.name.clone(),
                    path,
                    code,
                },
                BatchError::Timeout { path } => BenchError::Timeout {
                    target: target.name.clone(),
                    path,
                    timeout_s: batch::BATCH_REPLY_TIMEOUT.as_secs(),
                },
            })?;
    }
    let elapsed_s = started.elapsed().as_secs_f64();

    let last_path = tree.path(tree.nodes - 1);
    let check = |what: String| BenchError::Check {
        target: target.name.clone(),
        what,
    };
    let reply = clients[0]
        .get_data(&last_path, false)
        .await
        .map_err(|source| BenchError::Client {
            target: target.name.clone(),
            source,
        })?;
    match &reply.result {
        Ok(Response::GetData { data, .. })
            if data.as_ref().map_or(0, |d| d.len()) == args.value_bytes => {}
        Ok(other) => return Err(check(format!("getData {last_path} answered {other:?}"))),
        Err(code) => return Err(check(format!("getData {last_path} failed with {code}"))),
    }
    Ok(PopulateResult {
        target: target.name.clone(),
        addr: target.addr.clone(),
        nodes: tree.nodes,
        fanout: tree.fanout,
        levels: levels.len(),
        value_bytes: args.value_bytes,
        root: tree.root.clone(),
        last_path,
        elapsed_s,
        nodes_per_s: if elapsed_s > 0.0 {
            tree.nodes as f64 / elapsed_s
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_nodes_fan_out_ten() {
        let tree = Tree::new("/r", 1_000_000, 10);
        let levels = tree.levels();
        assert_eq!(levels.len(), 7);
        assert_eq!(levels[0], 0..1);
        assert_eq!(levels[1], 1..11);
        assert_eq!(levels[2], 11..111);
        assert_eq!(levels[6], 111_111..1_000_000);
        assert_eq!(tree.path(0), "/r");
        assert_eq!(tree.path(10), "/r/n10");
        assert_eq!(tree.path(11), "/r/n1/n11");
        assert_eq!(tree.path(20), "/r/n1/n20");
        assert_eq!(tree.path(21), "/r/n2/n21");
        assert_eq!(tree.path(999_999), "/r/n9/n99/n999/n9999/n99999/n999999");
    }

    #[test]
    fn paths_of_a_range_match_path_and_parents_come_first() {
        let tree = Tree::new("/root", 12_345, 3);
        let mut seen = std::collections::HashSet::new();
        seen.insert(String::from("/"));
        for level in tree.levels() {
            let paths: Vec<String> = tree.paths(level.clone()).collect();
            assert_eq!(paths.len() as u64, level.end - level.start);
            for (node, path) in level.clone().zip(&paths) {
                assert_eq!(*path, tree.path(node));
                let parent = path.rsplit_once('/').map_or("/", |(p, _)| p);
                let parent = if parent.is_empty() { "/" } else { parent };
                assert!(seen.contains(parent), "{path} before its parent");
            }
            seen.extend(paths);
        }
        assert_eq!(seen.len(), 12_345 + 1);
        // Every parent except possibly the last has exactly `fanout` children.
        let children = (1..tree.nodes)
            .filter(|&n| tree.parent(n) == Some(0))
            .count();
        assert_eq!(children, 3);
    }
}
