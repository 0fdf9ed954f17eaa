//! The command line of `corral bench`, and its validation into targets and a plan.
//!
//! Kept as a `clap::Args` so the `corral` binary can mount it as a subcommand, and with a
//! `Default` so tests and other callers can build one without parsing.
//!
//! An optional first word picks the [`Mode`]: `corral bench` (or `corral bench workloads`) runs
//! the workloads, `corral bench populate` loads a large tree, `corral bench fsync` measures the
//! disk, `corral bench failover` times a leader kill; all share this one struct, so the binary
//! mounting it needs no change.
//!
//! A target is one server (`name=host:port`) or an ensemble (`name=host:port|host:port|...`):
//! `,` separates targets and `|` the servers of one target, so every `--addr` that worked
//! before an ensemble could be named still means the same.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::BenchError;

/// One workload: which request each operation sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// create of a new persistent node (each op a fresh path).
    Create,
    /// setData of a random key, any version.
    Set,
    /// getData of a random key.
    Get,
    /// exists of a random key.
    Exists,
    /// getData or setData of a random key, reads in `--read-ratio`.
    Mixed,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Mixed => "mixed",
        }
    }

    /// Whether the workload touches the pre-created keys.
    pub fn uses_keys(self) -> bool {
        self != Workload::Create
    }
}

/// What `corral bench` does.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Run the `--ops` workloads on every target side by side (the default).
    #[default]
    #[value(alias = "run")]
    Workloads,
    /// Create `--nodes` znodes in a tree of fan-out `--fanout` under `--root` on each target,
    /// one target after the other, and leave them there (to measure memory, restart, snapshot).
    Populate,
    /// Measure the raw rate of small writes each followed by fdatasync, in a file under
    /// `--dir`, for `--seconds` appending and `--seconds` inside a preallocated file: the
    /// bound of durable write throughput on that disk.
    Fsync,
    /// Failover time of one ensemble target: one session writes (setData, one request in
    /// flight) through the target's first server; after `--kill-after-s` the process
    /// `--kill-pid` (the leader) gets SIGKILL; on a lost connection the session re-attaches
    /// round robin over the target's servers. Reports the time from the kill to the first
    /// acknowledged write sent after it, waiting up to `--seconds`.
    Failover,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Workloads => "workloads",
            Mode::Populate => "populate",
            Mode::Fsync => "fsync",
            Mode::Failover => "failover",
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// What to do: run the workloads (default), populate a tree, probe fsync, or time a
    /// failover.
    #[arg(value_enum, default_value = "workloads")]
    pub mode: Mode,
    /// Targets to load, comma separated `host:port` or `name=host:port`. Several run side by
    /// side (workloads interleaved) and the report gives the ratios of the first to the others.
    /// An ensemble target lists its servers separated by `|`:
    /// `--addr 'corral=127.0.0.1:2181|127.0.0.1:2182|127.0.0.1:2183,zk=127.0.0.1:2281|...'`;
    /// its sessions are spread round robin over its servers (session i on server i mod n),
    /// as ZooKeeper clients spread over a connect string.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:2181")]
    pub addr: Vec<String>,
    /// Names a target: `name=host:port` (repeatable); an address not in --addr is added.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Server process ids of a target, `name=pid` or `name=pid|pid|pid` for an ensemble
    /// (comma separated or repeated): each workload then reports the servers' CPU time (user +
    /// system from /proc/<pid>/stat, summed over the pids) per op, and the load generator's
    /// own.
    #[arg(long = "pid", value_delimiter = ',')]
    pub pids: Vec<String>,
    /// failover: the process to SIGKILL (the target's leader).
    #[arg(long)]
    pub kill_pid: Option<u32>,
    /// failover: seconds of writes before the kill.
    #[arg(long, default_value_t = 3.0)]
    pub kill_after_s: f64,
    /// Sessions (connections) per target.
    #[arg(long, default_value_t = 8)]
    pub sessions: usize,
    /// Requests in flight per session.
    #[arg(long, default_value_t = 16)]
    pub in_flight: usize,
    /// Workloads to run, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,set,get,exists,mixed"
    )]
    pub ops: Vec<Workload>,
    /// Share of reads in the mixed workload, 0..=1.
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// Size of the data written by create and set.
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Measured time of each workload on each target (fsync: of the probe).
    #[arg(long, alias = "seconds", default_value_t = 10.0)]
    pub duration_s: f64,
    /// Run each workload on each target for this many requests instead of a duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Unmeasured time before each measurement.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_s: f64,
    /// Number of pre-created nodes that set, get, exists and mixed touch.
    #[arg(long, default_value_t = 1000)]
    pub key_space: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Requested session timeout.
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout_ms: i32,
    /// Seed of the key choice (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// populate: znodes to create on each target, the root included.
    #[arg(long, default_value_t = 1_000_000)]
    pub nodes: u64,
    /// populate: children per parent.
    #[arg(long, default_value_t = 10)]
    pub fanout: u64,
    /// populate: path of the tree's root node (its parent must exist; the root must not).
    #[arg(long, default_value = "/corral-populate")]
    pub root: String,
    /// fsync: directory on the disk under test (a scratch file is made and removed there).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

impl Default for BenchArgs {
    fn default() -> Self {
        BenchArgs {
            mode: Mode::Workloads,
            addr: vec!["127.0.0.1:2181".into()],
            labels: Vec::new(),
            pids: Vec::new(),
            kill_pid: None,
            kill_after_s: 3.0,
            sessions: 8,
            in_flight: 16,
            ops: vec![
                Workload::Create,
                Workload::Set,
                Workload::Get,
                Workload::Exists,
                Workload::Mixed,
            ],
            read_ratio: 0.9,
            value_bytes: 100,
            duration_s: 10.0,
            requests: None,
            warmup_s: 2.0,
            key_space: 1000,
            json: false,
            session_timeout_ms: 30_000,
            seed: None,
            nodes: 1_000_000,
            fanout: 10,
            root: "/corral-populate".into(),
            dir: PathBuf::from("."),
        }
    }
}

/// A server or an ensemble under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// `host:port`, or the servers of an ensemble as `host:port|host:port|...`.
    pub addr: String,
    /// Its server processes (`--pid`), whose CPU time the report gives per op.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<u32>,
}

impl Target {
    /// A target without pids.
    pub fn new(name: impl Into<String>, addr: impl Into<String>) -> Target {
        Target {
            name: name.into(),
            addr: addr.into(),
            pids: Vec::new(),
        }
    }

    /// The servers' addresses, in order (one for a single server).
    pub fn servers(&self) -> Vec<&str> {
        let servers: Vec<&str> = self
            .addr
            .split('|')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if servers.is_empty() {
            vec![self.addr.as_str()]
        } else {
            servers
        }
    }

    /// The server session `index` connects to: round robin over [`Target::servers`].
    pub fn server_for(&self, index: usize) -> &str {
        let servers = self.servers();
        servers[index % servers.len()]
    }
}

/// Upper bounds on the arguments, so a typo cannot ask for a million connections.
pub const SESSIONS_MAX: usize = 10_000;
pub const IN_FLIGHT_MAX: usize = 10_000;
pub const KEY_SPACE_MAX: usize = 10_000_000;
/// A value must fit a frame with its request around it.
pub const VALUE_BYTES_MAX: usize = 1_000_000;
pub const NODES_MAX: u64 = 100_000_000;
pub const FANOUT_MAX: u64 = 1_000_000;

impl BenchArgs {
    /// Checks the arguments and resolves the targets, in order (none for the fsync probe).
    pub fn validate(&self) -> Result<Vec<Target>, BenchError> {
        let invalid = |what: String| Err(BenchError::InvalidArgs(what));
        match self.mode {
            Mode::Workloads => {}
            Mode::Populate => {
                self.validate_populate()?;
                return self.targets();
            }
            Mode::Fsync => {
                if !(self.duration_s > 0.0 && self.duration_s.is_finite()) {
                    return invalid("--seconds must be positive".into());
                }
                if self.value_bytes == 0 || self.value_bytes > VALUE_BYTES_MAX {
                    return invalid(format!("--value-bytes must be 1..={VALUE_BYTES_MAX}"));
                }
                return Ok(Vec::new());
            }
            Mode::Failover => {
                if !(self.duration_s > 0.0 && self.duration_s.is_finite()) {
                    return invalid("--seconds must be positive".into());
                }
                if !(self.kill_after_s >= 0.0 && self.kill_after_s.is_finite()) {
                    return invalid("--kill-after-s must not be negative".into());
                }
                if self.value_bytes > VALUE_BYTES_MAX {
                    return invalid(format!("--value-bytes must be at most {VALUE_BYTES_MAX}"));
                }
                let targets = self.targets()?;
                if targets.len() != 1 {
                    return invalid("failover takes exactly one target in --addr".into());
                }
                return Ok(targets);
            }
        }
        if self.sessions == 0 || self.sessions > SESSIONS_MAX {
            return invalid(format!("--sessions must be 1..={SESSIONS_MAX}"));
        }
        if self.in_flight == 0 || self.in_flight > IN_FLIGHT_MAX {
            return invalid(format!("--in-flight must be 1..={IN_FLIGHT_MAX}"));
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return invalid("--read-ratio must be within 0..=1".into());
        }
        if self.value_bytes > VALUE_BYTES_MAX {
            return invalid(format!("--value-bytes must be at most {VALUE_BYTES_MAX}"));
        }
        if self.requests.is_none() && !(self.duration_s > 0.0 && self.duration_s.is_finite()) {
            return invalid("--duration-s must be positive".into());
        }
        if self.requests == Some(0) {
            return invalid("--requests must be positive".into());
        }
        if !(self.warmup_s >= 0.0 && self.warmup_s.is_finite()) {
            return invalid("--warmup-s must not be negative".into());
        }
        if self.ops.is_empty() {
            return invalid("--ops names no workload".into());
        }
        let needs_keys = self.ops.iter().any(|w| w.uses_keys());
        if needs_keys && (self.key_space == 0 || self.key_space > KEY_SPACE_MAX) {
            return invalid(format!("--key-space must be 1..={KEY_SPACE_MAX}"));
        }
        self.targets()
    }

    fn validate_populate(&self) -> Result<(), BenchError> {
        let invalid = |what: String| Err(BenchError::InvalidArgs(what));
        if self.sessions == 0 || self.sessions > SESSIONS_MAX {
            return invalid(format!("--sessions must be 1..={SESSIONS_MAX}"));
        }
        if self.nodes == 0 || self.nodes > NODES_MAX {
            return invalid(format!("--nodes must be 1..={NODES_MAX}"));
        }
        // Fan-out 1 would be a chain whose paths outgrow any frame.
        if self.fanout < 2 || self.fanout > FANOUT_MAX {
            return invalid(format!("--fanout must be 2..={FANOUT_MAX}"));
        }
        if self.value_bytes > VALUE_BYTES_MAX {
            return invalid(format!("--value-bytes must be at most {VALUE_BYTES_MAX}"));
        }
        let root = self.root.as_str();
        if !root.starts_with('/') || root.len() < 2 || root.ends_with('/') || root.contains("//") {
            return invalid(format!("--root {root}: want an absolute path other than /"));
        }
        Ok(())
    }

    fn targets(&self) -> Result<Vec<Target>, BenchError> {
        let mut targets: Vec<Target> = Vec::new();
        for item in self.addr.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            targets.push(parse_target(item)?);
        }
        for label in &self.labels {
            let (name, addr) = label
                .split_once('=')
                .filter(|(name, addr)| !name.is_empty() && !addr.is_empty())
                .ok_or_else(|| {
                    BenchError::InvalidArgs(format!("--label {label}: want name=addr"))
                })?;
            match targets.iter_mut().find(|t| t.addr == addr) {
                Some(target) => target.name = name.to_owned(),
                None => targets.push(parse_target(label)?),
            }
        }
        if targets.is_empty() {
            return Err(BenchError::InvalidArgs("--addr names no server".into()));
        }
        for (i, target) in targets.iter().enumerate() {
            if targets[..i].iter().any(|t| t.name == target.name) {
                return Err(BenchError::InvalidArgs(format!(
                    "two targets named {}",
                    target.name
                )));
            }
        }
        for item in self.pids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let bad = || BenchError::InvalidArgs(format!("--pid {item}: want name=pid|pid|..."));
            let (name, pids) = item.split_once('=').ok_or_else(bad)?;
            let target = targets.iter_mut().find(|t| t.name == name).ok_or_else(|| {
                BenchError::InvalidArgs(format!("--pid {item}: no target named {name}"))
            })?;
            for pid in pids.split('|').map(str::trim) {
                target.pids.push(pid.parse().map_err(|_| bad())?);
            }
        }
        Ok(targets)
    }
}

fn parse_target(item: &str) -> Result<Target, BenchError> {
    let (name, addr) = match item.split_once('=') {
        Some((name, addr)) => (name, addr),
        None => (item, item),
    };
    if name.is_empty() || addr.is_empty() || addr.split('|').any(|s| s.trim().is_empty()) {
        return Err(BenchError::InvalidArgs(format!("--addr {item}")));
    }
    Ok(Target::new(name, addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn parses_targets_labels_and_workloads() {
        let cli = Cli::parse_from([
            "bench",
            "--addr",
            "corral=127.0.0.1:1,127.0.0.1:2",
            "--label",
            "zk=127.0.0.1:2",
            "--ops",
            "set,get,mixed",
            "--requests",
            "1000",
        ]);
        let targets = cli.bench.validate().unwrap();
        assert_eq!(
            targets,
            vec![
                Target::new("corral", "127.0.0.1:1"),
                Target::new("zk", "127.0.0.1:2"),
            ]
        );
        assert_eq!(
            cli.bench.ops,
            vec![Workload::Set, Workload::Get, Workload::Mixed]
        );
        assert_eq!(cli.bench.requests, Some(1000));
        assert_eq!(cli.bench.value_bytes, 100);
    }

    #[test]
    fn ensembles_and_pids() {
        let cli = Cli::parse_from([
            "bench",
            "--addr",
            "corral=127.0.0.1:1|127.0.0.1:2|127.0.0.1:3,zk=127.0.0.1:4,127.0.0.1:5|127.0.0.1:6",
            "--pid",
            "corral=11|12|13,zk=14",
            "--pid",
            "127.0.0.1:5|127.0.0.1:6=15",
        ]);
        let targets = cli.bench.validate().unwrap();
        assert_eq!(targets.len(), 3);
        assert_eq!(
            targets[0].servers(),
            vec!["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
        );
        assert_eq!(targets[0].pids, vec![11, 12, 13]);
        assert_eq!(
            (0..5).map(|i| targets[0].server_for(i)).collect::<Vec<_>>(),
            vec![
                "127.0.0.1:1",
                "127.0.0.1:2",
                "127.0.0.1:3",
                "127.0.0.1:1",
                "127.0.0.1:2"
            ]
        );
        assert_eq!(targets[1].servers(), vec!["127.0.0.1:4"]);
        assert_eq!(targets[1].server_for(7), "127.0.0.1:4");
        assert_eq!(targets[1].pids, vec![14]);
        assert_eq!(targets[2].name, "127.0.0.1:5|127.0.0.1:6");
        assert_eq!(targets[2].pids, vec![15]);
        for bad in [vec!["a=127.0.0.1:1||127.0.0.1:2"], vec!["a=127.0.0.1:1|"]] {
            let args = BenchArgs {
                addr: bad.iter().map(|s| s.to_string()).collect(),
                ..BenchArgs::default()
            };
            assert!(args.validate().is_err(), "{bad:?}");
        }
        for bad in ["b=1", "a=x", "a", "a=1||2"] {
            let args = BenchArgs {
                addr: vec!["a=127.0.0.1:1".into()],
                pids: vec![bad.into()],
                ..BenchArgs::default()
            };
            assert!(args.validate().is_err(), "{bad}");
        }
        let failover = |addr: Vec<String>| BenchArgs {
            mode: Mode::Failover,
            addr,
            ..BenchArgs::default()
        };
        assert!(failover(vec!["a=127.0.0.1:1|127.0.0.1:2".into()])
            .validate()
            .is_ok());
        assert!(
            failover(vec!["a=127.0.0.1:1".into(), "b=127.0.0.1:2".into()])
                .validate()
                .is_err()
        );
    }

    #[test]
    fn rejects_nonsense() {
        let bad = [
            BenchArgs {
                sessions: 0,
                ..BenchArgs::default()
            },
            BenchArgs {
                read_ratio: 1.5,
                ..BenchArgs::default()
            },
            BenchArgs {
                key_space: 0,
                ..BenchArgs::default()
            },
            BenchArgs {
                addr: vec!["a=x".into(), "a=y".into()],
                ..BenchArgs::default()
            },
            BenchArgs {
                labels: vec!["noequals".into()],
                ..BenchArgs::default()
            },
        ];
        for args in bad {
            assert!(args.validate().is_err(), "{args:?}");
        }
        let create_only = BenchArgs {
            key_space: 0,
            ops: vec![Workload::Create],
            ..BenchArgs::default()
        };
        assert!(create_only.validate().is_ok());
    }

    #[test]
    fn modes_parse_as_a_first_word() {
        let cli = Cli::parse_from(["bench", "--addr", "a=127.0.0.1:1"]);
        assert_eq!(cli.bench.mode, Mode::Workloads);
        let cli = Cli::parse_from([
            "bench",
            "populate",
            "--addr",
            "a=127.0.0.1:1",
            "--nodes",
            "5000",
            "--fanout",
            "7",
        ]);
        assert_eq!(cli.bench.mode, Mode::Populate);
        assert_eq!((cli.bench.nodes, cli.bench.fanout), (5000, 7));
        assert_eq!(cli.bench.validate().unwrap().len(), 1);
        let cli = Cli::parse_from(["bench", "fsync", "--dir", "/tmp", "--seconds", "2.5"]);
        assert_eq!(cli.bench.mode, Mode::Fsync);
        assert_eq!(cli.bench.duration_s, 2.5);
        assert_eq!(cli.bench.dir, PathBuf::from("/tmp"));
        assert!(cli.bench.validate().unwrap().is_empty());
        for bad in [
            BenchArgs {
                mode: Mode::Populate,
                fanout: 1,
                ..BenchArgs::default()
            },
            BenchArgs {
                mode: Mode::Populate,
                root: "/".into(),
                ..BenchArgs::default()
            },
            BenchArgs {
                mode: Mode::Fsync,
                duration_s: 0.0,
                ..BenchArgs::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
