//! What the server must hold: every acknowledged write, accumulated across kill/restart
//! cycles on one data directory, and what happened to the writes that were in flight.
//!
//! Layout of the tree the workload builds (nothing is ever deleted, so every directory's
//! `cversion` equals its `numChildren`):
//!
//! - `/crash/plain/c<cycle>-w<worker>-<n>`: plain creates, data known from the op.
//! - `/crash/seq/s-<10 digits>`: sequential creates; only these happen in that directory, so
//!   the suffixes must be exactly `0..numChildren` with no gap.
//! - `/crash/multi/c<cycle>-w<worker>-<n>-<j>`: created 2–3 at a time by one multi; all of a
//!   multi's nodes exist or none does.
//! - `/crash/keys/k<i>`: counters updated by version-checked setData; key `i` belongs to
//!   worker `i % workers`, which has at most one set in flight per key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Directories of the tree (see the module docs).
pub const ROOT: &str = "/crash";
pub const PLAIN_DIR: &str = "/crash/plain";
pub const SEQ_DIR: &str = "/crash/seq";
pub const MULTI_DIR: &str = "/crash/multi";
pub const KEYS_DIR: &str = "/crash/keys";
/// Prefix of sequential creates.
pub const SEQ_PREFIX: &str = "/crash/seq/s-";

/// A counter key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Its index.
    pub index: usize,
    /// Last acknowledged (or, after a restart, observed) version.
    pub version: i32,
    /// The data written with that version.
    pub data: Vec<u8>,
}

impl Key {
    pub fn path(&self) -> String {
        key_path(self.index)
    }
}

pub fn key_path(index: usize) -> String {
    format!("{KEYS_DIR}/k{index}")
}

/// One write a worker sent.
#[derive(Debug, Clone)]
pub enum Op {
    /// create(path, data), persistent.
    Plain { path: String, data: Vec<u8> },
    /// create(SEQ_PREFIX, data), persistent sequential.
    Seq { data: Vec<u8> },
    /// setData(key, data, version = expected).
    Set {
        key: usize,
        expected: i32,
        data: Vec<u8>,
    },
    /// multi(create(path_j, data_j)...).
    Multi { nodes: Vec<(String, Vec<u8>)> },
}

/// Counts for the report.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub cycles: u64,
    pub acked_plain: u64,
    pub acked_seq: u64,
    pub acked_set: u64,
    pub acked_multi: u64,
    /// In-flight writes found applied after the restart.
    pub in_doubt_applied: u64,
    /// In-flight writes found not applied.
    pub in_doubt_absent: u64,
    /// Kills that left an unfinished snapshot behind.
    pub kills_during_snapshot: u64,
    /// Kills that left an unfinished segment behind.
    pub kills_during_rollover: u64,
    /// Kills aimed at the moment a temporary file appeared.
    pub targeted_kills: u64,
    /// Servers killed while starting.
    pub startup_kills: u64,
    /// Simulated power losses that tore the last record.
    pub tails_torn: u64,
    /// Restarts whose log says a torn tail was truncated.
    pub torn_tails: u64,
    /// Most segment files seen at once.
    pub segments_max: usize,
    /// Full data checks run.
    pub full_checks: u64,
    /// Time spent in each phase of the cycles: load until the kill (and the drain), the
    /// offline inspect, the restart, the checks.
    pub load: Duration,
    pub inspect: Duration,
    pub restart: Duration,
    pub verify: Duration,
}

/// The expected state.
#[derive(Debug, Default)]
pub struct Model {
    /// Plain nodes known to exist, with their data.
    pub plain: BTreeMap<String, Vec<u8>>,
    /// Sequential nodes known to exist, with their data.
    pub seq: BTreeMap<String, Vec<u8>>,
    /// Multi-created nodes known to exist, with their data.
    pub multi: BTreeMap<String, Vec<u8>>,
    /// Paths of in-flight creates found absent after a restart: they must never appear.
    pub absent: BTreeSet<String>,
    /// The counters.
    pub keys: Vec<Key>,
    /// Highest zxid any acknowledged reply carried: a restarted server must not be behind it.
    pub zxid_acked_max: i64,
    pub stats: Stats,
}

impl Model {
    /// The expected children (names) of one of the create directories.
    pub fn children_of(&self, dir: &str) -> BTreeSet<String> {
        let map = match dir {
            PLAIN_DIR => &self.plain,
            SEQ_DIR => &self.seq,
            MULTI_DIR => &self.multi,
            _ => return BTreeSet::new(),
        };
        map.keys()
            .map(|p| p.rsplit('/').next().unwrap_or_default().to_string())
            .collect()
    }

    /// Every created node with its data (for the full check).
    pub fn all_created(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.plain
            .iter()
            .chain(self.seq.iter())
            .chain(self.multi.iter())
    }
}
