//! The command line of `zkload`, and its validation into a [`Config`] the run can trust.
//!
//! The connect string is ZooKeeper's (`host:port,host:port,...`), so the same string a user
//! hands their own application names the ensemble here. How sessions use it is `--spread`:
//! `pinned` (the default) gives session i server i mod n alone, as `corral bench` spreads an
//! ensemble target, so a comparison of two ensembles puts the same share of sessions on each
//! server; `client` hands every session the whole string and lets `zookeeper-client` pick (it
//! shuffles the list), as an application would.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// What each request of a phase is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// create of a new persistent node (a fresh path each time).
    Create,
    /// setData of a random key, any version.
    Set,
    /// getData of a random key.
    Get,
    /// getData or setData of a random key, reads in `--read-ratio`.
    Mixed,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Set => "set",
            Op::Get => "get",
            Op::Mixed => "mixed",
        }
    }

    /// Whether the op touches the pre-created keys.
    pub fn uses_keys(self) -> bool {
        self != Op::Create
    }
}

/// How sessions are spread over the servers of the connect string.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// Session i connects to server i mod n only (round robin, exact shares).
    #[default]
    Pinned,
    /// Every session gets the whole connect string; the client chooses a server.
    Client,
}

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "zkload",
    about = "Drives load against a ZooKeeper-compatible server or ensemble through the \
             zookeeper-client crate and reports ops/s, latency percentiles, errors by kind and \
             (with --pid) the servers' CPU time per op."
)]
pub struct Args {
    /// ZooKeeper connect string: `host:port[,host:port...]` (a whole ensemble).
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub connect: String,
    /// How sessions are spread over the connect string's servers.
    #[arg(long, value_enum, default_value = "pinned")]
    pub spread: Spread,
    /// Sessions (connections).
    #[arg(long, default_value_t = 8)]
    pub sessions: usize,
    /// Requests pipelined per session.
    #[arg(long, default_value_t = 16)]
    pub in_flight: usize,
    /// Ops to run, comma separated, one after the other on the same sessions.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,set,get,mixed"
    )]
    pub op: Vec<Op>,
    /// Pre-created keys that set, get and mixed pick from at random.
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
    /// Bytes of data written by create and set (and held by each key).
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Share of getData in the mixed op, 0..=1.
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// Unmeasured seconds before each op's measurement.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Measured seconds of each op.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Node the run creates and removes with everything under it (must not exist; default
    /// `/zkload-<pid>-<nanos>`).
    #[arg(long)]
    pub root: Option<String>,
    /// Server process ids (comma separated or repeated): each op then reports their CPU time
    /// (user + system from /proc/<pid>/stat, summed) per op.
    #[arg(long = "pid", value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Session timeout asked of the servers.
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout_ms: u64,
    /// How long all sessions together may take to connect before the run gives up.
    #[arg(long, default_value_t = 15.0)]
    pub connect_timeout_secs: f64,
    /// Seed of the key choice (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Upper bounds, so a typo cannot ask for a million connections.
pub const SESSIONS_MAX: usize = 10_000;
pub const IN_FLIGHT_MAX: usize = 10_000;
pub const KEYS_MAX: usize = 10_000_000;
/// ZooKeeper's default `jute.maxbuffer` is 1 MiB; a value must fit a request under it.
pub const VALUE_BYTES_MAX: usize = 1_000_000;

/// Validated arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The connect string as given.
    pub connect: String,
    /// Its servers, in order.
    pub servers: Vec<String>,
    pub spread: Spread,
    pub sessions: usize,
    pub in_flight: usize,
    pub ops: Vec<Op>,
    /// 0 when no op uses keys.
    pub keys: usize,
    pub value_bytes: usize,
    pub read_ratio: f64,
    pub warmup: Duration,
    pub measure: Duration,
    pub root: Option<String>,
    pub pids: Vec<u32>,
    pub session_timeout: Duration,
    pub connect_timeout: Duration,
    pub seed: Option<u64>,
}

impl Config {
    /// The connect string session `index` uses.
    pub fn connect_string_for(&self, index: usize) -> &str {
        match self.spread {
            Spread::Pinned => &self.servers[index % self.servers.len()],
            Spread::Client => &self.connect,
        }
    }
}

fn seconds(what: &str, value: f64, zero_ok: bool) -> Result<Duration, LoadError> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0));
    if !ok {
        let want = if zero_ok { "0 or more" } else { "positive" };
        return Err(LoadError::InvalidArgs(format!("{what} must be {want}")));
    }
    Ok(Duration::from_secs_f64(value))
}

/// The servers of a connect string, in order. A chroot suffix (`host:port/path`) is refused:
/// the run's paths are absolute from the server's root.
pub fn parse_servers(connect: &str) -> Result<Vec<String>, LoadError> {
    let invalid = |why: String| Err(LoadError::InvalidArgs(why));
    if connect.contains('/') {
        return invalid(format!("--connect {connect}: a chroot is not supported"));
    }
    let mut servers = Vec::new();
    for item in connect.split(',').map(str::trim) {
        let Some((host, port)) = item.rsplit_once(':') else {
            return invalid(format!("--connect: {item:?} is not host:port"));
        };
        let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
        if host.is_empty() || !port_ok {
            return invalid(format!("--connect: {item:?} is not host:port"));
        }
        servers.push(item.to_owned());
    }
    Ok(servers)
}

/// An absolute path other than `/`, in ZooKeeper's path syntax.
fn check_root(root: &str) -> Result<(), LoadError> {
    let bad = !root.starts_with('/')
        || root.len() < 2
        || root.ends_with('/')
        || root.contains("//")
        || root.split('/').any(|part| part == "." || part == "..");
    if bad {
        return Err(LoadError::InvalidArgs(format!(
            "--root {root}: want an absolute path other than /"
        )));
    }
    Ok(())
}

impl Args {
    pub fn validate(&self) -> Result<Config, LoadError> {
        let invalid = |why: String| Err(LoadError::InvalidArgs(why));
        if self.sessions == 0 || self.sessions > SESSIONS_MAX {
            return invalid(format!("--sessions must be 1..={SESSIONS_MAX}"));
        }
        if self.in_flight == 0 || self.in_flight > IN_FLIGHT_MAX {
            return invalid(format!("--in-flight must be 1..={IN_FLIGHT_MAX}"));
        }
        if self.op.is_empty() {
            return invalid("--op names no op".into());
        }
        let uses_keys = self.op.iter().any(|op| op.uses_keys());
        if uses_keys && (self.keys == 0 || self.keys > KEYS_MAX) {
            return invalid(format!("--keys must be 1..={KEYS_MAX}"));
        }
        if self.value_bytes > VALUE_BYTES_MAX {
            return invalid(format!("--value-bytes must be at most {VALUE_BYTES_MAX}"));
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return invalid("--read-ratio must be within 0..=1".into());
        }
        if self.session_timeout_ms == 0 || self.session_timeout_ms > i32::MAX as u64 {
            return invalid("--session-timeout-ms must be positive".into());
        }
        if let Some(root) = &self.root {
            check_root(root)?;
        }
        Ok(Config {
            connect: self.connect.trim().to_owned(),
            servers: parse_servers(self.connect.trim())?,
            spread: self.spread,
            sessions: self.sessions,
            in_flight: self.in_flight,
            ops: self.op.clone(),
            keys: if uses_keys { self.keys } else { 0 },
            value_bytes: self.value_bytes,
            read_ratio: self.read_ratio,
            warmup: seconds("--warmup-secs", self.warmup_secs, true)?,
            measure: seconds("--secs", self.secs, false)?,
            root: self.root.clone(),
            pids: self.pids.clone(),
            session_timeout: Duration::from_millis(self.session_timeout_ms),
            connect_timeout: seconds("--connect-timeout-secs", self.connect_timeout_secs, false)?,
            seed: self.seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(line: &[&str]) -> Result<Config, String> {
        let args = Args::try_parse_from(std::iter::once("zkload").chain(line.iter().copied()))
            .map_err(|e| e.to_string())?;
        args.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.servers, vec!["127.0.0.1:2181"]);
        assert_eq!(c.spread, Spread::Pinned);
        assert_eq!(
            (c.sessions, c.in_flight, c.keys, c.value_bytes),
            (8, 16, 1000, 100)
        );
        assert_eq!(c.ops, vec![Op::Create, Op::Set, Op::Get, Op::Mixed]);
        assert_eq!(c.warmup, Duration::from_secs(2));
        assert_eq!(c.measure, Duration::from_secs(10));
        assert!(c.pids.is_empty() && c.root.is_none());
    }

    #[test]
    fn an_ensemble_spreads_round_robin_or_as_one_string() {
        let line = [
            "--connect",
            "10.0.0.1:2181, 10.0.0.2:2182,[::1]:2183",
            "--sessions",
            "4",
            "--in-flight",
            "8",
            "--op",
            "set,get",
            "--keys",
            "50",
            "--value-bytes",
            "10",
            "--warmup-secs",
            "0",
            "--secs",
            "1.5",
            "--pid",
            "10,11",
            "--pid",
            "12",
            "--root",
            "/bench/a",
        ];
        let c = parse(&line).unwrap();
        assert_eq!(c.servers, ["10.0.0.1:2181", "10.0.0.2:2182", "[::1]:2183"]);
        let pinned: Vec<&str> = (0..4).map(|i| c.connect_string_for(i)).collect();
        assert_eq!(
            pinned,
            [
                "10.0.0.1:2181",
                "10.0.0.2:2182",
                "[::1]:2183",
                "10.0.0.1:2181"
            ]
        );
        assert_eq!(c.ops, [Op::Set, Op::Get]);
        assert_eq!(c.pids, [10, 11, 12]);
        assert_eq!(c.measure, Duration::from_millis(1500));
        assert_eq!(c.warmup, Duration::ZERO);
        assert_eq!(c.root.as_deref(), Some("/bench/a"));

        let mut client = line.to_vec();
        client.extend(["--spread", "client"]);
        let c = parse(&client).unwrap();
        assert_eq!(c.connect_string_for(1), c.connect);
    }

    #[test]
    fn create_alone_needs_no_keys() {
        let c = parse(&["--op", "create", "--keys", "0"]).unwrap();
        assert_eq!(c.keys, 0);
        assert!(parse(&["--op", "get", "--keys", "0"]).is_err());
    }

    #[test]
    fn refuses_what_cannot_run() {
        for bad in [
            &["--sessions", "0"][..],
            &["--in-flight", "0"],
            &["--op", "delete"],
            &["--connect", "localhost"],
            &["--connect", "h:0"],
            &["--connect", "h:1,"],
            &["--connect", "h:1/chroot"],
            &["--read-ratio", "1.5"],
            &["--secs", "0"],
            &["--warmup-secs", "-1"],
            &["--secs", "NaN"],
            &["--value-bytes", "2000000"],
            &["--root", "/"],
            &["--root", "relative"],
            &["--root", "/a/"],
            &["--root", "/a/../b"],
            &["--session-timeout-ms", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
