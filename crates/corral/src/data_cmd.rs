//! `corral data`: read-only tools for a Corral server's data directories.
//!
//! - `corral data inspect DIR [--log-dir LOGDIR] [--json]`: lists the snapshot files (last log
//!   index and term, size, every checksum verified, or the byte offset of the damage), the log
//!   segments (index range, records, bytes, torn tail), the vote / committed / purged state,
//!   and a verdict: what a restart would recover from. Exits non-zero when anything is corrupt
//!   (a torn tail of the last segment or a leftover temporary file is not corruption: a crash
//!   leaves them and the server repairs them).
//! - `corral data dump DIR [--log-dir LOGDIR] [--json] [--path PREFIX] [--at-snapshot]`: the
//!   tree as a restart would rebuild it (the newest valid snapshot, then the log after it, each
//!   txn applied with `DataTree::apply`), as text or JSON; `--at-snapshot` stops at the
//!   snapshot.
//!
//! - `corral data import-zookeeper ZK_DATADIR [ZK_DATALOGDIR] --to DIR` and
//!   `corral data export-zookeeper DIR [--log-dir LOGDIR] --to ZK_DATADIR`: move a tree between
//!   Apache ZooKeeper's data directory and Corral's (see `zookeeper`). They write only into a
//!   new (or empty) target, and only after reading back what they wrote.
//!
//! `DIR` is the server's `dataDir` (snapshots live in `DIR/corral-snapshots`); the log lives in
//! `dataLogDir/corral-log`, where `dataLogDir` is `--log-dir` or, as in zoo.cfg, `DIR`.
//!
//! Apart from the target of an import or export, nothing here writes: every file is opened read-only and the log is scanned with the storage
//! crate's pure decoders rather than `LogStore::open` (which would truncate a torn tail and
//! remove leftover temporary files). Running the tools next to a live server is safe but
//! shows a moment that may already be gone.
//!
//! Map:
//! - `scan`: reads and checks every file into a [`scan::DirReport`] (typed, no printing).
//! - `inspect`: renders a report and its verdict.
//! - `dump`: rebuilds the tree and renders it.
//! - `zookeeper`: the ZooKeeper import and export.

mod dump;
mod inspect;
mod scan;
mod zookeeper;

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `corral data ...`.
#[derive(Args, Debug)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Check every snapshot, log segment and state file; exit non-zero if anything is corrupt.
    Inspect(InspectArgs),
    /// Print the tree as of the newest valid snapshot plus the log after it.
    Dump(DumpArgs),
    /// Create a Corral data directory from an Apache ZooKeeper one (snapshot + logs replayed).
    ImportZookeeper(zookeeper::ImportArgs),
    /// Write an Apache ZooKeeper snapshot (version-2/snapshot.<zxid>) of a Corral data directory.
    ExportZookeeper(zookeeper::ExportArgs),
}

/// Where the files are.
#[derive(Args, Debug, Clone)]
pub struct DirArgs {
    /// The server's dataDir (holding `corral-snapshots/`).
    dir: PathBuf,
    /// The server's dataLogDir (holding `corral-log/`), when it is not the dataDir.
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
}

impl DirArgs {
    fn snapshot_dir(&self) -> PathBuf {
        self.dir.join(corral_storage::layout::SNAPSHOT_DIR_NAME)
    }

    fn log_dir(&self) -> PathBuf {
        self.log_dir
            .as_ref()
            .unwrap_or(&self.dir)
            .join(corral_storage::layout::LOG_DIR_NAME)
    }
}

#[derive(Args, Debug)]
struct InspectArgs {
    #[command(flatten)]
    dirs: DirArgs,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct DumpArgs {
    #[command(flatten)]
    dirs: DirArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Only nodes whose path starts with this string (`/app` matches `/app`, `/app/x` and
    /// `/apple`).
    #[arg(long, value_name = "PREFIX")]
    path: Option<String>,
    /// The tree as of the newest valid snapshot, without applying the log after it.
    #[arg(long)]
    at_snapshot: bool,
    /// Without any snapshot the tree's settings are unknown: treat TTL/container ephemeral
    /// owners as zoo.cfg's `extendedTypesEnabled=true` would (a snapshot records its own).
    #[arg(long)]
    extended_types: bool,
    /// Without any snapshot: apply the log as with zoo.cfg's `skipACL=yes`.
    #[arg(long)]
    skip_acl: bool,
}

/// Runs `corral data ...`; the report goes to stdout, an error (or a corrupt verdict) makes
/// the process exit non-zero.
pub fn run(args: DataArgs) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Inspect(args) => {
            let report = scan::scan_dirs(&args.dirs.snapshot_dir(), &args.dirs.log_dir())?;
            let mut out = std::io::stdout().lock();
            quiet_broken_pipe(inspect::print(&report, args.json, &mut out))?;
            let problems = report.problems();
            if !problems.is_empty() {
                anyhow::bail!(
                    "{} problem(s) found: {}",
                    problems.len(),
                    problems.join("; ")
                );
            }
            Ok(())
        }
        DataCommand::Dump(args) => {
            let options = dump::DumpOptions {
                path_prefix: args.path,
                at_snapshot: args.at_snapshot,
                tree_config: corral_tree::TreeConfig {
                    extended_types_enabled: args.extended_types,
                    skip_acl: args.skip_acl,
                },
            };
            let rebuilt = dump::rebuild(&args.dirs.snapshot_dir(), &args.dirs.log_dir(), &options)?;
            let mut out = std::io::stdout().lock();
            quiet_broken_pipe(dump::print(&rebuilt, &options, args.json, &mut out))?;
            Ok(())
        }
        DataCommand::ImportZookeeper(args) => Ok(zookeeper::run_import(args)?),
        DataCommand::ExportZookeeper(args) => Ok(zookeeper::run_export(args)?),
    }
}

/// A reader that stops early (`| head`) is not an error.
fn quiet_broken_pipe(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
