//! `corral data export-zookeeper`: the tree a Corral restart would rebuild, written as
//! `version-2/snapshot.<last applied index>` in a ZooKeeper dataDir, read back and compared
//! before it is moved into place.
//!
//! Sessions go over with their ids and timeouts, which is all ZooKeeper keeps. ZooKeeper
//! derives each session's password from its id, so a session Corral created (with a password
//! of its own) cannot be resumed there: it expires after its timeout and its ephemerals go
//! with it, as for any client that never came back. Sessions imported from ZooKeeper keep the
//! password ZooKeeper derives, and can.

use std::fs;
use std::path::PathBuf;

use corral_zkdata::convert::{from_plain, plain_digest, to_plain};
use corral_zkdata::model::{owner_kind, OwnerKind};
use corral_zkdata::names::{snapshot_name, VERSION_DIR};
use corral_zkdata::snapshot;

use super::corral_dir;
use super::error::{io, MigrateError};
use super::place::{check_target, Staging};

pub(crate) struct Options {
    pub(crate) data_dir: PathBuf,
    pub(crate) log_dir: Option<PathBuf>,
    pub(crate) target: PathBuf,
}

pub(crate) fn run(o: &Options) -> Result<(), MigrateError> {
    let version_dir = o.target.join(VERSION_DIR);
    check_target(&version_dir)?;
    let log_dir = o.log_dir.as_ref().unwrap_or(&o.data_dir);
    eprintln!("reading {}", o.data_dir.display());
    let (tree, _) = corral_dir::read(&o.data_dir, log_dir)?;
    let plain = tree.to_plain();
    drop(tree);
    let expected = plain_digest(&plain, false);
    let zk = from_plain(&plain).map_err(MigrateError::Convert)?;
    let zxid = plain.last_applied_zxid;
    let bytes = snapshot::write(&zk, zxid);

    let staging = Staging::new(&version_dir, "export")?;
    let file = staging.path().join(snapshot_name(zxid));
    fs::write(&file, &bytes).map_err(io(&file))?;
    drop(bytes);
    let written = fs::read(&file).map_err(io(&file))?;
    let verified = snapshot::read(&written, zxid).map_err(|e| MigrateError::CorruptFile {
        path: file.clone(),
        offset: e.offset,
        reason: e.reason,
    })?;
    let found = plain_digest(&to_plain(&verified.tree, plain.config.clone()), false);
    let zk_digest_ok = verified.digest.map(|d| d.digest) == Some(verified.tree.digest());
    if found != expected || !zk_digest_ok {
        let tmp = staging.keep();
        return Err(MigrateError::Verify {
            tmp,
            what: format!("re-read digest {found:#018x}, Corral tree {expected:#018x}"),
        });
    }
    staging.commit()?;

    let ttl = plain
        .nodes
        .iter()
        .filter(|n| {
            owner_kind(n.ephemeral_owner, plain.config.extended_types_enabled) == OwnerKind::Ttl
        })
        .count();
    println!("exported {}", o.data_dir.display());
    println!(
        "  nodes: {}, sessions: {}, last zxid {zxid:#x}",
        plain.nodes.len(),
        plain.sessions.len()
    );
    println!(
        "  verified: {} re-read from disk has the Corral tree and sessions (digest \
         {expected:#018x}; ZooKeeper's own digest {:#x} is stored for it to check)",
        version_dir.join(snapshot_name(zxid)).display(),
        zk.digest()
    );
    if ttl > 0 {
        println!("  {ttl} TTL node(s): start ZooKeeper with -Dzookeeper.extendedTypesEnabled=true");
    }
    if !plain.sessions.is_empty() {
        println!(
            "  sessions created on Corral cannot be resumed on ZooKeeper (it derives passwords \
             from session ids); they expire after their timeout, with their ephemerals"
        );
    }
    Ok(())
}
