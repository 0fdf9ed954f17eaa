//! `corral`: the server and its tools.
//!
//! - `corral server [--config zoo.cfg] [-D name=value]...`: with no arguments, a standalone
//!   server on 127.0.0.1:2181 with its data in `./corral-data`.
//! - `corral bench --addr name=host:port,...`: a load generator over the wire, usable against
//!   any ZooKeeper-compatible address; with several targets it prints their ratios.
//! - `corral data inspect|dump DIR [--log-dir DIR]`: check a data directory's snapshots and
//!   log, or print the tree they hold, without writing anything (see `data_cmd`);
//!   `corral data import-zookeeper` / `export-zookeeper` move a tree from or to Apache
//!   ZooKeeper's data directory.
//! - `corral dev-cluster --servers 3`: a local ensemble on loopback ports (see `dev_cluster`).

mod data_cmd;
mod dev_cluster;
mod server_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "corral",
    version,
    about = "A drop-in replacement for Apache ZooKeeper"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a server (standalone on 127.0.0.1:2181 with ./corral-data when given no configuration).
    Server(server_cmd::ServerArgs),
    /// Drive load against one or more ZooKeeper-compatible servers and report ops/s and latency.
    Bench(corral_bench::BenchArgs),
    /// Inspect or dump a data directory; import from or export to Apache ZooKeeper's.
    Data(data_cmd::DataArgs),
    /// Run a local ensemble on loopback ports and print its connect string.
    DevCluster(dev_cluster::DevClusterArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => server_cmd::run(args),
        Command::Bench(args) => bench(args),
        Command::Data(args) => data_cmd::run(args),
        Command::DevCluster(args) => dev_cluster::run(args),
    }
}

fn bench(args: corral_bench::BenchArgs) -> anyhow::Result<()> {
    let json = args.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(corral_bench::run(args))?;
    report.print(json);
    Ok(())
}
