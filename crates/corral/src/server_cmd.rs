//! `corral server`: loads the configuration as zkServer.sh would hand it to ZooKeeper and runs
//! in the foreground until SIGTERM or SIGINT.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use corral_server::{parse_jvm_flags, ServerConfig};

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// A ZooKeeper zoo.cfg.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// The zoo.cfg as a positional argument, as QuorumPeerMain takes it.
    #[arg(conflicts_with = "config")]
    config_file: Option<PathBuf>,
    /// A Java system property ZooKeeper reads, e.g. `-D zookeeper.extendedTypesEnabled=true`.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    define: Vec<String>,
    /// Log filter (tracing's RUST_LOG syntax); RUST_LOG wins when set. By default Corral's own
    /// events at info (role changes, peer connections, start-up and shutdown) and openraft's
    /// internals only when they are errors (`openraft=debug` shows elections and replication).
    #[arg(long, default_value = "info,openraft=error")]
    log: String,
}

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    corral_server::tune_allocator();
    init_logging(&args.log);
    let mut properties = Vec::new();
    for var in ["JVMFLAGS", "SERVER_JVMFLAGS"] {
        if let Ok(flags) = std::env::var(var) {
            properties.extend(parse_jvm_flags(&flags));
        }
    }
    for define in &args.define {
        let (name, value) = define.split_once('=').unwrap_or((define.as_str(), ""));
        properties.push((name.to_owned(), value.to_owned()));
    }
    let config_path = args.config.or(args.config_file);
    // Reads dataDir/myid too, and refuses an ensemble configuration without a valid one.
    let config =
        ServerConfig::load(config_path.as_deref(), &properties).context("invalid configuration")?;
    if let Some(ensemble) = &config.ensemble {
        let membership = ensemble.config_text().replace('\n', " ");
        tracing::info!(my_id = ensemble.my_id, %membership, "ensemble member");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let server = corral_server::start(config).await?;
    tracing::info!(addr = ?server.local_addr(), "corral is ready");
    tokio::select! {
        signal = wait_for_signal() => signal?,
        fatal = server.fatal_error() => {
            tracing::error!(error = %fatal, "the log cannot accept writes any more; exiting");
            server.shutdown().await;
            anyhow::bail!("fatal: {fatal}");
        }
    }
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        _ = term.recv() => {}
        result = tokio::signal::ctrl_c() => result.context("cannot watch SIGINT")?,
    }
    Ok(())
}

fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
