//! `corral data import-zookeeper`: replay (`replay.rs`), convert, write the Corral directory
//! beside the target, read it back and compare, move it into place, print the summary.

use std::path::PathBuf;

use corral_tree::{DataTree, PlainState, TreeConfig};
use corral_zkdata::convert::{plain_digest, to_plain};
use corral_zkdata::model::{owner_kind, OwnerKind};

use super::error::MigrateError;
use super::place::{check_target, Staging};
use super::replay::{replay, Replayed};
use super::{corral_dir, source};

pub(crate) struct Options {
    pub(crate) zk_data_dir: PathBuf,
    pub(crate) zk_log_dir: Option<PathBuf>,
    pub(crate) target: PathBuf,
    pub(crate) extended_types: bool,
    pub(crate) skip_acl: bool,
    pub(crate) server_id: u64,
    pub(crate) jute_maxbuffer: usize,
    pub(crate) ignore_digest_mismatch: bool,
}

pub(crate) fn run(o: &Options) -> Result<(), MigrateError> {
    check_target(&o.target)?;
    let log_dir = o.zk_log_dir.as_ref().unwrap_or(&o.zk_data_dir);
    let files = source::list(&o.zk_data_dir, log_dir)?;
    let replayed = replay(&files, o.extended_types, o.jute_maxbuffer)?;
    if let Some(first) = replayed.digests.mismatches.first() {
        if !o.ignore_digest_mismatch {
            return Err(MigrateError::DigestMismatch {
                first: first.clone(),
                count: replayed.digests.mismatches.len(),
            });
        }
    }
    let config = TreeConfig {
        extended_types_enabled: replayed.extended_types,
        skip_acl: o.skip_acl,
    };
    let plain = to_plain(&replayed.tree, config);
    let expected = plain_digest(&plain, true);
    let tree = DataTree::from_plain(&plain).map_err(|e| MigrateError::Convert(e.to_string()))?;

    eprintln!("writing the Corral data directory");
    let staging = Staging::new(&o.target, "import")?;
    corral_dir::write(staging.path(), &tree, o.server_id)?;
    drop(tree);
    let (back, index) = corral_dir::read(staging.path(), staging.path())?;
    let back_plain = back.to_plain();
    let found = plain_digest(&back_plain, true);
    let last = u64::try_from(plain.last_applied_zxid).unwrap_or(0);
    if found != expected || index != last {
        let tmp = staging.keep();
        return Err(MigrateError::Verify {
            tmp,
            what: format!(
                "re-read digest {found:#018x} (snapshot at index {index}), replayed \
                 {expected:#018x} (last zxid {last})"
            ),
        });
    }
    staging.commit()?;
    print_summary(o, &replayed, &plain, back.ephemeral_count(), expected);
    Ok(())
}

fn print_summary(o: &Options, r: &Replayed, plain: &PlainState, ephemerals: usize, digest: u64) {
    println!("imported {}", o.zk_data_dir.display());
    for s in &r.skipped_snapshots {
        println!("  skipped snapshot: {s}");
    }
    match &r.snapshot {
        Some((path, zxid)) => println!("  snapshot: {} (zxid {zxid:#x})", path.display()),
        None => println!("  snapshot: none (replayed from an empty tree)"),
    }
    println!(
        "  logs: {} file(s), {} txns replayed, last zxid {:#x}",
        r.logs.len(),
        r.txns_applied,
        plain.last_applied_zxid
    );
    for t in &r.truncated {
        println!("  truncated log: {t}");
    }
    let count = |kind| {
        plain
            .nodes
            .iter()
            .filter(|n| owner_kind(n.ephemeral_owner, r.extended_types) == kind)
            .count()
    };
    println!(
        "  nodes: {} (ephemeral {ephemerals}, container {}, TTL {}), sessions: {}, extended \
         types: {}",
        plain.nodes.len(),
        count(OwnerKind::Container),
        count(OwnerKind::Ttl),
        plain.sessions.len(),
        r.extended_types
    );
    if !r.dead_ephemerals.is_empty() {
        println!(
            "  deleted {} ephemeral(s) of sessions missing from the sessions table, as \
             ZooKeeper does at start: {}",
            r.dead_ephemerals.len(),
            r.dead_ephemerals.join(", ")
        );
    }
    let d = &r.digests;
    println!(
        "  ZooKeeper's recorded digests: {} matched, {} differ{}",
        d.matched,
        d.mismatches.len(),
        if d.snapshot_unverified() {
            " (the snapshot's digest was not reached by the replay)"
        } else {
            ""
        }
    );
    println!(
        "  verified: the directory re-read from disk has the replayed tree and sessions \
         (digest {digest:#018x})"
    );
    println!(
        "  wrote {} (snapshot at log index {:#x}: new writes get zxids above every imported one)",
        o.target.display(),
        plain.last_applied_zxid
    );
}
