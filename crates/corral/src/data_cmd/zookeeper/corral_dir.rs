//! Writing a Corral data directory that holds one tree, and reading one back, through the
//! storage crate's public API only (as the server itself writes and restores them).
//!
//! The directory holds a single snapshot file in `corral-snapshots/` ending at log index =
//! the tree's last applied zxid, with openraft's meta: that log id (term 1, led by the server
//! id) and a one-voter membership of that server. No log and no raft state are written: at
//! start openraft finds the log behind the snapshot and purges it up to the snapshot, which
//! makes the server initialised, so it elects itself and appends from index + 1 on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use corral_entry::{encode_snapshot_meta, LogId, SnapshotMeta, StoredMembership, TypeConfig};
use corral_storage::layout::{LOG_DIR_NAME, SNAPSHOT_DIR_NAME};
use corral_storage::{SnapshotFileMeta, SnapshotStore};
use corral_tree::{DataTree, TreeConfig};
use openraft::vote::RaftLeaderIdExt;
use openraft::{BasicNode, Membership, RaftTypeConfig};

use super::error::{io, MigrateError};
use crate::data_cmd::dump::{self, DumpOptions};

/// The raft term the snapshot's last log id is given: the first one.
const IMPORT_TERM: u64 = 1;

/// Writes `tree` as the only snapshot of a Corral data directory at `dir`.
pub(crate) fn write(dir: &Path, tree: &DataTree, server_id: u64) -> Result<(), MigrateError> {
    let index = u64::try_from(tree.last_applied_zxid()).map_err(|_| {
        MigrateError::Convert(format!(
            "last zxid {:#x} is negative",
            tree.last_applied_zxid()
        ))
    })?;
    type LeaderId = <TypeConfig as RaftTypeConfig>::LeaderId;
    let log_id = LogId::new(LeaderId::new_committed(IMPORT_TERM, server_id), index);
    let membership = Membership::new(
        vec![BTreeSet::from([server_id])],
        BTreeMap::from([(server_id, BasicNode::default())]),
    )
    .map_err(|e| MigrateError::Convert(format!("membership of server {server_id}: {e}")))?;
    let meta = SnapshotMeta {
        last_log_id: Some(log_id),
        last_membership: StoredMembership::new(Some(log_id), membership),
    };
    let store = SnapshotStore::open(dir.join(SNAPSHOT_DIR_NAME))?;
    let file_meta = SnapshotFileMeta {
        last_log_index: index,
        last_log_term: IMPORT_TERM,
        opaque: encode_snapshot_meta(&meta).map_err(io(store.dir()))?,
    };
    let mut writer = store.begin(file_meta)?;
    tree.write_snapshot(&mut writer).map_err(io(store.dir()))?;
    writer.finish()?;
    Ok(())
}

/// The tree a restart of a server on `data_dir` (log in `log_dir`) would rebuild, and the
/// index of the snapshot it starts from.
pub(crate) fn read(data_dir: &Path, log_dir: &Path) -> Result<(DataTree, u64), MigrateError> {
    let options = DumpOptions {
        path_prefix: None,
        at_snapshot: false,
        tree_config: TreeConfig::default(),
    };
    let rebuilt = dump::rebuild(
        &data_dir.join(SNAPSHOT_DIR_NAME),
        &log_dir.join(LOG_DIR_NAME),
        &options,
    )
    .map_err(|e| MigrateError::CorralData(e.to_string()))?;
    let index = rebuilt.snapshot.as_ref().map_or(0, |s| s.1);
    Ok((rebuilt.tree, index))
}
