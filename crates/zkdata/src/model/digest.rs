//! ZooKeeper's tree digest (3.6+, `DigestCalculator` version 2 and `NodeHashMapImpl`), and the
//! checks a replay makes with the digests ZooKeeper recorded.
//!
//! A node's digest is the CRC-32 of its path (the root as ""), its data, then czxid, mzxid,
//! pzxid, ctime, mtime (longs), version, cversion, aversion (ints) and ephemeralOwner (long),
//! big-endian; nodes under "/zookeeper/" count as 0. The tree's digest is the wrapping sum.
//!
//! When checks apply (`DataTree.compareSnapshotDigests` / `compareDigest`): a snapshot's digest
//! names the zxid it was taken at, which may be past the snapshot's own zxid (a fuzzy
//! snapshot); it is compared when the replay reaches that zxid, and until then the per-txn
//! digests are not (the tree is still fuzzy). If the replay passes that zxid without meeting
//! it, nothing more can be compared. A digest of another version is not compared.

use crate::checksum::Crc32;
use crate::records::TxnDigest;

use super::ZkNode;

/// The digest version this computes.
pub const DIGEST_VERSION: i32 = 2;

/// The subtree whose nodes count as 0 (quota bookkeeping is local to each server).
const UNDIGESTED_PREFIX: &str = "/zookeeper/";

pub(crate) fn node_digest(path: &str, node: &ZkNode) -> u64 {
    if path.starts_with(UNDIGESTED_PREFIX) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let s = &node.stat;
    let mut crc = Crc32::default();
    crc.update(path.as_bytes());
    if let Some(data) = &node.data {
        crc.update(data);
    }
    let mut fields = [0u8; 60];
    let longs = [s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime];
    for (i, v) in longs.iter().enumerate() {
        fields[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
    }
    for (i, v) in [s.version, s.cversion, s.aversion].iter().enumerate() {
        fields[40 + i * 4..44 + i * 4].copy_from_slice(&v.to_be_bytes());
    }
    fields[52..60].copy_from_slice(&s.ephemeral_owner.to_be_bytes());
    crc.update(&fields);
    u64::from(crc.value())
}

/// A digest ZooKeeper stored with a snapshot: the tree's digest as of `zxid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotDigest {
    pub zxid: i64,
    pub version: i32,
    pub digest: i64,
}

/// A recorded digest that differs from the replayed tree's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMismatch {
    pub zxid: i64,
    /// "snapshot" or "txn".
    pub source: &'static str,
    pub recorded: i64,
    pub replayed: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the snapshot digest's zxid.
    Fuzzy(SnapshotDigest),
    /// Comparing every txn digest.
    Comparing,
    /// The snapshot digest's zxid never came: nothing can be compared.
    Off,
}

/// The digest checks of one replay.
#[derive(Debug, Clone)]
pub struct DigestCheck {
    state: State,
    /// Digests compared and equal.
    pub matched: u64,
    pub mismatches: Vec<DigestMismatch>,
}

impl DigestCheck {
    /// Starts after loading a snapshot taken at `snapshot_zxid` whose stored digest (if any)
    /// is `stored`; `tree_digest` is the loaded tree's.
    pub fn new(snapshot_zxid: i64, stored: Option<SnapshotDigest>, tree_digest: i64) -> Self {
        let mut check = DigestCheck {
            state: State::Comparing,
            matched: 0,
            mismatches: Vec::new(),
        };
        if let Some(d) = stored {
            if d.zxid > 0 && d.zxid >= snapshot_zxid && d.version == DIGEST_VERSION {
                check.state = State::Fuzzy(d);
                check.reached(snapshot_zxid, tree_digest);
            }
        }
        check
    }

    fn reached(&mut self, zxid: i64, tree_digest: i64) {
        if let State::Fuzzy(d) = self.state {
            if zxid == d.zxid {
                self.record("snapshot", zxid, d.digest, tree_digest);
                self.state = State::Comparing;
            } else if zxid > d.zxid {
                self.state = State::Off;
            }
        }
    }

    fn record(&mut self, source: &'static str, zxid: i64, recorded: i64, replayed: i64) {
        if recorded == replayed {
            self.matched += 1;
        } else {
            self.mismatches.push(DigestMismatch {
                zxid,
                source,
                recorded,
                replayed,
            });
        }
    }

    /// After applying the txn `zxid` that carried `logged`; `tree_digest` is the tree's now.
    pub fn after_txn(&mut self, zxid: i64, logged: Option<&TxnDigest>, tree_digest: i64) {
        self.reached(zxid, tree_digest);
        if let (State::Comparing, Some(d)) = (self.state, logged) {
            if d.version == DIGEST_VERSION {
                self.record("txn", zxid, d.tree_digest, tree_digest);
            }
        }
    }

    /// Whether the snapshot's digest could not be compared (its zxid was never replayed).
    pub fn snapshot_unverified(&self) -> bool {
        matches!(self.state, State::Fuzzy(_) | State::Off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ZkTree;

    #[test]
    fn fresh_tree_digest_is_the_root_and_zookeeper_nodes() {
        let tree = ZkTree::new();
        let root = node_digest("/", tree.node("/").unwrap());
        let zk = node_digest("/zookeeper", tree.node("/zookeeper").unwrap());
        assert_eq!(tree.digest(), (root.wrapping_add(zk)) as i64);
        assert_eq!(
            node_digest("/zookeeper/quota", tree.node("/zookeeper/quota").unwrap()),
            0
        );
    }

    #[test]
    fn fuzzy_snapshot_digest_waits_for_its_zxid() {
        let d = SnapshotDigest {
            zxid: 10,
            version: 2,
            digest: 5,
        };
        let mut check = DigestCheck::new(8, Some(d), 1);
        let txn = TxnDigest {
            version: 2,
            tree_digest: 3,
        };
        check.after_txn(9, Some(&txn), 3);
        assert_eq!(check.matched, 0, "still fuzzy");
        check.after_txn(10, Some(&txn), 5);
        assert_eq!(
            check.mismatches.len(),
            1,
            "the txn digest 3 is not the tree's 5"
        );
        assert_eq!(check.matched, 1, "the snapshot digest matched");
        let mut missed = DigestCheck::new(8, Some(d), 1);
        missed.after_txn(11, Some(&txn), 3);
        assert!(missed.snapshot_unverified());
        assert_eq!(missed.matched + missed.mismatches.len() as u64, 0);
    }
}
