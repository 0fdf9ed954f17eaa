//! Server settings, read from an unmodified ZooKeeper `zoo.cfg` plus the Java system properties
//! ZooKeeper takes only as `-Dname=value` (given to `corral server` as `-D name=value`, or in the
//! `SERVER_JVMFLAGS` / `JVMFLAGS` environment variables as zkServer.sh passes them).
//!
//! Keys we do not use are logged and ignored, as ZooKeeper does with unknown keys.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use corral_proto::consts::JUTE_MAX_BUFFER_BYTES_DEFAULT;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{key}: invalid value {value:?}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Other(String),
}

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub tick_time_ms: u32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub client_addr: SocketAddr,
    /// Per client IP; 0 = unlimited.
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// Four-letter words allowed; `None` = all (`*`).
    pub four_letter_whitelist: Option<Vec<String>>,
    pub extended_types_enabled: bool,
    pub skip_acl: bool,
    /// `user:base64(sha1)` that makes a digest login a superuser.
    pub super_digest: Option<String>,
    pub digest_auth_enabled: bool,
    pub jute_max_buffer_bytes: usize,
    pub read_only_mode_enabled: bool,
    /// `reconfigEnabled`: reconfig is refused with RECONFIGDISABLED unless set; a standalone
    /// server then answers UNIMPLEMENTED, as ZooKeeper's does.
    pub reconfig_enabled: bool,
    pub container_check_interval_ms: u64,
    pub container_max_per_minute: u32,
    pub container_max_never_used_interval_ms: i64,
    pub global_outstanding_limit: usize,
    /// Bytes one connection may have queued for sending before it is dropped
    /// (`corral.connection.outboundQueuedBytesMax`; ZooKeeper has no such limit).
    pub outbound_queued_bytes_max: usize,
    pub snap_count: u64,
    pub force_sync: bool,
    pub pre_alloc_bytes: u64,
    /// Corral-specific `corral.logSegmentBytes`: a log segment is rolled over once it would
    /// grow past this size (ZooKeeper has no such key; its log files grow without bound).
    pub log_segment_bytes: u64,
    /// Corral-specific `corral.logCacheBytes`: encoded bytes of recent log entries kept
    /// decoded in memory (older ones are read back from the segment files when needed).
    pub log_cache_bytes: u64,
    pub autopurge_snap_retain_count: u32,
    pub autopurge_purge_interval_hours: u32,
    pub server_id: u64,
    /// Where the configuration came from (for `conf` / logs).
    pub config_path: Option<PathBuf>,
}

/// The defaults of `corral server` with no arguments: standalone on 127.0.0.1:2181 with
/// data in `./corral-data`.
impl Default for ServerConfig {
    fn default() -> Self {
        let tick_time_ms = 2000;
        ServerConfig {
            tick_time_ms,
            data_dir: PathBuf::from("corral-data"),
            data_log_dir: PathBuf::from("corral-data"),
            client_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2181),
            max_client_cnxns: 60,
            min_session_timeout_ms: 2 * tick_time_ms as i32,
            max_session_timeout_ms: 20 * tick_time_ms as i32,
            four_letter_whitelist: Some(vec!["srvr".to_owned()]),
            extended_types_enabled: false,
            skip_acl: false,
            super_digest: None,
            digest_auth_enabled: true,
            jute_max_buffer_bytes: JUTE_MAX_BUFFER_BYTES_DEFAULT,
            read_only_mode_enabled: false,
            reconfig_enabled: false,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used_interval_ms: 0,
            global_outstanding_limit: 1000,
            outbound_queued_bytes_max: crate::connection::handle::OUTBOUND_QUEUED_BYTES_MAX,
            snap_count: 100_000,
            force_sync: true,
            pre_alloc_bytes: 64 * 1024 * 1024,
            log_segment_bytes: 64 * 1024 * 1024,
            log_cache_bytes: crate::server::LOG_CACHE_BYTES_DEFAULT,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            server_id: 1,
            config_path: None,
        }
    }
}

/// Parses Java-properties-style `key=value` text (also `key:value` and `key value`).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line
            .find(['=', ':'])
            .or_else(|| line.find(char::is_whitespace));
        let (key, value) = match split {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, ""),
        };
        map.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    map
}

/// Extracts `-Dname=value` settings from a JVM flags string (`SERVER_JVMFLAGS`, `JVMFLAGS`).
pub fn parse_jvm_flags(flags: &str) -> Vec<(String, String)> {
    flags
        .split_whitespace()
        .filter_map(|token| token.strip_prefix("-D"))
        .map(|setting| match setting.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (setting.to_owned(), String::new()),
        })
        .collect()
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse::<T>().map_err(|e| ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

fn parse_bool(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "yes")
}

impl ServerConfig {
    /// Builds the configuration from an optional zoo.cfg and system properties (later ones win).
    pub fn load(
        config_path: Option<&Path>,
        system_properties: &[(String, String)],
    ) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::default();
        let mut file_keys = BTreeMap::new();
        if let Some(path) = config_path {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            file_keys = parse_properties(&text);
            config.config_path = Some(path.to_owned());
            // A zoo.cfg binds to all interfaces unless clientPortAddress says otherwise, as
            // ZooKeeper does; only the no-configuration default is loopback.
            config.client_addr.set_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        }
        config.apply_file_keys(&file_keys)?;
        for (key, value) in system_properties {
            config.apply_system_property(key, value)?;
        }
        if config.max_session_timeout_ms < config.min_session_timeout_ms {
            return Err(ConfigError::Other(format!(
                "minSessionTimeout {} must not be larger than maxSessionTimeout {}",
                config.min_session_timeout_ms, config.max_session_timeout_ms
            )));
        }
        if config.extended_types_enabled && config.server_id > 254 {
            return Err(ConfigError::Other(
                "with extendedTypesEnabled the server id must be at most 254".to_owned(),
            ));
        }
        Ok(config)
    }

    fn apply_file_keys(&mut self, keys: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        if let Some(v) = keys.get("tickTime") {
            self.tick_time_ms = parse_num("tickTime", v)?;
        }
        if self.tick_time_ms == 0 {
            return Err(ConfigError::Other("tickTime must be positive".to_owned()));
        }
        let tick = self.tick_time_ms as i32;
        self.min_session_timeout_ms = 2 * tick;
        self.max_session_timeout_ms = 20 * tick;
        let mut client_port_set = false;
        for (key, value) in keys {
            let key = key.as_str();
            match key {
                "tickTime" => {}
                "dataDir" => self.data_dir = PathBuf::from(value),
                "dataLogDir" => self.data_log_dir = PathBuf::from(value),
                "clientPort" => {
                    self.client_addr.set_port(parse_num(key, value)?);
                    client_port_set = true;
                }
                "clientPortAddress" => {
                    let ip: IpAddr = value.parse().map_err(|_| ConfigError::Invalid {
                        key: key.to_owned(),
                        value: value.to_owned(),
                        reason: "not an IP address".to_owned(),
                    })?;
                    self.client_addr.set_ip(ip);
                }
                "maxClientCnxns" => self.max_client_cnxns = parse_num(key, value)?,
                "minSessionTimeout" => {
                    let v: i32 = parse_num(key, value)?;
                    if v >= 0 {
                        self.min_session_timeout_ms = v;
                    }
                }
                "maxSessionTimeout" => {
                    let v: i32 = parse_num(key, value)?;
                    if v >= 0 {
                        self.max_session_timeout_ms = v;
                    }
                }
                "globalOutstandingLimit" => {
                    self.global_outstanding_limit = parse_num::<usize>(key, value)?.max(1)
                }
                "snapCount" => self.snap_count = parse_num::<u64>(key, value)?.max(2),
                "preAllocSize" => self.pre_alloc_bytes = parse_num::<u64>(key, value)? * 1024,
                "corral.logSegmentBytes" => {
                    self.log_segment_bytes = parse_num::<u64>(key, value)?.clamp(4096, 1 << 30)
                }
                "corral.logCacheBytes" => {
                    self.log_cache_bytes = parse_num::<u64>(key, value)?.min(1 << 32)
                }
                "forceSync" => self.force_sync = !value.eq_ignore_ascii_case("no"),
                "autopurge.snapRetainCount" => {
                    self.autopurge_snap_retain_count = parse_num::<u32>(key, value)?.max(3)
                }
                "autopurge.purgeInterval" => {
                    self.autopurge_purge_interval_hours = parse_num(key, value)?
                }
                "skipACL" => self.skip_acl = parse_bool(value),
                "reconfigEnabled" => self.reconfig_enabled = parse_bool(value),
                _ => {
                    if !self.apply_shared_key(key, value)? {
                        tracing::info!(key, value = value.as_str(), "ignoring unused zoo.cfg key");
                    }
                }
            }
        }
        if keys.contains_key("clientPortAddress") && !client_port_set {
            return Err(ConfigError::Other(
                "clientPortAddress is set but clientPort is not".to_owned(),
            ));
        }
        if !keys.contains_key("dataLogDir") {
            self.data_log_dir = self.data_dir.clone();
        }
        Ok(())
    }

    /// Keys accepted both in zoo.cfg and as `zookeeper.`-prefixed system properties.
    fn apply_shared_key(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "4lw.commands.whitelist" => self.four_letter_whitelist = parse_whitelist(value),
            "extendedTypesEnabled" => self.extended_types_enabled = parse_bool(value),
            "jute.maxbuffer" => self.jute_max_buffer_bytes = parse_jute_max_buffer(key, value)?,
            "znode.container.checkIntervalMs" => {
                self.container_check_interval_ms = parse_num::<u64>(key, value)?.max(1)
            }
            "znode.container.maxPerMinute" => {
                self.container_max_per_minute = parse_num::<u32>(key, value)?.max(1)
            }
            "znode.container.maxNeverUsedIntervalMs" => {
                self.container_max_never_used_interval_ms = parse_num(key, value)?
            }
            "DigestAuthenticationProvider.superDigest" => {
                self.super_digest = Some(value.to_owned())
            }
            "DigestAuthenticationProvider.enabled" => self.digest_auth_enabled = parse_bool(value),
            "skipACL" => self.skip_acl = parse_bool(value),
            "corral.connection.outboundQueuedBytesMax" => {
                // At least one largest frame must fit, or no big reply could ever be sent.
                self.outbound_queued_bytes_max =
                    parse_num::<usize>(key, value)?.max(JUTE_MAX_BUFFER_BYTES_DEFAULT + 1024)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Applies one Java system property (`zookeeper.` prefix optional).
    pub fn apply_system_property(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "readonlymode.enabled" => self.read_only_mode_enabled = parse_bool(value),
            "jute.maxbuffer" => self.jute_max_buffer_bytes = parse_jute_max_buffer(key, value)?,
            _ => {
                let short = key.strip_prefix("zookeeper.").unwrap_or(key);
                if !self.apply_shared_key(short, value)? {
                    tracing::info!(key, value, "ignoring unused system property");
                }
            }
        }
        Ok(())
    }

    /// Whether the four-letter word `cmd` may run.
    pub fn four_letter_allowed(&self, cmd: &str) -> bool {
        if cmd == "isro" && self.read_only_mode_enabled {
            return true;
        }
        match &self.four_letter_whitelist {
            None => true,
            Some(list) => list.iter().any(|w| w == cmd),
        }
    }
}

fn parse_whitelist(value: &str) -> Option<Vec<String>> {
    let words: Vec<String> = value
        .split(',')
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| w == "*") {
        None
    } else {
        Some(words)
    }
}

fn parse_jute_max_buffer(key: &str, value: &str) -> Result<usize, ConfigError> {
    let text = value.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16).map_err(|e| e.to_string()),
        None => text.parse::<usize>().map_err(|e| e.to_string()),
    };
    let bytes = parsed.map_err(|reason| ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    })?;
    // A frame must at least hold a handshake; beyond 256 MiB a single client could pin memory.
    Ok(bytes.clamp(1024, 256 * 1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_zoo_cfg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(
            &path,
            "# comment\ntickTime=1000\ndataDir=/tmp/zk\nclientPort=2999\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=ruok, srvr\ninitLimit=10\nminSessionTimeout=500\n",
        )
        .unwrap();
        let config = ServerConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(config.tick_time_ms, 1000);
        assert_eq!(config.client_addr, "127.0.0.1:2999".parse().unwrap());
        assert_eq!(config.data_log_dir, PathBuf::from("/tmp/zk"));
        assert_eq!(config.min_session_timeout_ms, 500);
        assert_eq!(config.max_session_timeout_ms, 20_000);
        assert_eq!(config.max_client_cnxns, 0);
        assert!(config.four_letter_allowed("ruok"));
        assert!(!config.four_letter_allowed("mntr"));
        assert_eq!(
            config.log_cache_bytes,
            crate::server::LOG_CACHE_BYTES_DEFAULT
        );
    }

    #[test]
    fn corral_storage_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(
            &path,
            "dataDir=/tmp/zk\ncorral.logSegmentBytes=100\ncorral.logCacheBytes=65536\n",
        )
        .unwrap();
        let config = ServerConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(
            config.log_segment_bytes, 4096,
            "clamped to the smallest segment"
        );
        assert_eq!(config.log_cache_bytes, 65536);
    }

    #[test]
    fn system_properties_and_jvm_flags() {
        let flags = parse_jvm_flags(
            "-Xmx1g -Dzookeeper.extendedTypesEnabled=true -Djute.maxbuffer=0x200000 \
             -Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc=",
        );
        let config = ServerConfig::load(None, &flags).unwrap();
        assert!(config.extended_types_enabled);
        assert_eq!(config.jute_max_buffer_bytes, 0x200000);
        assert_eq!(config.super_digest.as_deref(), Some("super:abc="));
        assert_eq!(config.client_addr, "127.0.0.1:2181".parse().unwrap());
    }

    #[test]
    fn client_port_address_needs_client_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(&path, "clientPortAddress=127.0.0.1\n").unwrap();
        assert!(ServerConfig::load(Some(&path), &[]).is_err());
    }

    #[test]
    fn properties_accept_colon_and_space() {
        let map = parse_properties("a: 1\nb 2\n  c=3=4\n");
        assert_eq!(map["a"], "1");
        assert_eq!(map["b"], "2");
        assert_eq!(map["c"], "3=4");
    }
}
