//! Runs the benchmark from the command line until `corral bench` mounts it:
//! `cargo run --release -p corral-bench --example bench -- --addr a=127.0.0.1:2181,b=127.0.0.1:2182`.

use clap::Parser;

#[derive(Parser)]
#[command(about = "ZooKeeper-protocol load generator")]
struct Cli {
    #[command(flatten)]
    bench: corral_bench::BenchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let json = cli.bench.json;
    let report = corral_bench::run(cli.bench).await?;
    report.print(json);
    Ok(())
}
