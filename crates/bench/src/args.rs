//! The command line of `corral bench`, and its validation into targets and a plan.
//!
//! Kept as a `clap::Args` so the `corral` binary can mount it as a subcommand, and with a
//! `Default` so tests and other callers can build one without parsing.
//!
//! An optional first word picks the [`Mode`]: `corral bench` (or `corral bench workloads`) runs
//! the workloads, `corral bench populate` loads a large tree, `corral bench fsync` measures the
//! disk; all three share this one struct, so the binary mounting it needs no change.

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
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Workloads => "workloads",
            Mode::Populate => "populate",
            Mode::Fsync => "fsync",
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// What to do: run the workloads (default), populate a tree, or probe fsync.
    #[arg(value_enum, default_value = "workloads")]
    pub mode: Mode,
    /// Servers to load, comma separated `host:port` or `name=host:port`. Several run side by
    /// side (workloads interleaved) and the report gives the ratios of the first to the others.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:2181")]
    pub addr: Vec<String>,
    /// Names a target: `name=host:port` (repeatable); an address not in --addr is added.
    #[arg(long = "label")]
    pub labels: Vec<String>,
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

/// A server under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub addr: String,
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
                None => targets.push(Target {
                    name: name.to_owned(),
                    addr: addr.to_owned(),
                }),
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
        Ok(targets)
    }
}

fn parse_target(item: &str) -> Result<Target, BenchError> {
    let (name, addr) = match item.split_once('=') {
        Some((name, addr)) => (name, addr),
        None => (item, item),
    };
    if name.is_empty() || addr.is_empty() {
        return Err(BenchError::InvalidArgs(format!("--addr {item}")));
    }
    Ok(Target {
        name: name.to_owned(),
        addr: addr.to_owned(),
    })
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
                Target {
                    name: "corral".into(),
                    addr: "127.0.0.1:1".into()
                },
                Target {
                    name: "zk".into(),
                    addr: "127.0.0.1:2".into()
                },
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
