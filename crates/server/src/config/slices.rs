//! The parts of [`ServerConfig`] each consumer receives: a connection sees its limits, the
//! reaper its schedule, the authenticator its settings — never the whole configuration.

use std::path::PathBuf;
use std::time::Duration;

use corral_tree::{AuthProviders, TreeConfig};

use super::{ServerConfig, OUTSTANDING_WRITES_PER_CONNECTION_MAX};

/// What bounds one client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `jute.maxbuffer`: the largest frame accepted.
    pub frame_bytes_max: usize,
    /// Queued outbound bytes before the connection is dropped.
    pub outbound_queued_bytes_max: usize,
    /// `maxClientCnxns` per client IP; 0 = unlimited.
    pub connections_per_ip_max: u32,
    pub session_timeout_min_ms: i32,
    pub session_timeout_max_ms: i32,
    /// Writes in the log before the server stops reading from the connection.
    pub outstanding_writes_max: usize,
    /// Time to complete the handshake (`zookeeper.nio.sessionlessCnxnTimeout`).
    pub sessionless_timeout: Duration,
    /// `zookeeper.request_throttle_max_requests` (0 = off).
    pub throttle_max_requests: usize,
    /// `zookeeper.request_throttle_stall_time`.
    pub throttle_stall: Duration,
    /// `zookeeper.request_throttle_drop_stale`.
    pub throttle_drop_stale: bool,
}

/// How the `auth` packet is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// `user:base64(sha1)` that makes a digest login a superuser.
    pub super_digest: Option<String>,
    pub digest_enabled: bool,
}

/// When the container/TTL reaper runs (ZooKeeper's `znode.container.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaperSchedule {
    pub check_interval_ms: u64,
    pub deletes_per_minute_max: u32,
    pub max_never_used_interval_ms: i64,
}

/// Which four-letter words may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FourLetterSettings {
    /// `None` = every word.
    pub whitelist: Option<Vec<String>>,
    /// `readonlymode.enabled` whitelists `isro`, as in ZooKeeper.
    pub read_only_mode_enabled: bool,
}

impl FourLetterSettings {
    pub fn allowed(&self, word: &str) -> bool {
        if word == "isro" && self.read_only_mode_enabled {
            return true;
        }
        match &self.whitelist {
            None => true,
            Some(list) => list.iter().any(|w| w == word),
        }
    }
}

/// Where and how the log and snapshots are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub force_sync: bool,
    pub pre_alloc_bytes: u64,
    pub log_segment_bytes: u64,
    pub log_cache_bytes: u64,
    pub snap_count: u64,
    pub snap_retain_count: u32,
}

impl ServerConfig {
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            frame_bytes_max: self.jute_max_buffer_bytes,
            outbound_queued_bytes_max: self.outbound_queued_bytes_max,
            connections_per_ip_max: self.max_client_cnxns,
            session_timeout_min_ms: self.min_session_timeout_ms,
            session_timeout_max_ms: self.max_session_timeout_ms,
            outstanding_writes_max: OUTSTANDING_WRITES_PER_CONNECTION_MAX,
            sessionless_timeout: Duration::from_millis(self.sessionless_connection_timeout_ms),
            throttle_max_requests: self.request_throttle_max_requests,
            throttle_stall: Duration::from_millis(self.request_throttle_stall_ms),
            throttle_drop_stale: self.request_throttle_drop_stale,
        }
    }

    pub fn auth_settings(&self) -> AuthSettings {
        AuthSettings {
            super_digest: self.super_digest.clone(),
            digest_enabled: self.digest_auth_enabled,
        }
    }

    pub fn reaper_schedule(&self) -> ReaperSchedule {
        ReaperSchedule {
            check_interval_ms: self.container_check_interval_ms,
            deletes_per_minute_max: self.container_max_per_minute.max(1),
            max_never_used_interval_ms: self.container_max_never_used_interval_ms,
        }
    }

    pub fn four_letter_settings(&self) -> FourLetterSettings {
        FourLetterSettings {
            whitelist: self.four_letter_whitelist.clone(),
            read_only_mode_enabled: self.read_only_mode_enabled,
        }
    }

    pub fn storage_settings(&self) -> StorageSettings {
        StorageSettings {
            data_dir: self.data_dir.clone(),
            data_log_dir: self.data_log_dir.clone(),
            force_sync: self.force_sync,
            pre_alloc_bytes: self.pre_alloc_bytes,
            log_segment_bytes: self.log_segment_bytes,
            log_cache_bytes: self.log_cache_bytes,
            snap_count: self.snap_count,
            snap_retain_count: self.autopurge_snap_retain_count,
        }
    }

    /// The tree's replicated settings.
    pub fn tree_config(&self) -> TreeConfig {
        TreeConfig {
            extended_types_enabled: self.extended_types_enabled,
            skip_acl: self.skip_acl,
        }
    }

    /// The ACL schemes the tree knows: `digest` only when its provider is enabled.
    pub fn auth_providers(&self) -> AuthProviders {
        AuthProviders {
            digest_enabled: self.digest_auth_enabled,
            ..AuthProviders::default()
        }
    }
}
