//! Where a run puts its nodes on a target, so setup, the workloads and cleanup agree.
//!
//! ```text
//! /corral-bench-<pid>-<nanos>-t<target>   root, unique per run and target
//!   /keys/k<i>                            key_space nodes for set/get/exists/mixed
//!   /create/s<session>/n<i>               nodes made by the create workload, one parent per
//!                                         session so no children list grows too long to read
//! ```
//!
//! Paths of created nodes are derived from a per-session counter, so cleanup needs no
//! getChildren (whose reply could exceed `jute.maxbuffer` after a long create run).

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: String,
}

impl Layout {
    pub fn new(target_index: usize) -> Layout {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Layout {
            root: format!(
                "/corral-bench-{}-{nanos}-t{target_index}",
                std::process::id()
            ),
        }
    }

    pub fn keys_parent(&self) -> String {
        format!("{}/keys", self.root)
    }

    pub fn key(&self, index: usize) -> String {
        format!("{}/keys/k{index}", self.root)
    }

    pub fn create_parent(&self) -> String {
        format!("{}/create", self.root)
    }

    pub fn session_parent(&self, session: usize) -> String {
        format!("{}/create/s{session}", self.root)
    }

    pub fn created(&self, session: usize, index: u64) -> String {
        format!("{}/create/s{session}/n{index}", self.root)
    }
}
