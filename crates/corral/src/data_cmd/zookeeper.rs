//! `corral data import-zookeeper` and `corral data export-zookeeper`: moving a tree between an
//! Apache ZooKeeper data directory and a Corral one, both ways, offline.
//!
//! Import reads ZooKeeper's `version-2/` as ZooKeeper does at start (the newest snapshot that
//! decodes, then the transaction logs after it; a log cut short is used up to its last whole
//! record; a corrupt record stops the import naming the file and byte offset), replays with
//! ZooKeeper's own rules (`corral_zkdata`), checks the replay against the digests ZooKeeper
//! recorded (3.6+), and writes a Corral data directory holding one snapshot of that tree.
//!
//! **zxids.** Corral's zxid is its raft log index. The snapshot written ends at index = the last
//! ZooKeeper zxid replayed (Z), so every Stat keeps the zxids clients saw, and the first entry
//! the server appends gets Z + 1: every new write gets a zxid above every imported one, and a
//! client's `lastZxidSeen` from ZooKeeper is never ahead of the server. (ZooKeeper's zxids put
//! the epoch in the high 32 bits; Corral's continue as plain integers from there on.)
//!
//! Export writes `version-2/snapshot.<zxid>` (with ZooKeeper's digest, which ZooKeeper checks
//! when it loads it) from the tree a Corral restart would rebuild, named by the last applied
//! index, which is above every zxid in it.
//!
//! Both write nothing into the target until the result has been read back from disk and
//! compared (a digest over every node field and session): they write a temporary directory
//! beside the target and rename it into place, and refuse a target that is not empty.
//!
//! Map: `source` (the ZooKeeper directory's files), `replay` (snapshot + logs into a tree),
//! `corral_dir` (writing and re-reading a Corral directory), `place` (staging beside the
//! target, then the move into place), `import`, `export`, `progress`
//! (stderr progress for long runs), `error`.

mod corral_dir;
mod error;
mod export;
mod import;
mod place;
mod progress;
mod replay;
#[cfg(test)]
mod replay_tests;
mod source;

use std::path::PathBuf;

use clap::Args;

pub use error::MigrateError;

/// `corral data import-zookeeper`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// ZooKeeper's dataDir (holding `version-2/`; `version-2` itself also works).
    zk_data_dir: PathBuf,
    /// ZooKeeper's dataLogDir, when it is not the dataDir.
    zk_data_log_dir: Option<PathBuf>,
    /// The Corral dataDir to create (absent or empty).
    #[arg(long, value_name = "CORRAL_DATADIR")]
    to: PathBuf,
    /// Treat TTL-encoded owners as TTL nodes, as `-Dzookeeper.extendedTypesEnabled=true` does
    /// (implied when the data holds TTL creates or TTL owners that are no session).
    #[arg(long)]
    extended_types: bool,
    /// The tree's skipACL setting (zoo.cfg `skipACL=yes` on the Corral server).
    #[arg(long)]
    skip_acl: bool,
    /// The Corral server id (`myid`) the directory is for (the one-voter membership).
    #[arg(long, default_value_t = 1)]
    server_id: u64,
    /// ZooKeeper's `jute.maxbuffer`: a longer log record is corrupt.
    #[arg(long, default_value_t = corral_zkdata::txnlog::JUTE_MAXBUFFER_DEFAULT)]
    jute_maxbuffer: usize,
    /// Import even when the replayed tree differs from a digest ZooKeeper recorded.
    #[arg(long)]
    ignore_digest_mismatch: bool,
}

/// `corral data export-zookeeper`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The Corral dataDir (holding `corral-snapshots/`).
    corral_data_dir: PathBuf,
    /// The Corral dataLogDir (holding `corral-log/`), when it is not the dataDir.
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// The ZooKeeper dataDir to write `version-2/` into (its `version-2` absent or empty).
    #[arg(long, value_name = "ZK_DATADIR")]
    to: PathBuf,
}

pub fn run_import(args: ImportArgs) -> Result<(), MigrateError> {
    import::run(&import::Options {
        zk_data_dir: args.zk_data_dir,
        zk_log_dir: args.zk_data_log_dir,
        target: args.to,
        extended_types: args.extended_types,
        skip_acl: args.skip_acl,
        server_id: args.server_id,
        jute_maxbuffer: args.jute_maxbuffer,
        ignore_digest_mismatch: args.ignore_digest_mismatch,
    })
}

pub fn run_export(args: ExportArgs) -> Result<(), MigrateError> {
    export::run(&export::Options {
        data_dir: args.corral_data_dir,
        log_dir: args.log_dir,
        target: args.to,
    })
}
