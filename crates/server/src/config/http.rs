//! The operator's HTTP endpoints: ZooKeeper's AdminServer (`admin.*`, read from zoo.cfg or as
//! `zookeeper.admin.*` system properties, as ZooKeeper copies unknown zoo.cfg keys into system
//! properties) and its metrics provider (`metricsProvider.*`, zoo.cfg only).
//!
//! Defaults are ZooKeeper 3.9's (`JettyAdminServer`, `PrometheusMetricsProvider`). Note that the
//! AdminServer listens on 0.0.0.0:8080 unless told otherwise, as ZooKeeper's does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::properties::{parse_bool, parse_num};
use super::ConfigError;

/// `admin.serverPort`'s default.
pub const ADMIN_PORT_DEFAULT: u16 = 8080;
/// `admin.idleTimeout`'s default (ms): an idle HTTP connection is closed after it.
pub const ADMIN_IDLE_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// `admin.commandURL`'s default.
pub const ADMIN_COMMAND_URL_DEFAULT: &str = "/commands";
/// `admin.rateLimiterIntervalInMS`'s default: one snapshot or restore per 5 minutes.
pub const ADMIN_RATE_LIMIT_INTERVAL_MS_DEFAULT: u64 = 300_000;
/// `metricsProvider.httpPort`'s default.
pub const METRICS_PORT_DEFAULT: u16 = 7000;

/// ZooKeeper's built-in provider (no HTTP endpoint): the default class.
pub const DEFAULT_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";
/// The class that serves `/metrics` in Prometheus' text format.
pub const PROMETHEUS_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// The AdminServer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// `admin.enableServer` (default true).
    pub enabled: bool,
    /// `admin.serverAddress` and `admin.serverPort`.
    pub addr: SocketAddr,
    /// `admin.commandURL`: the path prefix of the commands.
    pub command_url: String,
    /// `admin.idleTimeout` in ms.
    pub idle_timeout_ms: u64,
    /// `admin.rateLimiterIntervalInMS`: at most one `snapshot` (and one `restore`) per interval.
    pub rate_limit_interval_ms: u64,
    /// `admin.snapshot.enabled` (default true).
    pub snapshot_enabled: bool,
    /// `admin.restore.enabled` (default true).
    pub restore_enabled: bool,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            enabled: true,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), ADMIN_PORT_DEFAULT),
            command_url: ADMIN_COMMAND_URL_DEFAULT.to_owned(),
            idle_timeout_ms: ADMIN_IDLE_TIMEOUT_MS_DEFAULT,
            rate_limit_interval_ms: ADMIN_RATE_LIMIT_INTERVAL_MS_DEFAULT,
            snapshot_enabled: true,
            restore_enabled: true,
        }
    }
}

impl AdminSettings {
    /// The defaults, on 127.0.0.1: `corral server` with no configuration listens on loopback
    /// only, its client port as its AdminServer.
    pub(crate) fn loopback() -> Self {
        let mut settings = AdminSettings::default();
        settings.addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        settings
    }

    /// Applies `admin.*` (without the `zookeeper.` prefix); false when `key` is not one.
    pub(crate) fn apply(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "admin.enableServer" => self.enabled = parse_bool(value),
            "admin.serverAddress" => {
                let ip: IpAddr = value
                    .trim()
                    .parse()
                    .map_err(|_| ConfigError::invalid(key, value, "not an IP address"))?;
                self.addr.set_ip(ip);
            }
            "admin.serverPort" => self.addr.set_port(parse_num(key, value)?),
            "admin.commandURL" => self.command_url = value.trim().to_owned(),
            "admin.idleTimeout" => self.idle_timeout_ms = parse_num(key, value)?,
            "admin.rateLimiterIntervalInMS" => self.rate_limit_interval_ms = parse_num(key, value)?,
            "admin.snapshot.enabled" => self.snapshot_enabled = parse_bool(value),
            "admin.restore.enabled" => self.restore_enabled = parse_bool(value),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Where `/metrics` is served; `None` in [`ServerConfig`](super::ServerConfig) when the
/// provider is ZooKeeper's default one (no endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsEndpoint {
    /// `metricsProvider.httpHost` (default 0.0.0.0) and `metricsProvider.httpPort` (7000).
    pub addr: SocketAddr,
    /// `metricsProvider.exportJvmInfo`: accepted; Corral has no JVM, so it adds only the
    /// `process_*` figures it measures itself either way.
    pub export_jvm_info: bool,
}

/// The `metricsProvider.*` keys as read, resolved by [`MetricsKeys::endpoint`].
#[derive(Debug, Default)]
pub(crate) struct MetricsKeys {
    class_name: Option<String>,
    http_host: Option<String>,
    http_port: Option<String>,
    export_jvm_info: Option<String>,
}

impl MetricsKeys {
    /// Takes a `metricsProvider.*` key; false when `key` is not one.
    pub(crate) fn apply(&mut self, key: &str, value: &str) -> bool {
        let Some(name) = key.strip_prefix("metricsProvider.") else {
            return false;
        };
        let value = Some(value.trim().to_owned());
        match name {
            "className" => self.class_name = value,
            "httpHost" => self.http_host = value,
            "httpPort" => self.http_port = value,
            "exportJvmInfo" => self.export_jvm_info = value,
            // ZooKeeper hands every other `metricsProvider.*` key to the provider, which
            // ignores those it does not know (numWorkerThreads, maxQueueSize, ...).
            _ => tracing::info!(key, "metrics provider key has no effect on Corral"),
        }
        true
    }

    /// The endpoint to serve, if the configured provider has one. A class other than
    /// ZooKeeper's two is refused: ZooKeeper cannot load it and does not start.
    pub(crate) fn endpoint(&self) -> Result<Option<MetricsEndpoint>, ConfigError> {
        let class = self
            .class_name
            .as_deref()
            .unwrap_or(DEFAULT_METRICS_PROVIDER);
        match class {
            DEFAULT_METRICS_PROVIDER => return Ok(None),
            PROMETHEUS_METRICS_PROVIDER => {}
            other => {
                return Err(ConfigError::invalid(
                    "metricsProvider.className",
                    other,
                    format!(
                        "cannot boot this metrics provider: Corral knows \
                         {PROMETHEUS_METRICS_PROVIDER} and {DEFAULT_METRICS_PROVIDER}"
                    ),
                ))
            }
        }
        let host = self.http_host.as_deref().unwrap_or("0.0.0.0");
        let ip: IpAddr = host.parse().map_err(|_| {
            ConfigError::invalid("metricsProvider.httpHost", host, "not an IP address")
        })?;
        let port = match &self.http_port {
            Some(port) => parse_num("metricsProvider.httpPort", port)?,
            None => METRICS_PORT_DEFAULT,
        };
        Ok(Some(MetricsEndpoint {
            addr: SocketAddr::new(ip, port),
            // Java's Boolean.parseBoolean, default true.
            export_jvm_info: self
                .export_jvm_info
                .as_deref()
                .is_none_or(|v| v.eq_ignore_ascii_case("true")),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_keys() {
        let mut admin = AdminSettings::default();
        assert_eq!(admin.addr, "0.0.0.0:8080".parse().unwrap());
        assert!(admin.apply("admin.serverPort", "9999").unwrap());
        assert!(admin.apply("admin.serverAddress", "127.0.0.1").unwrap());
        assert!(admin.apply("admin.enableServer", "false").unwrap());
        assert!(!admin.apply("admin.unknown", "x").unwrap());
        assert!(admin.apply("admin.serverPort", "http").is_err());
        assert_eq!(admin.addr, "127.0.0.1:9999".parse().unwrap());
        assert!(!admin.enabled);
    }

    #[test]
    fn metrics_provider_classes() {
        let mut keys = MetricsKeys::default();
        assert_eq!(
            keys.endpoint().unwrap(),
            None,
            "the default provider serves nothing"
        );
        keys.apply("metricsProvider.className", PROMETHEUS_METRICS_PROVIDER);
        let endpoint = keys.endpoint().unwrap().unwrap();
        assert_eq!(endpoint.addr, "0.0.0.0:7000".parse().unwrap());
        assert!(endpoint.export_jvm_info);
        keys.apply("metricsProvider.httpPort", "7123");
        keys.apply("metricsProvider.httpHost", "127.0.0.1");
        keys.apply("metricsProvider.exportJvmInfo", "false");
        let endpoint = keys.endpoint().unwrap().unwrap();
        assert_eq!(endpoint.addr, "127.0.0.1:7123".parse().unwrap());
        assert!(!endpoint.export_jvm_info);
        keys.apply("metricsProvider.className", "com.example.Nope");
        assert!(
            keys.endpoint().is_err(),
            "an unknown class stops the server"
        );
    }
}
