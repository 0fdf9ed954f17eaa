//! The operator's HTTP endpoints of a `corral server` process: the AdminServer compared with
//! Apache ZooKeeper 3.8's (Debian's jars, AdminServer on), `/metrics` checked as Prometheus
//! text with ZooKeeper's metric types, and start-up refusals (ports in use, unknown provider).

mod admin;
mod ensemble;
mod http;
mod metrics;
mod session;
mod startup;

use std::net::SocketAddr;
use std::path::Path;

use corral_testkit::CorralProcess;

/// A standalone `corral server` with its AdminServer (and `/metrics`) on free loopback ports.
pub struct Corral {
    pub process: CorralProcess,
    pub client: SocketAddr,
    pub admin: SocketAddr,
    pub metrics: SocketAddr,
    _data: tempfile::TempDir,
}

pub fn start_corral() -> Corral {
    start_corral_with(&[])
}

/// [`start_corral`] with further zoo.cfg lines.
pub fn start_corral_with(extra: &[(&str, &str)]) -> Corral {
    let data = tempfile::tempdir().unwrap();
    let admin_port = corral_testkit::free_port();
    let metrics_port = corral_testkit::free_port();
    let cfg: Vec<(String, String)> = [
        ("admin.enableServer", "true".to_owned()),
        ("admin.serverAddress", "127.0.0.1".to_owned()),
        ("admin.serverPort", admin_port.to_string()),
        (
            "metricsProvider.className",
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".to_owned(),
        ),
        ("metricsProvider.httpHost", "127.0.0.1".to_owned()),
        ("metricsProvider.httpPort", metrics_port.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    .collect();
    let binary = Path::new(env!("CARGO_BIN_EXE_corral"));
    let (process, port) = CorralProcess::standalone(binary, data.path(), &cfg).unwrap();
    Corral {
        process,
        client: SocketAddr::from(([127, 0, 0, 1], port)),
        admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
        metrics: SocketAddr::from(([127, 0, 0, 1], metrics_port)),
        _data: data,
    }
}
