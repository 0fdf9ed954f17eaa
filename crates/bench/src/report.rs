//! The benchmark's result: one row per workload per target, ratios between targets, what
//! cleanup did; or, in the other modes, what populate did on each target or what the fsync
//! probe measured. Printed as a table or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::args::{Mode, Target, Workload};
use crate::cpu::CpuUse;
use crate::failover::FailoverResult;
use crate::fsync::FsyncResult;
use crate::populate::PopulateResult;
use crate::stats::{named_codes, Latency, SessionOutcome};

/// What cleanup did on one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanupReport {
    pub target: String,
    pub root: String,
    pub deleted: u64,
    pub already_gone: u64,
    pub failed: u64,
}

/// The settings a report was measured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub sessions: usize,
    pub in_flight: usize,
    pub value_bytes: usize,
    pub key_space: usize,
    pub read_ratio: f64,
    pub duration_s: Option<f64>,
    pub requests: Option<u64>,
    pub warmup_s: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadResult {
    pub workload: Workload,
    pub target: String,
    pub addr: String,
    /// Replies received in the measured phase, errors included.
    pub ops: u64,
    /// Replies with an error code.
    pub errors: u64,
    pub error_codes: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub latency: Latency,
    /// Why a session's connection broke during the measured phase, if one did.
    pub failure: Option<String>,
    /// CPU time of the target's `--pid` processes and of the load generator, measured phase
    /// only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUse>,
}

impl WorkloadResult {
    pub fn new(
        workload: Workload,
        target: &Target,
        outcome: &SessionOutcome,
        elapsed_s: f64,
        latency: Latency,
    ) -> WorkloadResult {
        let ops_per_s = if elapsed_s > 0.0 {
            outcome.ops as f64 / elapsed_s
        } else {
            0.0
        };
        WorkloadResult {
            workload,
            target: target.name.clone(),
            addr: target.addr.clone(),
            ops: outcome.ops,
            errors: outcome.error_codes.values().sum(),
            error_codes: named_codes(&outcome.error_codes),
            elapsed_s,
            ops_per_s,
            latency,
            failure: outcome.failure.clone(),
            cpu: None,
        }
    }
}

/// `numerator / denominator` for one workload: above 1 means the numerator is faster
/// (throughput) or slower (latency).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratio {
    pub workload: Workload,
    pub numerator: String,
    pub denominator: String,
    pub ops_per_s: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    #[serde(default)]
    pub mode: Mode,
    pub config: RunConfig,
    pub targets: Vec<Target>,
    pub results: Vec<WorkloadResult>,
    pub ratios: Vec<Ratio>,
    pub cleanup: Vec<CleanupReport>,
    /// populate mode: one entry per target, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub populate: Vec<PopulateResult>,
    /// fsync mode: the probe's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync: Option<FsyncResult>,
    /// failover mode: what the writing session saw around the kill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverResult>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Ratios of the first target to each other target, per workload run.
pub fn ratios(targets: &[Target], results: &[WorkloadResult]) -> Vec<Ratio> {
    let Some(first) = targets.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Results come in rounds of one per target, in target order.
    for round in results.chunks(targets.len()) {
        let Some(a) = round.iter().find(|r| r.target == first.name) else {
            continue;
        };
        for b in round.iter().filter(|r| r.target != first.name) {
            out.push(Ratio {
                workload: a.workload,
                numerator: a.target.clone(),
                denominator: b.target.clone(),
                ops_per_s: ratio(a.ops_per_s, b.ops_per_s),
                p50: ratio(a.latency.p50_us as f64, b.latency.p50_us as f64),
                p99: ratio(a.latency.p99_us as f64, b.latency.p99_us as f64),
                p999: ratio(a.latency.p999_us as f64, b.latency.p999_us as f64),
            });
        }
    }
    out
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl BenchReport {
    /// The human-readable form: settings, one table row per workload per target, ratios,
    /// cleanup.
    pub fn render_table(&self) -> String {
        match self.mode {
            Mode::Workloads => self.render_workloads(),
            Mode::Populate => self.render_populate(),
            Mode::Fsync => self.render_fsync(),
            Mode::Failover => self.failover.as_ref().map_or_else(
                || String::from("failover: no result\n"),
                FailoverResult::render,
            ),
        }
    }

    fn render_populate(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>7} {:>7} {:>7} {:>10} {:>12}  last node",
            "target", "nodes", "fanout", "levels", "value", "seconds", "nodes/s"
        );
        for p in &self.populate {
            let _ = writeln!(
                out,
                "{:<16} {:>10} {:>7} {:>7} {:>7} {:>10.2} {:>12.0}  {}",
                p.target,
                p.nodes,
                p.fanout,
                p.levels,
                p.value_bytes,
                p.elapsed_s,
                p.nodes_per_s,
                p.last_path
            );
        }
        if let Some((first, others)) = self.populate.split_first() {
            for other in others {
                let _ = writeln!(
                    out,
                    "ratio {}/{}: nodes/s {:.2}",
                    first.target,
                    other.target,
                    ratio(first.nodes_per_s, other.nodes_per_s)
                );
            }
        }
        out
    }

    fn render_fsync(&self) -> String {
        let Some(f) = &self.fsync else {
            return String::from("fsync: no result\n");
        };
        let line = |what: &str, run: &crate::fsync::FsyncRun| {
            format!(
                "{what:<13} {:>8} syncs in {:>6.2} s = {:>8.0}/s; latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
                run.syncs,
                run.elapsed_s,
                run.syncs_per_s,
                ms(run.latency.p50_us),
                ms(run.latency.p99_us),
                ms(run.latency.max_us)
            )
        };
        format!(
            "fsync probe in {}: writes of {} B, each followed by fdatasync\n{}{}",
            f.dir.display(),
            f.write_bytes,
            line("append", &f.append),
            line("preallocated", &f.preallocated)
        )
    }

    fn render_workloads(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        let length = match (c.requests, c.duration_s) {
            (Some(requests), _) => format!("{requests} requests"),
            (None, Some(duration_s)) => format!("{duration_s} s"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "sessions {} x in-flight {}, value {} B, key space {}, read ratio {}, {} per workload (warmup {} s), seed {}",
            c.sessions, c.in_flight, c.value_bytes, c.key_space, c.read_ratio, length, c.warmup_s, c.seed
        );
        for target in &self.targets {
            let _ = writeln!(out, "target {} = {}", target.name, target.addr);
        }
        for target in self.targets.iter().filter(|t| !t.pids.is_empty()) {
            let pids: Vec<String> = target.pids.iter().map(u32::to_string).collect();
            let _ = writeln!(out, "target {} pids {}", target.name, pids.join(" "));
        }
        // CPU columns only when some target has pids: server CPU per op (summed over its pids)
        // and the load generator's own.
        let with_cpu = self.targets.iter().any(|t| !t.pids.is_empty());
        let _ = write!(
            out,
            "\n{:<8} {:<16} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "workload", "target", "ops", "ops/s", "p50 ms", "p99 ms", "p999 ms", "max ms", "errors"
        );
        let _ = writeln!(
            out,
            "{}",
            if with_cpu {
                format!(" {:>11} {:>11}", "srv us/op", "bench us/op")
            } else {
                String::new()
            }
        );
        for r in &self.results {
            let _ = write!(
                out,
                "{:<8} {:<16} {:>10} {:>12.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>8}",
                r.workload.name(),
                r.target,
                r.ops,
                r.ops_per_s,
                ms(r.latency.p50_us),
                ms(r.latency.p99_us),
                ms(r.latency.p999_us),
                ms(r.latency.max_us),
                r.errors
            );
            let cpu = r.cpu.clone().unwrap_or_default();
            let us = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
            let _ = writeln!(
                out,
                "{}",
                if with_cpu {
                    format!(
                        " {:>11} {:>11}",
                        us(cpu.server_us_per_op),
                        us(cpu.client_us_per_op)
                    )
                } else {
                    String::new()
                }
            );
            if !r.error_codes.is_empty() {
                let _ = writeln!(out, "         errors: {:?}", r.error_codes);
            }
            if let Some(failure) = &r.failure {
                let _ = writeln!(out, "         a session failed: {failure}");
            }
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<8} {:<24} {:>8} {:>8} {:>8} {:>8}",
                "workload", "ratio", "ops/s", "p50", "p99", "p999"
            );
            for r in &self.ratios {
                let _ = writeln!(
                    out,
                    "{:<8} {:<24} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                    r.workload.name(),
                    format!("{}/{}", r.numerator, r.denominator),
                    r.ops_per_s,
                    r.p50,
                    r.p99,
                    r.p999
                );
            }
        }
        for c in &self.cleanup {
            let _ = writeln!(
                out,
                "\ncleanup {}: {} deleted under {}, {} already gone, {} failed",
                c.target, c.deleted, c.root, c.already_gone, c.failed
            );
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
    }

    /// Prints the report to stdout, as JSON or as a table.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", self.to_json());
        } else {
            print!("{}", self.render_table());
        }
    }
}
