//! `corral`: the server and its tools.
//!
//! - `corral server [--config zoo.cfg] [-D name=value]...`: with no arguments, a standalone
//!   server on 127.0.0.1:2181 with its data in `./corral-data`.

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => server_cmd::run(args),
    }
}
