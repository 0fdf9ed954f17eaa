//! ZooKeeper's ensemble configuration: the `server.N` lines, `myid`, `peerType`,
//! `standaloneEnabled`, `initLimit`/`syncLimit`, `quorumListenOnAllIPs`, `electionAlg`,
//! `dynamicConfigFile`, and the mapping of ZooKeeper's timers onto Raft's.
//!
//! The rules follow Apache ZooKeeper 3.9's `QuorumPeerConfig` (`parseProperties`,
//! `parseDynamicConfig`, `setupMyId`, `setupClientPort`, `setupPeerType`, `checkValidity`,
//! `isDistributed`) and `QuorumPeer.QuorumServer` (the line grammar and its `toString`), with a
//! few deliberate refusals where ZooKeeper would start in a broken state (each is marked
//! "Corral refuses" below).
//!
//! Plain data only: nothing here knows Raft or the network. The raft module converts
//! [`RaftTimeoutsMs`] into openraft's settings; the peer network uses [`EnsembleConfig`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::error::ConfigError;
use super::properties::parse_num;

/// `standaloneEnabled`: with one participant the server runs standalone.
pub const STANDALONE_ENABLED_DEFAULT: bool = true;
/// `quorumListenOnAllIPs`: the quorum port binds the `server.N` host, not every interface.
pub const QUORUM_LISTEN_ON_ALL_IPS_DEFAULT: bool = false;
/// `electionAlg`: the only value ZooKeeper 3.6+ accepts (fast leader election). `conf` prints it.
pub const ELECTION_ALG_SUPPORTED: u32 = 3;
/// The smallest server id (`server.N`, `myid`).
pub const SERVER_ID_MIN: u64 = 1;
/// The largest server id: ZooKeeper documents 1-255, and a session id keeps the server id in
/// its top byte, so larger ids would collide.
pub const SERVER_ID_MAX: u64 = 255;
/// The membership version before any reconfig (`version=0` in `conf` and `/zookeeper/config`).
pub const CONFIG_VERSION_DEFAULT: u64 = 0;
/// The client host of a `server.N` line whose client part is only a port.
pub const CLIENT_HOST_DEFAULT: &str = "0.0.0.0";
/// The name of the server id file in `dataDir`.
pub const MYID_FILE_NAME: &str = "myid";

/// Raft's heartbeat never goes below this, whatever tickTime says (ms).
pub const HEARTBEAT_MS_MIN: u64 = 50;
/// Raft's heartbeat never goes above this: failure detection needs several per timeout (ms).
pub const HEARTBEAT_MS_MAX: u64 = 500;
/// Heartbeats per minimal election timeout (openraft's rule of thumb).
pub const HEARTBEATS_PER_ELECTION_TIMEOUT_MIN: u64 = 3;
/// The minimal election timeout is ZooKeeper's sync window (`syncLimit * tickTime`) divided by
/// this.
pub const SYNC_WINDOW_PER_ELECTION_TIMEOUT_MIN: u64 = 8;
/// The minimal election timeout never goes below this (ms): a loaded 2-core machine must not
/// start elections because a task was scheduled late.
pub const ELECTION_TIMEOUT_MIN_MS_FLOOR: u64 = 250;
/// The minimal election timeout never goes above this (ms), so that a large `syncLimit` (given
/// for followers that lag, which Raft tolerates anyway) does not make failover take minutes.
pub const ELECTION_TIMEOUT_MIN_MS_CAP: u64 = 5_000;
/// The maximal election timeout is this many minimal ones.
pub const ELECTION_TIMEOUT_MAX_PER_MIN: u64 = 2;
/// Sending and installing a snapshot is never given less than this (ms).
pub const INSTALL_SNAPSHOT_TIMEOUT_MS_MIN: u64 = 5_000;

/// Raft's timers, in milliseconds (converted into openraft's config by the raft module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftTimeoutsMs {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// How long a leader may take to send a snapshot to a follower and have it installed
    /// (openraft's `install_snapshot_timeout`).
    pub install_snapshot_timeout_ms: u64,
}

/// ZooKeeper's timers (`tickTime` ms, `initLimit` and `syncLimit` ticks) mapped onto Raft's.
///
/// What ZooKeeper does: the leader pings every `tickTime/2`; a follower that hears nothing for
/// `syncLimit * tickTime` (the *sync window*: 10 s with the sample `tickTime=2000, syncLimit=5`,
/// 4 s with kazoo's `syncLimit=2`) drops the leader and starts an election; a learner gets
/// `initLimit * tickTime` (20 s with `initLimit=10`) to connect and sync with a leader.
///
/// What openraft 0.10 does: a follower grants no vote while it heard from a leader within
/// `election_timeout_max` (the leader lease), and starts an election itself only once
/// `election_timeout_max + t` passed without hearing from one, `t` drawn from
/// `[election_timeout_min, election_timeout_max)`. With `max = 2 * min` a dead or hung leader is
/// therefore given up after between `3 * min` and `4 * min`.
///
/// The mapping:
/// - `election_timeout_min = clamp(syncLimit * tickTime / 8, 250 ms, 5 s)`,
///   `election_timeout_max = 2 * election_timeout_min`: a follower gives up a silent leader
///   after 3/8 to 1/2 of ZooKeeper's sync window, so failover is about twice as fast as
///   ZooKeeper's whenever the window is at least 2 s (below that the 250 ms floor wins:
///   750-1000 ms). Sample config (2000, 5): 1250/2500 ms, leader given up after 3.75-5 s
///   instead of 10 s. kazoo's (2000, 2): 500/1000 ms, 1.5-2 s instead of 4 s.
/// - `heartbeat = clamp(election_timeout_min / 3, 50 ms, 500 ms)` (416 ms for the sample, 166 ms
///   for kazoo's): no election starts unless 9 heartbeats in a row (3 * min) go missing, so a
///   loaded 2-core machine has to stall for 750 ms at the very least (3.75 s with the sample
///   config) before a healthy leader is challenged, and even then Raft only changes the leader.
/// - `install_snapshot_timeout = max(initLimit * tickTime, 5 s)`: the time ZooKeeper gives a
///   learner to sync.
///
/// Always `heartbeat < election_timeout_min < election_timeout_max` (openraft's
/// `Config::validate` refuses anything else): the minimum is at least 250 ms and the heartbeat
/// at most a third of it.
pub fn raft_timeouts(tick_time_ms: u32, init_limit: u32, sync_limit: u32) -> RaftTimeoutsMs {
    let tick_ms = u64::from(tick_time_ms);
    let sync_window_ms = u64::from(sync_limit) * tick_ms;
    let election_timeout_min_ms = (sync_window_ms / SYNC_WINDOW_PER_ELECTION_TIMEOUT_MIN)
        .clamp(ELECTION_TIMEOUT_MIN_MS_FLOOR, ELECTION_TIMEOUT_MIN_MS_CAP);
    RaftTimeoutsMs {
        heartbeat_interval_ms: (election_timeout_min_ms / HEARTBEATS_PER_ELECTION_TIMEOUT_MIN)
            .clamp(HEARTBEAT_MS_MIN, HEARTBEAT_MS_MAX),
        election_timeout_min_ms,
        election_timeout_max_ms: election_timeout_min_ms * ELECTION_TIMEOUT_MAX_PER_MIN,
        install_snapshot_timeout_ms: (u64::from(init_limit) * tick_ms)
            .max(INSTALL_SNAPSHOT_TIMEOUT_MS_MIN),
    }
}

/// `corral.raft.heartbeatMs`: overrides the heartbeat of [`raft_timeouts`].
pub const RAFT_HEARTBEAT_KEY: &str = "corral.raft.heartbeatMs";
/// Corral's own key: the ensemble id the peer handshake checks, when the servers' member
/// lists cannot agree byte for byte (each server reaching the others through its own
/// addresses, e.g. through proxies in tests); by default it is derived from the member list.
pub const ENSEMBLE_ID_KEY: &str = "corral.ensembleId";
/// `corral.raft.electionTimeoutMs`: overrides the minimal election timeout of
/// [`raft_timeouts`] (the maximum is twice it).
pub const RAFT_ELECTION_TIMEOUT_KEY: &str = "corral.raft.electionTimeoutMs";

impl RaftTimeoutsMs {
    /// Applies `corral.raft.heartbeatMs` / `corral.raft.electionTimeoutMs` (zoo.cfg keys or
    /// `-D` properties, Corral's own, for tests that want failover in a fraction of a second).
    /// `electionTimeoutMs` sets the minimal election timeout (the maximum is twice it) and,
    /// unless `heartbeatMs` is also given, a heartbeat of a third of it; no floors apply. The
    /// heartbeat must stay below the minimal election timeout.
    pub fn with_overrides(
        self,
        heartbeat_ms: Option<u64>,
        election_timeout_ms: Option<u64>,
    ) -> Result<RaftTimeoutsMs, ConfigError> {
        let mut timeouts = self;
        if let Some(min) = election_timeout_ms {
            timeouts.election_timeout_min_ms = min;
            timeouts.election_timeout_max_ms = min.saturating_mul(ELECTION_TIMEOUT_MAX_PER_MIN);
            timeouts.heartbeat_interval_ms =
                (min / HEARTBEATS_PER_ELECTION_TIMEOUT_MIN).clamp(1, HEARTBEAT_MS_MAX);
        }
        if let Some(heartbeat) = heartbeat_ms {
            timeouts.heartbeat_interval_ms = heartbeat;
        }
        if timeouts.heartbeat_interval_ms == 0 {
            return Err(ConfigError::invalid(
                RAFT_HEARTBEAT_KEY,
                "0",
                "the heartbeat must be at least 1 ms",
            ));
        }
        if timeouts.election_timeout_min_ms <= timeouts.heartbeat_interval_ms {
            return Err(ConfigError::Other(format!(
                "{RAFT_ELECTION_TIMEOUT_KEY} ({} ms) must be larger than {RAFT_HEARTBEAT_KEY} \
                 ({} ms)",
                timeouts.election_timeout_min_ms, timeouts.heartbeat_interval_ms
            )));
        }
        Ok(timeouts)
    }
}

/// The client part of a `server.N` line (`;[host:]port`), host as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    /// As written (IPv6 without brackets); [`CLIENT_HOST_DEFAULT`] when only a port was given.
    pub host: String,
    pub port: u16,
}

impl ClientSpec {
    /// The address, when the host is an IP literal (names are resolved only for this server's
    /// own line, at load).
    pub fn ip_addr(&self) -> Option<SocketAddr> {
        self.host
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, self.port))
    }
}

/// One `server.N=host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    pub id: u64,
    /// As written (a name or an IP; IPv6 without its brackets).
    pub quorum_host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    /// Only when the line itself has a client part: ZooKeeper prints a client address inherited
    /// from `clientPort`/`clientPortAddress` nowhere in the membership text.
    pub client: Option<ClientSpec>,
}

impl MemberSpec {
    /// `host:quorumPort` (IPv6 in brackets), for connecting to this member.
    pub fn quorum_endpoint(&self) -> String {
        format!("{}:{}", delimited_host(&self.quorum_host), self.quorum_port)
    }

    /// `host:electionPort` (IPv6 in brackets).
    pub fn election_endpoint(&self) -> String {
        format!(
            "{}:{}",
            delimited_host(&self.quorum_host),
            self.election_port
        )
    }

    /// `participant` or `observer`, as ZooKeeper writes the role.
    pub fn role(&self) -> &'static str {
        if self.observer {
            "observer"
        } else {
            "participant"
        }
    }

    /// The member as a dynamic-config line, e.g.
    /// `server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181`.
    pub fn config_line(&self) -> String {
        format!("server.{}={}", self.id, self)
    }

    /// Parses the value of `key` (`server.<id>`).
    fn parse(key: &str, id: u64, value: &str) -> Result<MemberSpec, ConfigError> {
        let invalid = |reason: String| ConfigError::invalid(key, value, reason);
        let mut parts: Vec<&str> = value.split(';').collect();
        // Java's String.split drops trailing empty parts: `host:1:2;` has no client part.
        while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        if parts.len() > 2 {
            return Err(invalid(format!("more than one ';': {LINE_FORMAT}")));
        }
        let server = parts[0];
        if server.contains('|') {
            return Err(invalid(
                "several '|'-separated addresses (ZooKeeper's multiAddress.enabled) are not \
                 supported"
                    .to_owned(),
            ));
        }
        let (host, fields) = split_host(server).map_err(&invalid)?;
        if !(2..=3).contains(&fields.len()) {
            return Err(invalid(format!(
                "expected host:quorumPort:electionPort[:role]: {LINE_FORMAT}"
            )));
        }
        if host.is_empty() {
            return Err(invalid("the host is empty".to_owned()));
        }
        let quorum_port = parse_peer_port(fields[0]).map_err(&invalid)?;
        let election_port = parse_peer_port(fields[1]).map_err(&invalid)?;
        if quorum_port == election_port {
            return Err(invalid(format!(
                "the quorum port and the election port are both {quorum_port}; they must differ"
            )));
        }
        let observer = match fields.get(2) {
            None => false,
            Some(role) => parse_role(role).map_err(&invalid)?,
        };
        let client = match parts.get(1) {
            None => None,
            Some(text) => Some(parse_client(text).map_err(&invalid)?),
        };
        Ok(MemberSpec {
            id,
            quorum_host: host.to_owned(),
            quorum_port,
            election_port,
            observer,
            client,
        })
    }
}

/// ZooKeeper's `QuorumServer.toString()`: `host:quorumPort:electionPort:role`, then
/// `;clientHost:clientPort` when the line had a client part; hosts as written, IPv6 in brackets.
impl fmt::Display for MemberSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            delimited_host(&self.quorum_host),
            self.quorum_port,
            self.election_port,
            self.role()
        )?;
        if let Some(client) = &self.client {
            write!(f, ";{}:{}", delimited_host(&client.host), client.port)?;
        }
        Ok(())
    }
}

const LINE_FORMAT: &str = "server.N=host:quorumPort:electionPort[:participant|observer]\
                           [;[clientHost:]clientPort]";

/// This server's place in a replicated ensemble (`None` in [`super::ServerConfig`] = standalone).
///
/// Invariant (kept by the loader): `members` holds `my_id`, and at least one participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleConfig {
    pub my_id: u64,
    /// Every `server.N`, participants and observers.
    pub members: BTreeMap<u64, MemberSpec>,
    /// `initLimit` (ticks), as `conf` prints it.
    pub init_limit: u32,
    /// `syncLimit` (ticks), as `conf` prints it.
    pub sync_limit: u32,
    pub timeouts: RaftTimeoutsMs,
    /// `quorumListenOnAllIPs`: bind the quorum port on every interface.
    pub quorum_listen_on_all_ips: bool,
    /// The same on every member configured with the same server list (see
    /// [`ensemble_id`]): the peer handshake refuses a server of another ensemble.
    pub ensemble_id: String,
    /// The membership version (`version=` line, hex): the suffix of a `dynamicConfigFile`
    /// name, otherwise [`CONFIG_VERSION_DEFAULT`].
    pub config_version: u64,
}

impl EnsembleConfig {
    /// This server's own line.
    pub fn me(&self) -> &MemberSpec {
        self.members
            .get(&self.my_id)
            .expect("the loader keeps my_id among the members")
    }

    /// The voting members (participants), by id.
    pub fn voters(&self) -> impl Iterator<Item = &MemberSpec> + '_ {
        self.members.values().filter(|m| !m.observer)
    }

    /// The non-voting members (observers), by id.
    pub fn observers(&self) -> impl Iterator<Item = &MemberSpec> + '_ {
        self.members.values().filter(|m| m.observer)
    }

    /// The other members, by id.
    pub fn peers(&self) -> impl Iterator<Item = &MemberSpec> + '_ {
        self.members.values().filter(move |m| m.id != self.my_id)
    }

    /// Voting members (ZooKeeper's `zk_quorum_size`).
    pub fn voter_count(&self) -> usize {
        self.voters().count()
    }

    /// Where this server's quorum port listens, as `host:port` for `TcpListener::bind` (a host
    /// name is resolved there): this server's `server.N` host, or with `quorumListenOnAllIPs`
    /// every interface (`0.0.0.0`, or `[::]` when the configured host is an IPv6 address).
    pub fn quorum_listen_addr(&self) -> String {
        let me = self.me();
        if !self.quorum_listen_on_all_ips {
            return me.quorum_endpoint();
        }
        let ipv6 = matches!(me.quorum_host.parse::<IpAddr>(), Ok(IpAddr::V6(_)));
        let any = if ipv6 { "[::]" } else { "0.0.0.0" };
        format!("{any}:{}", me.quorum_port)
    }

    /// The membership text of `/zookeeper/config` and of `conf` (ZooKeeper's
    /// `QuorumMaj.toString()`): one `server.N=...` line per member by id, then
    /// `version=<hex>` with no final newline.
    pub fn config_text(&self) -> String {
        let mut text = String::new();
        for member in self.members.values() {
            text.push_str(&member.config_line());
            text.push('\n');
        }
        text.push_str(&format!("version={:x}", self.config_version));
        text
    }

    /// The ensemble part of the `conf` four-letter word, after the standalone keys
    /// (ZooKeeper's `QuorumZooKeeperServer.dumpConf`): `initLimit`, `syncLimit`, `electionAlg`,
    /// `electionPort`, `quorumPort`, `peerType` (0 participant, 1 observer), then
    /// `membership: ` and [`Self::config_text`].
    pub fn dump_conf(&self) -> String {
        let me = self.me();
        format!(
            "initLimit={}\nsyncLimit={}\nelectionAlg={ELECTION_ALG_SUPPORTED}\nelectionPort={}\n\
             quorumPort={}\npeerType={}\nmembership: \n{}",
            self.init_limit,
            self.sync_limit,
            me.election_port,
            me.quorum_port,
            u8::from(me.observer),
            self.config_text()
        )
    }
}

/// A stable identifier of a server list: the hex SHA-1 of `id=host:quorumPort:role` per
/// member, by id, host lower-cased. Client parts and election ports do not enter it, so the
/// members agree on it as long as they agree on who is in the ensemble and where.
pub fn ensemble_id(members: &BTreeMap<u64, MemberSpec>) -> String {
    let mut hasher = Sha1::new();
    for member in members.values() {
        hasher.update(
            format!(
                "{}={}:{}:{}\n",
                member.id,
                member.quorum_host.to_ascii_lowercase(),
                member.quorum_port,
                member.role()
            )
            .as_bytes(),
        );
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `dataDir/myid`, as read at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyId {
    pub path: PathBuf,
    /// `None` when the file does not exist.
    pub id: Option<u64>,
}

/// Reads `dataDir/myid`: a decimal id on the first line (surrounding spaces allowed). A missing
/// file is not an error here (a standalone server needs none); an unreadable or non-numeric one
/// is.
pub fn read_myid(data_dir: &Path) -> Result<MyId, ConfigError> {
    let path = data_dir.join(MYID_FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(MyId { path, id: None })
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let line = text.lines().next().unwrap_or("").trim();
    match line.parse::<u64>() {
        Ok(id) => Ok(MyId { path, id: Some(id) }),
        Err(_) => Err(ConfigError::MyIdInvalid {
            path,
            text: line.to_owned(),
        }),
    }
}

/// The ensemble keys of a zoo.cfg, gathered while it is read (the rules need all of them, and
/// `myid`, at once).
#[derive(Debug, Clone)]
pub(crate) struct EnsembleKeys {
    /// `server.*` keys and values, in key order.
    servers: Vec<(String, String)>,
    /// The first `group.*` / `weight.*` key (hierarchical quorums).
    hierarchical_key: Option<String>,
    /// `peerType`: `Some(true)` = observer.
    peer_type_observer: Option<bool>,
    init_limit: u32,
    sync_limit: u32,
    standalone_enabled: bool,
    quorum_listen_on_all_ips: bool,
    dynamic_config_file: Option<PathBuf>,
    config_version: u64,
    /// `corral.ensembleId`: set by the operator instead of derived from the member list.
    ensemble_id: Option<String>,
}

impl Default for EnsembleKeys {
    fn default() -> Self {
        EnsembleKeys {
            servers: Vec::new(),
            hierarchical_key: None,
            peer_type_observer: None,
            init_limit: 0,
            sync_limit: 0,
            standalone_enabled: STANDALONE_ENABLED_DEFAULT,
            quorum_listen_on_all_ips: QUORUM_LISTEN_ON_ALL_IPS_DEFAULT,
            dynamic_config_file: None,
            config_version: CONFIG_VERSION_DEFAULT,
            ensemble_id: None,
        }
    }
}

impl EnsembleKeys {
    /// Takes one zoo.cfg key; false when it is not an ensemble key.
    pub(crate) fn apply(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "peerType" => {
                self.peer_type_observer = Some(parse_role(value).map_err(|_| {
                    ConfigError::invalid(
                        key,
                        value,
                        "unrecognised peer type: participant or observer",
                    )
                })?)
            }
            "initLimit" => self.init_limit = parse_num(key, value)?,
            "syncLimit" => self.sync_limit = parse_num(key, value)?,
            "standaloneEnabled" => self.standalone_enabled = parse_strict_bool(key, value)?,
            "quorumListenOnAllIPs" => {
                self.quorum_listen_on_all_ips = parse_strict_bool(key, value)?
            }
            "electionAlg" => {
                if parse_num::<u32>(key, value).ok() != Some(ELECTION_ALG_SUPPORTED) {
                    return Err(ConfigError::invalid(
                        key,
                        value,
                        format!("only {ELECTION_ALG_SUPPORTED} is supported"),
                    ));
                }
            }
            "dynamicConfigFile" => self.dynamic_config_file = Some(PathBuf::from(value)),
            ENSEMBLE_ID_KEY => {
                if value.trim().is_empty() {
                    return Err(ConfigError::invalid(key, value, "must not be empty"));
                }
                self.ensemble_id = Some(value.trim().to_owned())
            }
            _ if key.starts_with("server.") => {
                self.servers.push((key.to_owned(), value.to_owned()))
            }
            _ if key.starts_with("group.") || key.starts_with("weight.") => {
                self.hierarchical_key.get_or_insert_with(|| key.to_owned());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The file `dynamicConfigFile` names, if any.
    pub(crate) fn dynamic_config_file(&self) -> Option<&Path> {
        self.dynamic_config_file.as_deref()
    }

    /// Takes the keys of the `dynamicConfigFile` at `path`: only `server.*` (ZooKeeper's
    /// non-backward-compatible mode); the version comes from the file name's hex suffix
    /// (`zoo.cfg.dynamic.100000000`), 0 without one.
    pub(crate) fn apply_dynamic_file(
        &mut self,
        path: &Path,
        keys: &BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        let name = path.display();
        if let Some((key, _)) = self.servers.first() {
            return Err(ConfigError::Other(format!(
                "{key} must be in the dynamic config file {name}, not in zoo.cfg, when \
                 dynamicConfigFile is set"
            )));
        }
        if keys.contains_key("version") {
            return Err(ConfigError::Other(format!(
                "the dynamic config file {name} must not hold a version key (the version is \
                 the file name's suffix)"
            )));
        }
        for (key, value) in keys {
            if key.starts_with("server.") {
                self.servers.push((key.clone(), value.clone()));
            } else if key.starts_with("group.") || key.starts_with("weight.") {
                self.hierarchical_key.get_or_insert_with(|| key.clone());
            } else {
                return Err(ConfigError::Other(format!(
                    "{name}: unrecognised parameter {key} (a dynamic config file holds only \
                     server.N lines)"
                )));
            }
        }
        self.config_version = path
            .to_string_lossy()
            .rsplit_once('.')
            .and_then(|(_, suffix)| u64::from_str_radix(suffix, 16).ok())
            .unwrap_or(CONFIG_VERSION_DEFAULT);
        Ok(())
    }
}

/// What the ensemble keys decide beyond [`EnsembleConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// `None`: standalone.
    pub(crate) ensemble: Option<EnsembleConfig>,
    /// This server's client address from its own `server.N` line (which wins over
    /// `clientPort`/`clientPortAddress`), also in standalone mode, as ZooKeeper does.
    pub(crate) client_addr: Option<SocketAddr>,
}

/// What of the rest of the configuration the ensemble rules look at.
pub(crate) struct Context<'a> {
    pub(crate) tick_time_ms: u32,
    pub(crate) myid: &'a MyId,
    /// `clientPort` (non-zero) with `clientPortAddress`, when zoo.cfg sets them.
    pub(crate) static_client_addr: Option<SocketAddr>,
    /// The client address in effect without a client part on this server's line.
    pub(crate) client_addr: SocketAddr,
    pub(crate) raft_heartbeat_ms: Option<u64>,
    pub(crate) raft_election_timeout_ms: Option<u64>,
}

/// Applies ZooKeeper's rules to the gathered keys.
pub(crate) fn resolve(keys: &EnsembleKeys, cx: &Context<'_>) -> Result<Resolved, ConfigError> {
    if let Some(key) = &keys.hierarchical_key {
        return Err(ConfigError::Other(format!(
            "{key}: hierarchical quorums (group.N / weight.N) are not supported"
        )));
    }
    let members = parse_members(&keys.servers)?;
    let voters = members.values().filter(|m| !m.observer).count();
    let observers = members.len() - voters;
    // QuorumPeerConfig.parseDynamicConfig.
    if voters == 0 {
        if !keys.standalone_enabled {
            return Err(ConfigError::Other(
                "standaloneEnabled=false needs at least one participant server.N line".to_owned(),
            ));
        }
        if observers > 0 {
            return Err(ConfigError::Other(
                "observers without participants: at least one server.N line must be a \
                 participant"
                    .to_owned(),
            ));
        }
    } else if voters == 1 && keys.standalone_enabled {
        if observers > 0 {
            return Err(ConfigError::Other(
                "observers with a single participant and standaloneEnabled=true: the \
                 participant would run standalone (set standaloneEnabled=false, or add \
                 participants)"
                    .to_owned(),
            ));
        }
        tracing::warn!(
            "only one server.N line and standaloneEnabled=true: running standalone, as \
             ZooKeeper does"
        );
    } else if voters <= 2 {
        tracing::warn!(
            voters,
            "no server failure will be tolerated: at least 3 participants are needed for that"
        );
    } else if voters % 2 == 0 {
        tracing::warn!(
            voters,
            "an even number of participants tolerates no more failures than one fewer"
        );
    }

    let my_line = cx.myid.id.and_then(|id| members.get(&id));
    let client_addr = match my_line.and_then(|m| m.client.as_ref().map(|c| (m, c))) {
        Some((me, client)) => Some(own_client_addr(me, client, cx.static_client_addr)?),
        None => None,
    };

    // QuorumPeerConfig.isDistributed.
    let distributed = !keys.standalone_enabled || voters > 1;
    if !distributed {
        return Ok(Resolved {
            ensemble: None,
            client_addr,
        });
    }

    // QuorumPeerConfig.checkValidity, QuorumPeer.start.
    if keys.init_limit == 0 {
        return Err(ConfigError::Other(
            "initLimit is not set (an ensemble member needs it; ZooKeeper's sample uses 10)"
                .to_owned(),
        ));
    }
    if keys.sync_limit == 0 {
        return Err(ConfigError::Other(
            "syncLimit is not set (an ensemble member needs it; ZooKeeper's sample uses 5)"
                .to_owned(),
        ));
    }
    let my_id = cx.myid.id.ok_or_else(|| ConfigError::MyIdMissing {
        path: cx.myid.path.clone(),
    })?;
    let Some(me) = members.get(&my_id) else {
        return Err(ConfigError::MyIdNotMember {
            id: my_id,
            path: cx.myid.path.clone(),
            ids: members
                .keys()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };

    // QuorumPeerConfig.setupPeerType: the server list wins, with a warning.
    if let Some(observer) = keys.peer_type_observer {
        if observer != me.observer {
            tracing::warn!(
                peer_type = if observer { "observer" } else { "participant" },
                server_line = me.role(),
                "peerType does not match this server's server.{my_id} line; the line wins"
            );
        }
    }

    check_member_endpoints(&members)?;
    check_own_ports(
        me,
        client_addr.unwrap_or(cx.client_addr),
        keys.quorum_listen_on_all_ips,
    )?;

    let timeouts = raft_timeouts(cx.tick_time_ms, keys.init_limit, keys.sync_limit)
        .with_overrides(cx.raft_heartbeat_ms, cx.raft_election_timeout_ms)?;
    let ensemble_id = keys
        .ensemble_id
        .clone()
        .unwrap_or_else(|| ensemble_id(&members));
    Ok(Resolved {
        ensemble: Some(EnsembleConfig {
            my_id,
            members,
            init_limit: keys.init_limit,
            sync_limit: keys.sync_limit,
            timeouts,
            quorum_listen_on_all_ips: keys.quorum_listen_on_all_ips,
            ensemble_id,
            config_version: keys.config_version,
        }),
        client_addr,
    })
}

fn parse_members(servers: &[(String, String)]) -> Result<BTreeMap<u64, MemberSpec>, ConfigError> {
    let mut members = BTreeMap::new();
    let mut keys: BTreeMap<u64, &str> = BTreeMap::new();
    for (key, value) in servers {
        let id_text = &key["server.".len()..];
        let id = id_text
            .parse::<u64>()
            .ok()
            .filter(|id| (SERVER_ID_MIN..=SERVER_ID_MAX).contains(id))
            .ok_or_else(|| {
                ConfigError::invalid(
                    key,
                    value,
                    format!(
                        "the server id {id_text:?} is not a number from {SERVER_ID_MIN} to \
                         {SERVER_ID_MAX}"
                    ),
                )
            })?;
        if let Some(other) = keys.insert(id, key) {
            return Err(ConfigError::Other(format!(
                "{other} and {key} both name server {id}"
            )));
        }
        members.insert(id, MemberSpec::parse(key, id, value)?);
    }
    Ok(members)
}

/// This server's client address from its own line (QuorumPeerConfig.setupClientPort): a
/// static `clientPortAddress` that is a specific address must equal it, a static wildcard one
/// must have its port.
fn own_client_addr(
    me: &MemberSpec,
    client: &ClientSpec,
    static_addr: Option<SocketAddr>,
) -> Result<SocketAddr, ConfigError> {
    let key = format!("server.{}", me.id);
    let addr = match client.ip_addr() {
        Some(addr) => addr,
        None => (client.host.as_str(), client.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                ConfigError::invalid(
                    &key,
                    &me.to_string(),
                    format!("the client host {:?} does not resolve", client.host),
                )
            })?,
    };
    if let Some(static_addr) = static_addr {
        let clash = if static_addr.ip().is_unspecified() {
            static_addr.port() != addr.port()
        } else {
            static_addr != addr
        };
        if clash {
            return Err(ConfigError::Other(format!(
                "the client address of this server (id {}) is {static_addr} by \
                 clientPort/clientPortAddress but {addr} by its {key} line",
                me.id
            )));
        }
    }
    Ok(addr)
}

/// Corral refuses two members on the same quorum or election `host:port` (ZooKeeper checks
/// this only on reconfig): they could not both listen there.
fn check_member_endpoints(members: &BTreeMap<u64, MemberSpec>) -> Result<(), ConfigError> {
    let mut seen: BTreeMap<(String, u16), (u64, &'static str)> = BTreeMap::new();
    for m in members.values() {
        let host = m.quorum_host.to_ascii_lowercase();
        for (port, what) in [(m.quorum_port, "quorum"), (m.election_port, "election")] {
            if let Some((other, other_what)) = seen.insert((host.clone(), port), (m.id, what)) {
                return Err(ConfigError::Other(format!(
                    "server.{other} ({other_what} port) and server.{} ({what} port) both use \
                     {}:{port}",
                    m.id,
                    delimited_host(&m.quorum_host)
                )));
            }
        }
    }
    Ok(())
}

/// Corral refuses a client port equal to this server's quorum or election port on an
/// overlapping address: the server could not listen on both.
fn check_own_ports(
    me: &MemberSpec,
    client: SocketAddr,
    quorum_on_all_ips: bool,
) -> Result<(), ConfigError> {
    let overlaps = quorum_on_all_ips
        || client.ip().is_unspecified()
        || me.quorum_host.parse::<IpAddr>().ok() == Some(client.ip())
        || me
            .client
            .as_ref()
            .is_some_and(|c| c.host.eq_ignore_ascii_case(&me.quorum_host));
    for (port, what) in [(me.quorum_port, "quorum"), (me.election_port, "election")] {
        if overlaps && client.port() == port {
            return Err(ConfigError::Other(format!(
                "server.{}: the client address {client} uses the {what} port {port}",
                me.id
            )));
        }
    }
    Ok(())
}

/// `participant` / `observer`, case-insensitive; true for observer.
fn parse_role(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "participant" => Ok(false),
        "observer" => Ok(true),
        _ => Err(format!(
            "unrecognised peer type {text:?}: participant or observer"
        )),
    }
}

/// A quorum or election port: 1-65535.
fn parse_peer_port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{text:?} is not a port number (1-65535)"))
}

/// `port` or `host:port` (IPv6 in brackets); a client port may be 0 (any free port).
fn parse_client(text: &str) -> Result<ClientSpec, String> {
    let (host, fields) = split_host(text)?;
    let (host, port) = match fields.as_slice() {
        [] => (CLIENT_HOST_DEFAULT, host),
        [port] if !host.is_empty() => (host, *port),
        _ => return Err(format!("the client part {text:?} is not port or host:port")),
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("the client port {port:?} is not a port number"))?;
    Ok(ClientSpec {
        host: host.to_owned(),
        port,
    })
}

/// Splits `host:a:b...` into the host and the fields after it; an IPv6 host is bracketed
/// (`[::1]:2888:3888`) and returned without its brackets (ZooKeeper's
/// `ConfigUtils.getHostAndPort`).
fn split_host(text: &str) -> Result<(&str, Vec<&str>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(format!("{text:?} starts with '[' but has no matching ']'"));
        };
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let Some(fields) = after.strip_prefix(':').filter(|f| !f.is_empty()) else {
            return Err(format!("{text:?} has no port after the ']'"));
        };
        return Ok((host, fields.split(':').collect()));
    }
    let mut parts = text.split(':');
    let host = parts.next().unwrap_or("");
    Ok((host, parts.collect()))
}

/// A host as ZooKeeper prints it: IPv6 addresses in brackets.
fn delimited_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// ZooKeeper's `QuorumPeerConfig.parseBoolean`: `true` or `false`, case-insensitive, nothing
/// else.
fn parse_strict_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::invalid(key, value, "expected true or false"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;

    /// Loads `text` as a zoo.cfg whose dataDir is a fresh directory holding `myid` (if given).
    fn load_with(
        text: &str,
        myid: Option<&str>,
        properties: &[(&str, &str)],
    ) -> Result<ServerConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(id) = myid {
            std::fs::write(dir.path().join("myid"), id).unwrap();
        }
        let path = dir.path().join("zoo.cfg");
        std::fs::write(&path, format!("dataDir={}\n{text}", dir.path().display())).unwrap();
        let properties: Vec<(String, String)> = properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServerConfig::load(Some(&path), &properties)
    }

    fn load(text: &str, myid: Option<&str>) -> Result<ServerConfig, ConfigError> {
        load_with(text, myid, &[])
    }

    fn ensemble(text: &str, myid: &str) -> EnsembleConfig {
        load(text, Some(myid))
            .unwrap()
            .ensemble
            .expect("an ensemble")
    }

    fn refusal(text: &str, myid: Option<&str>) -> String {
        match load(text, myid) {
            Ok(config) => panic!("accepted: {:?}", config.ensemble),
            Err(err) => err.to_string(),
        }
    }

    const LIMITS: &str = "initLimit=10\nsyncLimit=5\n";

    fn member(id: u64, host: &str, quorum: u16, election: u16) -> MemberSpec {
        MemberSpec {
            id,
            quorum_host: host.to_owned(),
            quorum_port: quorum,
            election_port: election,
            observer: false,
            client: None,
        }
    }

    #[test]
    fn a_typical_three_server_zoo_cfg() {
        let text = "tickTime=2000\ninitLimit=10\nsyncLimit=5\nclientPort=2181\n\
                    server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\n\
                    server.3=127.0.0.3:2888:3888\n";
        let config = load(text, Some("2\n")).unwrap();
        assert_eq!(config.server_id, 2);
        assert_eq!(config.client_addr, "0.0.0.0:2181".parse().unwrap());
        let members = BTreeMap::from([
            (1, member(1, "127.0.0.1", 2888, 3888)),
            (2, member(2, "127.0.0.2", 2888, 3888)),
            (3, member(3, "127.0.0.3", 2888, 3888)),
        ]);
        let expected = EnsembleConfig {
            my_id: 2,
            ensemble_id: ensemble_id(&members),
            members,
            init_limit: 10,
            sync_limit: 5,
            timeouts: RaftTimeoutsMs {
                heartbeat_interval_ms: 416,
                election_timeout_min_ms: 1250,
                election_timeout_max_ms: 2500,
                install_snapshot_timeout_ms: 20_000,
            },
            quorum_listen_on_all_ips: false,
            config_version: 0,
        };
        assert_eq!(config.ensemble.as_ref(), Some(&expected));
        let e = config.ensemble.unwrap();
        assert_eq!(e.me().quorum_endpoint(), "127.0.0.2:2888");
        assert_eq!(e.quorum_listen_addr(), "127.0.0.2:2888");
        assert_eq!(e.voter_count(), 3);
        assert_eq!(e.observers().count(), 0);
        assert_eq!(e.peers().map(|m| m.id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(
            e.config_text(),
            "server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.2:2888:3888:participant\n\
             server.3=127.0.0.3:2888:3888:participant\nversion=0"
        );
        assert_eq!(
            e.dump_conf(),
            "initLimit=10\nsyncLimit=5\nelectionAlg=3\nelectionPort=3888\nquorumPort=2888\n\
             peerType=0\nmembership: \nserver.1=127.0.0.1:2888:3888:participant\n\
             server.2=127.0.0.2:2888:3888:participant\nserver.3=127.0.0.3:2888:3888:participant\n\
             version=0"
        );
    }

    #[test]
    fn client_parts_and_roles_render_as_zookeeper_prints_them() {
        let e = ensemble(
            &format!(
                "{LIMITS}server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                 server.2=zoo2:2889:3889;2182\nserver.3=[::1]:2890:3890:PARTICIPANT;[::1]:2183\n\
                 server.100=0.0.0.0:2891:3891:observer;0.0.0.0:2184\nserver.5=zoo5:2892:3892;\n"
            ),
            "1",
        );
        let lines: Vec<String> = e.members.values().map(MemberSpec::config_line).collect();
        assert_eq!(
            lines,
            [
                "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181",
                "server.2=zoo2:2889:3889:participant;0.0.0.0:2182",
                "server.3=[::1]:2890:3890:participant;[::1]:2183",
                "server.5=zoo5:2892:3892:participant",
                "server.100=0.0.0.0:2891:3891:observer;0.0.0.0:2184",
            ]
        );
        let ipv6 = &e.members[&3];
        assert_eq!(ipv6.quorum_host, "::1");
        assert_eq!(ipv6.quorum_endpoint(), "[::1]:2890");
        assert_eq!(ipv6.election_endpoint(), "[::1]:3890");
        assert_eq!(
            ipv6.client.as_ref().unwrap().ip_addr(),
            Some("[::1]:2183".parse().unwrap())
        );
        assert_eq!(e.voters().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 3, 5]);
        assert_eq!(e.observers().map(|m| m.id).collect::<Vec<_>>(), [100]);
    }

    #[test]
    fn the_colon_separator_form_of_the_observer_guide() {
        let e = ensemble(
            &format!(
                "{LIMITS}peerType=observer\nserver.1:localhost:2181:3181\n\
                 server.2:localhost:2182:3182\nserver.3:localhost:2183:3183:observer\n"
            ),
            "3",
        );
        assert!(e.me().observer);
        assert_eq!(e.voter_count(), 2);
        assert!(e.dump_conf().contains("\npeerType=1\n"));
    }

    #[test]
    fn ipv6_members_listen_on_their_address_or_on_all() {
        let text = format!(
            "{LIMITS}server.1=[::1]:2888:3888\nserver.2=[::1]:2889:3889\nserver.3=[::1]:2890:3890\n"
        );
        assert_eq!(ensemble(&text, "2").quorum_listen_addr(), "[::1]:2889");
        let all = ensemble(&format!("{text}quorumListenOnAllIPs=true\n"), "2");
        assert!(all.quorum_listen_on_all_ips);
        assert_eq!(all.quorum_listen_addr(), "[::]:2889");
        let v4 = ensemble(
            &format!(
                "{LIMITS}quorumListenOnAllIPs=TRUE\nserver.1=zoo1:2888:3888\n\
                 server.2=zoo2:2888:3888\n"
            ),
            "1",
        );
        assert_eq!(v4.quorum_listen_addr(), "0.0.0.0:2888");
        assert!(
            refusal(&format!("{text}quorumListenOnAllIPs=yes\n"), Some("1"))
                .contains("quorumListenOnAllIPs")
        );
    }

    #[test]
    fn standalone_enabled_decides_what_one_server_line_means() {
        let one = "server.1=127.0.0.1:2888:3888;2999\n";
        // One participant, standaloneEnabled=true (the default): standalone, and neither myid
        // nor initLimit/syncLimit is needed; the line's client address still applies.
        let config = load(one, None).unwrap();
        assert_eq!(config.ensemble, None);
        let config = load(one, Some("1")).unwrap();
        assert_eq!(config.ensemble, None);
        assert_eq!(config.client_addr, "0.0.0.0:2999".parse().unwrap());
        // standaloneEnabled=false: an ensemble of one.
        let e = ensemble(&format!("{LIMITS}standaloneEnabled=false\n{one}"), "1");
        assert_eq!(e.voter_count(), 1);
        assert_eq!(e.me().id, 1);
        // ... which needs a participant at all.
        assert!(refusal("standaloneEnabled=false\n", None).contains("at least one participant"));
        assert!(refusal("standaloneEnabled=nope\n", None).contains("standaloneEnabled"));
    }

    #[test]
    fn the_own_line_sets_the_client_address() {
        let lines = "server.1=127.0.0.1:2888:3888;127.0.0.1:2991\n\
                     server.2=127.0.0.1:2889:3889;127.0.0.1:2992\n";
        let config = load(&format!("{LIMITS}{lines}"), Some("2")).unwrap();
        assert_eq!(config.client_addr, "127.0.0.1:2992".parse().unwrap());
        // Agreeing static keys are fine: the same address, or a wildcard with the same port.
        for statics in [
            "clientPort=2992\n",
            "clientPort=2992\nclientPortAddress=127.0.0.1\n",
            "clientPort=2992\nclientPortAddress=0.0.0.0\n",
        ] {
            let config = load(&format!("{LIMITS}{statics}{lines}"), Some("2")).unwrap();
            assert_eq!(config.client_addr, "127.0.0.1:2992".parse().unwrap());
        }
        // Contradicting ones are refused (ZooKeeper's setupClientPort).
        for statics in [
            "clientPort=2181\n",
            "clientPort=2992\nclientPortAddress=127.0.0.2\n",
        ] {
            let message = refusal(&format!("{LIMITS}{statics}{lines}"), Some("2"));
            assert!(
                message.contains("client address of this server (id 2)"),
                "{message}"
            );
        }
        // Without a client part the static clientPort applies and is not printed.
        let config = load(
            &format!(
                "{LIMITS}clientPort=2181\nserver.1=127.0.0.1:2888:3888\n\
                 server.2=127.0.0.1:2889:3889\n"
            ),
            Some("1"),
        )
        .unwrap();
        assert_eq!(config.client_addr, "0.0.0.0:2181".parse().unwrap());
        assert_eq!(
            config.ensemble.unwrap().me().config_line(),
            "server.1=127.0.0.1:2888:3888:participant"
        );
    }

    #[test]
    fn peer_type_disagreeing_with_the_line_is_overruled_by_the_line() {
        // ZooKeeper's setupPeerType logs a warning and keeps the server list's role.
        let text = format!(
            "{LIMITS}server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n\
             server.3=127.0.0.1:2890:3890:observer\n"
        );
        let e = ensemble(&format!("{text}peerType=participant\n"), "3");
        assert!(e.me().observer);
        let e = ensemble(&format!("{text}peerType=Observer\n"), "1");
        assert!(!e.me().observer);
        assert!(refusal(&format!("{text}peerType=leader\n"), Some("1")).contains("peerType"));
    }

    #[test]
    fn myid_is_required_and_must_be_listed() {
        let text = format!("{LIMITS}server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n");
        let missing = refusal(&text, None);
        assert!(
            missing.contains("myid is missing; an ensemble member needs it"),
            "{missing}"
        );
        assert!(
            missing.contains(std::path::MAIN_SEPARATOR),
            "names the path: {missing}"
        );
        let stranger = refusal(&text, Some("3"));
        assert!(stranger.contains("myid 3"), "{stranger}");
        assert!(stranger.contains("their ids are 1, 2"), "{stranger}");
        let garbage = refusal(&text, Some("one"));
        assert!(garbage.contains("\"one\" is not a number"), "{garbage}");
        assert_eq!(ensemble(&text, " 2 \nignored\n").my_id, 2);
    }

    #[test]
    fn read_myid_reads_the_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let none = read_myid(dir.path()).unwrap();
        assert_eq!(none.id, None);
        assert_eq!(none.path, dir.path().join("myid"));
        std::fs::write(dir.path().join("myid"), "12\n").unwrap();
        assert_eq!(read_myid(dir.path()).unwrap().id, Some(12));
        std::fs::write(dir.path().join("myid"), "").unwrap();
        assert!(read_myid(dir.path()).is_err());
    }

    #[test]
    fn malformed_server_lines_are_refused_naming_key_and_value() {
        for (line, reason) in [
            ("server.1=127.0.0.1:2888", "host:quorumPort:electionPort"),
            ("server.1=127.0.0.1", "host:quorumPort:electionPort"),
            (
                "server.1=127.0.0.1:2888:3888:observer:x",
                "host:quorumPort:electionPort",
            ),
            ("server.1=::1:2888:3888", "host:quorumPort:electionPort"),
            (
                "server.1=127.0.0.1:2888:3888:leader",
                "unrecognised peer type",
            ),
            ("server.1=127.0.0.1:http:3888", "not a port number"),
            ("server.1=127.0.0.1:2888:70000", "not a port number"),
            ("server.1=127.0.0.1:0:3888", "not a port number"),
            ("server.1=:2888:3888", "the host is empty"),
            ("server.1=[::1:2888:3888", "no matching ']'"),
            ("server.1=[::1]2888:3888", "no port after"),
            (
                "server.1=127.0.0.1:2888:3888;2181;2182",
                "more than one ';'",
            ),
            (
                "server.1=127.0.0.1:2888:3888;a:b:2181",
                "not port or host:port",
            ),
            ("server.1=127.0.0.1:2888:3888;x", "not a port number"),
            (
                "server.1=127.0.0.1:2888:3888|127.0.0.2:2888:3888",
                "multiAddress",
            ),
            ("server.1=127.0.0.1:2888:2888", "must differ"),
        ] {
            let message = refusal(&format!("{LIMITS}{line}\nserver.2=h:1:2\n"), Some("2"));
            let (key, value) = line.split_once('=').unwrap();
            assert!(
                message.contains(key) && message.contains(&format!("{value:?}")),
                "{line}: {message}"
            );
            assert!(message.contains(reason), "{line}: {message}");
        }
    }

    #[test]
    fn server_ids_are_positive_bytes_and_unique() {
        for key in ["server.0", "server.256", "server.-1", "server.x", "server."] {
            let message = refusal(&format!("{LIMITS}{key}=h:1:2\nserver.2=h:3:4\n"), Some("2"));
            assert!(
                message.contains("is not a number from 1 to 255"),
                "{message}"
            );
        }
        let message = refusal(
            &format!("{LIMITS}server.1=h:1:2\nserver.01=h:3:4\nserver.2=h:5:6\n"),
            Some("2"),
        );
        assert!(
            message.contains("server.01 and server.1 both name server 1"),
            "{message}"
        );
    }

    #[test]
    fn memberships_without_a_quorum_are_refused() {
        let observers = "server.1=h:1:2:observer\nserver.2=h:3:4:observer\n";
        assert!(refusal(&format!("{LIMITS}{observers}"), Some("1"))
            .contains("observers without participants"));
        let one_and_observer = "server.1=h:1:2\nserver.2=h:3:4:observer\n";
        assert!(refusal(&format!("{LIMITS}{one_and_observer}"), Some("1"))
            .contains("single participant"));
        // With standaloneEnabled=false that is a valid ensemble of one voter and an observer.
        let e = ensemble(
            &format!("{LIMITS}standaloneEnabled=false\n{one_and_observer}"),
            "2",
        );
        assert_eq!(e.voter_count(), 1);
        assert!(e.me().observer);
        // Two or four participants are allowed (ZooKeeper only warns).
        let e = ensemble(&format!("{LIMITS}server.1=h:1:2\nserver.2=h:3:4\n"), "1");
        assert_eq!(e.voter_count(), 2);
    }

    #[test]
    fn clashing_ports_are_refused() {
        let message = refusal(
            &format!("{LIMITS}server.1=zoo:2888:3888\nserver.2=ZOO:2888:3889\n"),
            Some("1"),
        );
        assert!(
            message.contains("both use ZOO:2888") || message.contains("both use zoo:2888"),
            "{message}"
        );
        let message = refusal(
            &format!("{LIMITS}server.1=h:2888:3888\nserver.2=h:3888:3889\n"),
            Some("1"),
        );
        assert!(
            message.contains("server.1 (election port) and server.2 (quorum port)"),
            "{message}"
        );
        // This server's client port on its own quorum or election port.
        for (statics, line) in [
            ("clientPort=2888\n", "server.1=127.0.0.1:2888:3888"),
            ("", "server.1=127.0.0.1:2888:3888;3888"),
            ("", "server.1=127.0.0.1:2888:3888;127.0.0.1:2888"),
        ] {
            let message = refusal(
                &format!("{LIMITS}{statics}{line}\nserver.2=127.0.0.2:2888:3888\n"),
                Some("1"),
            );
            assert!(message.contains("uses the"), "{line}: {message}");
        }
        // Another member's address may use those ports: they are on another host.
        ensemble(
            &format!(
                "{LIMITS}server.1=127.0.0.1:2888:3888;127.0.0.2:2888\n\
                 server.2=127.0.0.3:2888:3888\n"
            ),
            "1",
        );
    }

    #[test]
    fn ensemble_keys_zookeeper_requires_or_refuses() {
        let lines = "server.1=h:1:2\nserver.2=h:3:4\n";
        assert!(
            refusal(&format!("syncLimit=5\n{lines}"), Some("1")).contains("initLimit is not set")
        );
        assert!(
            refusal(&format!("initLimit=5\n{lines}"), Some("1")).contains("syncLimit is not set")
        );
        assert!(
            refusal(&format!("{LIMITS}electionAlg=1\n{lines}"), Some("1")).contains("electionAlg")
        );
        ensemble(&format!("{LIMITS}electionAlg=3\n{lines}"), "1");
        assert!(refusal(&format!("{LIMITS}group.1=1:2\n{lines}"), Some("1"))
            .contains("hierarchical quorums"));
    }

    #[test]
    fn a_dynamic_config_file_holds_the_server_lines() {
        let dir = tempfile::tempdir().unwrap();
        let dynamic = dir.path().join("zoo.cfg.dynamic.100000000");
        std::fs::write(
            &dynamic,
            "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
             server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n",
        )
        .unwrap();
        let cfg = format!("{LIMITS}dynamicConfigFile={}\n", dynamic.display());
        let e = ensemble(&cfg, "2");
        assert_eq!(e.config_version, 0x1_0000_0000);
        assert!(e.config_text().ends_with("\nversion=100000000"));
        assert_eq!(e.me().client.as_ref().unwrap().port, 2182);
        let message = refusal(&format!("{cfg}server.3=127.0.0.1:2890:3890\n"), Some("2"));
        assert!(
            message.contains("must be in the dynamic config file"),
            "{message}"
        );
        std::fs::write(&dynamic, "server.1=127.0.0.1:2888:3888\nversion=1\n").unwrap();
        assert!(refusal(&cfg, Some("1")).contains("must not hold a version key"));
        std::fs::write(&dynamic, "server.1=127.0.0.1:2888:3888\ntickTime=1\n").unwrap();
        assert!(refusal(&cfg, Some("1")).contains("unrecognised parameter tickTime"));
    }

    #[test]
    fn an_operator_set_ensemble_id_wins() {
        let text = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ncorral.ensembleId=prod-east\n\
                    server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\n\
                    server.3=127.0.0.3:2888:3888\n";
        let config = load(text, Some("1\n")).unwrap();
        assert_eq!(config.ensemble.unwrap().ensemble_id, "prod-east");
        let empty = text.replace("prod-east", " ");
        assert!(load(&empty, Some("1\n")).is_err());
    }

    #[test]
    fn the_ensemble_id_depends_on_the_members_only() {
        let a = ensemble(
            &format!("{LIMITS}server.1=zoo1:2888:3888;2181\nserver.2=zoo2:2888:3888\n"),
            "1",
        );
        let b = ensemble(
            &format!("server.2=ZOO2:2888:3999\n{LIMITS}server.1=zoo1:2888:3888\nsyncLimit=2\n"),
            "2",
        );
        assert_eq!(a.ensemble_id, b.ensemble_id);
        assert_eq!(a.ensemble_id.len(), 40);
        let c = ensemble(
            &format!("{LIMITS}server.1=zoo1:2888:3888\nserver.2=zoo2:2889:3888\n"),
            "1",
        );
        assert_ne!(a.ensemble_id, c.ensemble_id);
        let d = ensemble(
            &format!(
                "{LIMITS}server.1=zoo1:2888:3888\nserver.2=zoo2:2888:3888:observer\n\
                 standaloneEnabled=false\n"
            ),
            "1",
        );
        assert_ne!(a.ensemble_id, d.ensemble_id);
    }

    #[test]
    fn timeouts_are_valid_for_raft_and_faster_than_zookeeper() {
        for tick in [
            1u32,
            10,
            100,
            200,
            500,
            1000,
            2000,
            3000,
            6000,
            60_000,
            u32::MAX,
        ] {
            for limit in [1u32, 2, 3, 5, 10, 20, 100, u32::MAX] {
                let t = raft_timeouts(tick, limit, limit);
                assert!(t.heartbeat_interval_ms >= 1, "{tick} {limit}: {t:?}");
                assert!(
                    t.election_timeout_min_ms > t.heartbeat_interval_ms,
                    "{tick} {limit}: {t:?}"
                );
                assert!(
                    t.election_timeout_min_ms < t.election_timeout_max_ms,
                    "{tick} {limit}: {t:?}"
                );
                assert!(t.heartbeat_interval_ms * 3 <= t.election_timeout_min_ms);
                assert!((HEARTBEAT_MS_MIN..=HEARTBEAT_MS_MAX).contains(&t.heartbeat_interval_ms));
                // openraft gives a silent leader up after at most 2 * max (lease + timeout):
                // within half of ZooKeeper's syncLimit * tickTime once that is 2 s or more.
                let zookeeper_ms = u64::from(limit) * u64::from(tick);
                if zookeeper_ms >= 2000 {
                    assert!(
                        2 * t.election_timeout_max_ms <= zookeeper_ms / 2 + 1,
                        "{tick} {limit}: {t:?}"
                    );
                }
            }
        }
        // ZooKeeper's sample and test configs: 10 s; kazoo's harness: 4 s.
        let sample = raft_timeouts(2000, 10, 5);
        assert_eq!(
            sample,
            RaftTimeoutsMs {
                heartbeat_interval_ms: 416,
                election_timeout_min_ms: 1250,
                election_timeout_max_ms: 2500,
                install_snapshot_timeout_ms: 20_000,
            }
        );
        let kazoo = raft_timeouts(2000, 4, 2);
        assert_eq!(
            (
                kazoo.heartbeat_interval_ms,
                kazoo.election_timeout_min_ms,
                kazoo.election_timeout_max_ms
            ),
            (166, 500, 1000)
        );
        assert_eq!(kazoo.install_snapshot_timeout_ms, 8000);
        // Floors and caps.
        assert_eq!(
            raft_timeouts(10, 1, 1).election_timeout_min_ms,
            ELECTION_TIMEOUT_MIN_MS_FLOOR
        );
        assert_eq!(
            raft_timeouts(10, 1, 1).install_snapshot_timeout_ms,
            INSTALL_SNAPSHOT_TIMEOUT_MS_MIN
        );
        assert_eq!(
            raft_timeouts(60_000, 10, 10).election_timeout_min_ms,
            ELECTION_TIMEOUT_MIN_MS_CAP
        );
    }

    #[test]
    fn raft_timeouts_can_be_overridden() {
        let lines = format!("{LIMITS}server.1=h:1:2\nserver.2=h:3:4\n");
        let e = ensemble(&format!("{lines}corral.raft.electionTimeoutMs=300\n"), "1");
        assert_eq!(
            (
                e.timeouts.heartbeat_interval_ms,
                e.timeouts.election_timeout_min_ms,
                e.timeouts.election_timeout_max_ms
            ),
            (100, 300, 600)
        );
        let config = load_with(
            &lines,
            Some("1"),
            &[
                ("zookeeper.corral.raft.heartbeatMs", "20"),
                ("corral.raft.electionTimeoutMs", "90"),
            ],
        )
        .unwrap();
        let t = config.ensemble.unwrap().timeouts;
        assert_eq!(
            (
                t.heartbeat_interval_ms,
                t.election_timeout_min_ms,
                t.election_timeout_max_ms
            ),
            (20, 90, 180)
        );
        let message = refusal(&format!("{lines}corral.raft.heartbeatMs=5000\n"), Some("1"));
        assert!(
            message.contains("must be larger than corral.raft.heartbeatMs"),
            "{message}"
        );
        assert!(
            refusal(&format!("{lines}corral.raft.heartbeatMs=0\n"), Some("1"))
                .contains("at least 1 ms")
        );
        assert!(refusal(
            &format!("{lines}corral.raft.electionTimeoutMs=1\n"),
            Some("1")
        )
        .contains("must be larger"));
    }
}
