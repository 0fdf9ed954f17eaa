//! Server settings, read from an unmodified ZooKeeper `zoo.cfg` plus the Java system properties
//! ZooKeeper takes only as `-Dname=value` (given to `corral server` as `-D name=value`, or in the
//! `SERVER_JVMFLAGS` / `JVMFLAGS` environment variables as zkServer.sh passes them).
//!
//! This module owns every default and every clamp (the named constants below); the parts of
//! the server receive the slices of [`ServerConfig`] they use ([`slices`]), not the whole.
//! Keys we do not use are logged and ignored, as ZooKeeper does with unknown keys.
//!
//! The ensemble keys (`server.N`, `myid`, `peerType`, `standaloneEnabled`, `initLimit`,
//! `syncLimit`, ...) are in [`ensemble`]: with them [`ServerConfig::ensemble`] says whether this
//! server is an ensemble member, and [`ServerConfig::load`] reads `dataDir/myid` itself.
//!
//! Architecture invariant: `config/` imports nothing else of the server.

pub mod ensemble;
mod error;
pub mod http;
mod jvm;
mod properties;
pub mod slices;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use corral_proto::consts::JUTE_MAX_BUFFER_BYTES_DEFAULT;

pub use ensemble::{
    raft_timeouts, read_myid, ClientSpec, EnsembleConfig, MemberSpec, MyId, RaftTimeoutsMs,
};
use ensemble::{EnsembleKeys, RAFT_ELECTION_TIMEOUT_KEY, RAFT_HEARTBEAT_KEY};
pub use error::ConfigError;
use http::MetricsKeys;
pub use http::{AdminSettings, MetricsEndpoint};
pub use jvm::parse_jvm_flags;
pub use properties::parse_properties;
use properties::{parse_bool, parse_num, parse_size, parse_whitelist};

/// `tickTime` of `corral server` without a configuration (zoo_sample.cfg's value).
pub const TICK_TIME_MS_DEFAULT: u32 = 2000;
/// Corral's own key: every read waits for the leader's read index first (linearizable reads on
/// every server, at the price of a quorum round per read); off by default, as in ZooKeeper,
/// whose reads are sequentially consistent.
pub const LINEARIZABLE_READS_KEY: &str = "corral.linearizableReads";
/// `maxClientCnxns`: connections per client IP.
pub const MAX_CLIENT_CNXNS_DEFAULT: u32 = 60;
/// `globalOutstandingLimit`: client writes in the log at once, server-wide.
pub const GLOBAL_OUTSTANDING_LIMIT_DEFAULT: usize = 1000;
/// Writes one connection may have in the log before the server stops reading from it.
pub const OUTSTANDING_WRITES_PER_CONNECTION_MAX: usize = 1000;
/// Bytes a connection may have queued for sending before it is considered stuck and dropped
/// (default of `corral.connection.outboundQueuedBytesMax`). A client that stops reading while
/// watches fire must not grow the server's memory without bound.
pub const OUTBOUND_QUEUED_BYTES_MAX_DEFAULT: usize = 64 * 1024 * 1024;
/// `zookeeper.nio.sessionlessCnxnTimeout` (ms): how long a connection may take to send its
/// ConnectRequest (or four-letter word) before it is closed; ZooKeeper's NIO default.
pub const SESSIONLESS_CONNECTION_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// `zookeeper.request_throttle_stall_time` (ms): how long a throttled request waits before the
/// in-process count is checked again (ZooKeeper 3.9's default).
pub const REQUEST_THROTTLE_STALL_MS_DEFAULT: u64 = 100;
/// `snapCount`: entries between snapshots (randomised in [snapCount/2 + 1, snapCount]).
pub const SNAP_COUNT_DEFAULT: u64 = 100_000;
/// The smallest `snapCount` accepted (the randomised interval needs room).
pub const SNAP_COUNT_MIN: u64 = 2;
/// `preAllocSize` (ZooKeeper's key is in KiB): log segments grow this much at a time.
pub const PRE_ALLOC_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// The log store needs at least a page per preallocation.
pub const PRE_ALLOC_BYTES_MIN: u64 = 4096;
/// `corral.logSegmentBytes`: a log segment is rolled over once it would grow past this.
pub const LOG_SEGMENT_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
pub const LOG_SEGMENT_BYTES_MIN: u64 = 4096;
pub const LOG_SEGMENT_BYTES_MAX: u64 = 1 << 30;
/// Default of `corral.logCacheBytes`: encoded bytes of recent log entries kept in memory.
/// Entries are applied (and, in an ensemble, replicated) right after they are appended, so a
/// small window serves almost every read: 2 MiB is about 14k entries of a 100-byte setData, a
/// fifth of a second of writes at full speed on this project's test machine. Decoded entries
/// take two to three times their encoded size (8 MiB cost about 20 MB), which a 1M-znode tree
/// of about 200 MB notices.
pub const LOG_CACHE_BYTES_DEFAULT: u64 = 2 * 1024 * 1024;
pub const LOG_CACHE_BYTES_MAX: u64 = 1 << 32;
/// `autopurge.snapRetainCount`: snapshots kept (ZooKeeper's minimum is also 3).
pub const SNAP_RETAIN_COUNT_MIN: u32 = 3;
/// `znode.container.checkIntervalMs`.
pub const CONTAINER_CHECK_INTERVAL_MS_DEFAULT: u64 = 60_000;
/// `znode.container.maxPerMinute`.
pub const CONTAINER_MAX_PER_MINUTE_DEFAULT: u32 = 10_000;
/// A frame must at least hold a handshake.
pub const JUTE_MAX_BUFFER_BYTES_MIN: usize = 1024;
/// Beyond this a single client could pin too much memory with one frame.
pub const JUTE_MAX_BUFFER_BYTES_MAX: usize = 256 * 1024 * 1024;
/// `extendedTypesEnabled` leaves the server id one byte with 255 reserved (TTL session ids).
pub const SERVER_ID_MAX_WITH_EXTENDED_TYPES: u64 = 254;

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
    /// `zookeeper.DigestAuthenticationProvider.enabled`: without it `digest` is no scheme at
    /// all (no login, and ACL entries naming it are INVALIDACL).
    pub digest_auth_enabled: bool,
    pub jute_max_buffer_bytes: usize,
    pub read_only_mode_enabled: bool,
    /// `reconfigEnabled`: reconfig is refused with RECONFIGDISABLED unless set; a standalone
    /// server then answers UNIMPLEMENTED, as ZooKeeper's does.
    pub reconfig_enabled: bool,
    /// [`LINEARIZABLE_READS_KEY`].
    pub linearizable_reads: bool,
    pub container_check_interval_ms: u64,
    pub container_max_per_minute: u32,
    pub container_max_never_used_interval_ms: i64,
    /// `globalOutstandingLimit`: client writes of this server in the log at once.
    pub global_outstanding_limit: usize,
    /// Bytes one connection may have queued for sending before it is dropped
    /// (`corral.connection.outboundQueuedBytesMax`; ZooKeeper has no such limit).
    pub outbound_queued_bytes_max: usize,
    /// `nio.sessionlessCnxnTimeout`: ms to complete the handshake.
    pub sessionless_connection_timeout_ms: u64,
    /// `request_throttle_max_requests`: requests in process server-wide before new ones
    /// wait; 0 = off (ZooKeeper's default).
    pub request_throttle_max_requests: usize,
    /// `request_throttle_stall_time`: ms a throttled request waits between checks.
    pub request_throttle_stall_ms: u64,
    /// `request_throttle_drop_stale`: a throttled request whose connection closed meanwhile
    /// is dropped instead of run.
    pub request_throttle_drop_stale: bool,
    pub snap_count: u64,
    pub force_sync: bool,
    pub pre_alloc_bytes: u64,
    /// Corral-specific `corral.logSegmentBytes` (ZooKeeper's log files grow without bound).
    pub log_segment_bytes: u64,
    /// Corral-specific `corral.logCacheBytes`: encoded bytes of recent log entries kept
    /// decoded in memory (older ones are read back from the segment files when needed).
    pub log_cache_bytes: u64,
    pub autopurge_snap_retain_count: u32,
    pub autopurge_purge_interval_hours: u32,
    /// `dataDir/myid`; 1 for a standalone server without one.
    pub server_id: u64,
    /// Where the configuration came from (for `conf` / logs).
    pub config_path: Option<PathBuf>,
    /// `corral.raft.heartbeatMs`: overrides the Raft heartbeat derived from tickTime (Corral's
    /// own key, for tests; see [`RaftTimeoutsMs::with_overrides`]). Already applied to
    /// [`EnsembleConfig::timeouts`].
    pub raft_heartbeat_ms: Option<u64>,
    /// `corral.raft.electionTimeoutMs`: overrides the minimal Raft election timeout derived
    /// from syncLimit and tickTime (the maximum is twice it). Already applied to
    /// [`EnsembleConfig::timeouts`].
    pub raft_election_timeout_ms: Option<u64>,
    /// This server's ensemble (from the `server.N` lines and `myid`); `None` = standalone
    /// (no `server.N` lines, or a single participant with `standaloneEnabled=true`).
    pub ensemble: Option<EnsembleConfig>,
    /// The AdminServer (`admin.*`).
    pub admin: AdminSettings,
    /// Where `/metrics` is served (`metricsProvider.*`); `None` with ZooKeeper's default
    /// provider.
    pub metrics_endpoint: Option<MetricsEndpoint>,
    /// The text of the configuration file as read at start (the `initial_configuration`
    /// admin command); empty without one.
    pub initial_config_text: String,
}

/// The defaults of `corral server` with no arguments: standalone on 127.0.0.1:2181 with
/// data in `./corral-data`.
impl Default for ServerConfig {
    fn default() -> Self {
        let tick_time_ms = TICK_TIME_MS_DEFAULT;
        ServerConfig {
            tick_time_ms,
            data_dir: PathBuf::from("corral-data"),
            data_log_dir: PathBuf::from("corral-data"),
            client_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2181),
            max_client_cnxns: MAX_CLIENT_CNXNS_DEFAULT,
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
            linearizable_reads: false,
            container_check_interval_ms: CONTAINER_CHECK_INTERVAL_MS_DEFAULT,
            container_max_per_minute: CONTAINER_MAX_PER_MINUTE_DEFAULT,
            container_max_never_used_interval_ms: 0,
            global_outstanding_limit: GLOBAL_OUTSTANDING_LIMIT_DEFAULT,
            outbound_queued_bytes_max: OUTBOUND_QUEUED_BYTES_MAX_DEFAULT,
            sessionless_connection_timeout_ms: SESSIONLESS_CONNECTION_TIMEOUT_MS_DEFAULT,
            request_throttle_max_requests: 0,
            request_throttle_stall_ms: REQUEST_THROTTLE_STALL_MS_DEFAULT,
            request_throttle_drop_stale: true,
            snap_count: SNAP_COUNT_DEFAULT,
            force_sync: true,
            pre_alloc_bytes: PRE_ALLOC_BYTES_DEFAULT,
            log_segment_bytes: LOG_SEGMENT_BYTES_DEFAULT,
            log_cache_bytes: LOG_CACHE_BYTES_DEFAULT,
            autopurge_snap_retain_count: SNAP_RETAIN_COUNT_MIN,
            autopurge_purge_interval_hours: 0,
            server_id: 1,
            config_path: None,
            raft_heartbeat_ms: None,
            raft_election_timeout_ms: None,
            ensemble: None,
            admin: AdminSettings::loopback(),
            metrics_endpoint: None,
            initial_config_text: String::new(),
        }
    }
}

impl ServerConfig {
    /// Builds the configuration from an optional zoo.cfg (and the `dynamicConfigFile` it
    /// names), system properties (later ones win) and `dataDir/myid`, as ZooKeeper's
    /// `QuorumPeerConfig.parse` does: the server id, and whether this server is an ensemble
    /// member, are decided here.
    pub fn load(
        config_path: Option<&Path>,
        system_properties: &[(String, String)],
    ) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::default();
        let mut file_keys = BTreeMap::new();
        if let Some(path) = config_path {
            let text = read_text(path)?;
            file_keys = parse_properties(&text);
            config.initial_config_text = text;
            config.config_path = Some(path.to_owned());
            // A zoo.cfg binds to all interfaces unless clientPortAddress says otherwise, as
            // ZooKeeper does; only the no-configuration default is loopback. The same for
            // the AdminServer (admin.serverAddress).
            config.client_addr.set_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            config.admin.addr.set_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        }
        let mut ensemble_keys = EnsembleKeys::default();
        let mut metrics_keys = MetricsKeys::default();
        config.apply_file_keys(&file_keys, &mut ensemble_keys, &mut metrics_keys)?;
        config.metrics_endpoint = metrics_keys.endpoint()?;
        if let Some(path) = ensemble_keys.dynamic_config_file().map(Path::to_owned) {
            let dynamic_keys = parse_properties(&read_text(&path)?);
            ensemble_keys.apply_dynamic_file(&path, &dynamic_keys)?;
        }
        for (key, value) in system_properties {
            config.apply_system_property(key, value)?;
        }
        let myid = read_myid(&config.data_dir)?;
        config.server_id = myid.id.unwrap_or(config.server_id);
        // ZooKeeper's clientPort=0 means "not set".
        let static_client_addr = (file_keys.contains_key("clientPort")
            && config.client_addr.port() != 0)
            .then_some(config.client_addr);
        let resolved = ensemble::resolve(
            &ensemble_keys,
            &ensemble::Context {
                tick_time_ms: config.tick_time_ms,
                myid: &myid,
                static_client_addr,
                client_addr: config.client_addr,
                raft_heartbeat_ms: config.raft_heartbeat_ms,
                raft_election_timeout_ms: config.raft_election_timeout_ms,
            },
        )?;
        if let Some(addr) = resolved.client_addr {
            config.client_addr = addr;
        }
        if let Some(ensemble) = &resolved.ensemble {
            config.server_id = ensemble.my_id;
        }
        config.ensemble = resolved.ensemble;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_session_timeout_ms < self.min_session_timeout_ms {
            return Err(ConfigError::Other(format!(
                "minSessionTimeout {} must not be larger than maxSessionTimeout {}",
                self.min_session_timeout_ms, self.max_session_timeout_ms
            )));
        }
        if self.extended_types_enabled && self.server_id > SERVER_ID_MAX_WITH_EXTENDED_TYPES {
            return Err(ConfigError::Other(format!(
                "with extendedTypesEnabled the server id must be at most \
                 {SERVER_ID_MAX_WITH_EXTENDED_TYPES}"
            )));
        }
        Ok(())
    }

    fn apply_file_keys(
        &mut self,
        keys: &BTreeMap<String, String>,
        ensemble: &mut EnsembleKeys,
        metrics: &mut MetricsKeys,
    ) -> Result<(), ConfigError> {
        if let Some(v) = keys.get("tickTime") {
            self.tick_time_ms = parse_num("tickTime", v)?;
        }
        if self.tick_time_ms == 0 {
            return Err(ConfigError::Other("tickTime must be positive".to_owned()));
        }
        let tick = self.tick_time_ms as i32;
        self.min_session_timeout_ms = 2 * tick;
        self.max_session_timeout_ms = 20 * tick;
        for (key, value) in keys {
            if !self.apply_file_key(key, value)?
                && !ensemble.apply(key, value)?
                && !metrics.apply(key, value)
                && !self.apply_shared_key(key, value)?
            {
                tracing::warn!(
                    key = key.as_str(),
                    value = value.as_str(),
                    "ignoring unused zoo.cfg key"
                );
            }
        }
        if keys.contains_key("clientPortAddress") && !keys.contains_key("clientPort") {
            return Err(ConfigError::Other(
                "clientPortAddress is set but clientPort is not".to_owned(),
            ));
        }
        if !keys.contains_key("dataLogDir") {
            self.data_log_dir = self.data_dir.clone();
        }
        Ok(())
    }

    /// Keys only zoo.cfg sets; false when `key` is not one of them.
    fn apply_file_key(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "tickTime" => {}
            "dataDir" => self.data_dir = PathBuf::from(value),
            "dataLogDir" => self.data_log_dir = PathBuf::from(value),
            "clientPort" => self.client_addr.set_port(parse_num(key, value)?),
            "clientPortAddress" => {
                let ip: IpAddr = value
                    .parse()
                    .map_err(|_| ConfigError::invalid(key, value, "not an IP address"))?;
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
            "snapCount" => self.snap_count = parse_num::<u64>(key, value)?.max(SNAP_COUNT_MIN),
            "preAllocSize" => {
                self.pre_alloc_bytes = parse_num::<u64>(key, value)?
                    .saturating_mul(1024)
                    .max(PRE_ALLOC_BYTES_MIN)
            }
            "corral.logSegmentBytes" => {
                self.log_segment_bytes = parse_num::<u64>(key, value)?
                    .clamp(LOG_SEGMENT_BYTES_MIN, LOG_SEGMENT_BYTES_MAX)
            }
            "corral.logCacheBytes" => {
                self.log_cache_bytes = parse_num::<u64>(key, value)?.min(LOG_CACHE_BYTES_MAX)
            }
            "forceSync" => self.force_sync = !value.eq_ignore_ascii_case("no"),
            "autopurge.snapRetainCount" => {
                self.autopurge_snap_retain_count =
                    parse_num::<u32>(key, value)?.max(SNAP_RETAIN_COUNT_MIN)
            }
            "autopurge.purgeInterval" => {
                self.autopurge_purge_interval_hours = parse_num(key, value)?
            }
            "reconfigEnabled" => self.reconfig_enabled = parse_bool(value),
            LINEARIZABLE_READS_KEY => self.linearizable_reads = parse_bool(value),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Keys accepted both in zoo.cfg and as `zookeeper.`-prefixed system properties.
    fn apply_shared_key(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        if self.admin.apply(key, value)? {
            return Ok(true);
        }
        match key {
            "4lw.commands.whitelist" => self.four_letter_whitelist = parse_whitelist(value),
            "extendedTypesEnabled" => self.extended_types_enabled = parse_bool(value),
            "jute.maxbuffer" => self.jute_max_buffer_bytes = parse_jute_max_buffer(key, value)?,
            "globalOutstandingLimit" => {
                self.global_outstanding_limit = parse_num::<usize>(key, value)?.max(1)
            }
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
            "nio.sessionlessCnxnTimeout" => {
                self.sessionless_connection_timeout_ms = parse_num::<u64>(key, value)?.max(1)
            }
            "request_throttle_max_requests" => {
                self.request_throttle_max_requests = parse_num(key, value)?
            }
            "request_throttle_stall_time" => {
                self.request_throttle_stall_ms = parse_num::<u64>(key, value)?.max(1)
            }
            "request_throttle_drop_stale" => self.request_throttle_drop_stale = parse_bool(value),
            RAFT_HEARTBEAT_KEY => self.raft_heartbeat_ms = Some(parse_num(key, value)?),
            RAFT_ELECTION_TIMEOUT_KEY => {
                self.raft_election_timeout_ms = Some(parse_num(key, value)?)
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
                    tracing::warn!(key, value, "ignoring unused system property");
                }
            }
        }
        Ok(())
    }
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

fn parse_jute_max_buffer(key: &str, value: &str) -> Result<usize, ConfigError> {
    Ok(parse_size(key, value)?.clamp(JUTE_MAX_BUFFER_BYTES_MIN, JUTE_MAX_BUFFER_BYTES_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_zoo_cfg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        let data = dir.path().join("data");
        std::fs::write(
            &path,
            format!(
                "# comment\ntickTime=1000\ndataDir={}\nclientPort=2999\n\
                 clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=ruok, srvr\n\
                 initLimit=10\nminSessionTimeout=500\n",
                data.display()
            ),
        )
        .unwrap();
        let config = ServerConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(config.tick_time_ms, 1000);
        assert_eq!(config.client_addr, "127.0.0.1:2999".parse().unwrap());
        assert_eq!(config.data_log_dir, data);
        assert_eq!(config.ensemble, None);
        assert_eq!(config.server_id, 1, "no myid: standalone id 1");
        assert_eq!(config.min_session_timeout_ms, 500);
        assert_eq!(config.max_session_timeout_ms, 20_000);
        assert_eq!(config.max_client_cnxns, 0);
        let words = config.four_letter_settings();
        assert!(words.allowed("ruok"));
        assert!(!words.allowed("mntr"));
        assert_eq!(config.log_cache_bytes, LOG_CACHE_BYTES_DEFAULT);
    }

    #[test]
    fn corral_storage_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(
            &path,
            format!(
                "dataDir={}\ncorral.logSegmentBytes=100\ncorral.logCacheBytes=65536\n",
                dir.path().display()
            ),
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
        assert_eq!(config.admin.addr, "127.0.0.1:8080".parse().unwrap());
    }

    /// With a zoo.cfg the AdminServer listens where ZooKeeper's does: every interface.
    #[test]
    fn a_zoo_cfg_puts_the_admin_server_on_every_interface() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(&path, format!("dataDir={}\n", dir.path().display())).unwrap();
        let config = ServerConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(config.admin.addr, "0.0.0.0:8080".parse().unwrap());
    }

    #[test]
    fn client_port_address_needs_client_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(&path, "clientPortAddress=127.0.0.1\n").unwrap();
        assert!(ServerConfig::load(Some(&path), &[]).is_err());
    }

    #[test]
    fn standalone_takes_its_id_from_myid() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("myid"), "7\n").unwrap();
        let path = dir.path().join("zoo.cfg");
        std::fs::write(&path, format!("dataDir={}\n", dir.path().display())).unwrap();
        let config = ServerConfig::load(Some(&path), &[]).unwrap();
        assert_eq!(config.server_id, 7);
        assert_eq!(config.ensemble, None);
    }
}
