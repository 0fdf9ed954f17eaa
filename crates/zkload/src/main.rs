//! `zkload`: the binary's edge. Parses the command line, runs the load, prints the report.
//!
//! Exit status: 0 when the run took place (failed requests are in the report, counted by
//! kind), 1 when it could not (bad arguments, no connection, setup refused), 2 for clap's own
//! usage errors.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use corral_zkload::{run, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    match run_main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("zkload: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_main(args: &Args) -> anyhow::Result<()> {
    let config = args.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(run(&config))?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_table());
    }
    Ok(())
}
