//! The run's result: the settings, one row per op, what cleanup did. Printed as a table for
//! people or as JSON for scripts (`scripts/bench/*.sh` read it with jq).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::args::{Config, Op, Spread};
use crate::cpu::CpuUse;
use crate::stats::{Errors, Latency, Tally};
use crate::tree::CleanupReport;

/// The settings a report was measured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub connect: String,
    pub servers: Vec<String>,
    pub spread: Spread,
    pub sessions: usize,
    pub in_flight: usize,
    pub keys: usize,
    pub value_bytes: usize,
    pub read_ratio: f64,
    pub warmup_s: f64,
    pub measure_s: f64,
    pub root: String,
    pub pids: Vec<u32>,
    pub seed: u64,
}

impl Settings {
    pub fn new(config: &Config, root: &str, seed: u64) -> Settings {
        Settings {
            connect: config.connect.clone(),
            servers: config.servers.clone(),
            spread: config.spread,
            sessions: config.sessions,
            in_flight: config.in_flight,
            keys: config.keys,
            value_bytes: config.value_bytes,
            read_ratio: config.read_ratio,
            warmup_s: config.warmup.as_secs_f64(),
            measure_s: config.measure.as_secs_f64(),
            root: root.to_owned(),
            pids: config.pids.clone(),
            seed,
        }
    }
}

/// One op's measured phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    pub op: Op,
    /// Requests completed in the measured phase, failed ones included.
    pub ops: u64,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub latency: Latency,
    /// Failed requests, all kinds together.
    pub errors: u64,
    /// Failed requests by kind (`NoNode`, `ConnectionLoss`, ...), with an example message each.
    pub error_kinds: Errors,
    /// Sessions that ended during the phase (expired or closed).
    pub sessions_stopped: u64,
    /// Servers' and zkload's CPU time over the measured phase.
    pub cpu: CpuUse,
}

impl OpResult {
    pub fn new(op: Op, tally: Tally, elapsed_s: f64, cpu: CpuUse) -> OpResult {
        OpResult {
            op,
            ops: tally.ops,
            elapsed_s,
            ops_per_s: if elapsed_s > 0.0 {
                tally.ops as f64 / elapsed_s
            } else {
                0.0
            },
            latency: Latency::of(&tally.latency_us),
            errors: tally.errors.total(),
            error_kinds: tally.errors,
            sessions_stopped: tally.sessions_stopped,
            cpu,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub settings: Settings,
    pub results: Vec<OpResult>,
    pub cleanup: CleanupReport,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn us_or_dash(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

impl Report {
    /// The total of failed requests over every op and cleanup.
    pub fn errors(&self) -> u64 {
        self.results.iter().map(|r| r.errors).sum::<u64>() + self.cleanup.failed
    }

    pub fn render_table(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let spread = match s.spread {
            Spread::Pinned => "sessions pinned round robin",
            Spread::Client => "servers chosen by the client",
        };
        let _ = writeln!(
            out,
            "zkload (zookeeper-client) on {} ({} server{}, {spread})",
            s.connect,
            s.servers.len(),
            if s.servers.len() == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            out,
            "{} sessions x {} in flight, value {} B, {} keys, read ratio {}, {} s per op after {} s warmup, root {}, seed {}",
            s.sessions, s.in_flight, s.value_bytes, s.keys, s.read_ratio, s.measure_s, s.warmup_s,
            s.root, s.seed
        );
        let with_cpu = !s.pids.is_empty();
        if with_cpu {
            let pids: Vec<String> = s.pids.iter().map(u32::to_string).collect();
            let _ = writeln!(out, "server pids {}", pids.join(" "));
        }
        let _ = write!(
            out,
            "\n{:<7} {:>10} {:>10} {:>8} {:>8} {:>9} {:>9} {:>8}",
            "op", "ops", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors"
        );
        if with_cpu {
            let _ = write!(out, " {:>10} {:>13}", "srv us/op", "zkload us/op");
        }
        out.push('\n');
        for r in &self.results {
            let _ = write!(
                out,
                "{:<7} {:>10} {:>10.0} {:>8.3} {:>8.3} {:>9.3} {:>9.3} {:>8}",
                r.op.name(),
                r.ops,
                r.ops_per_s,
                ms(r.latency.p50_us),
                ms(r.latency.p99_us),
                ms(r.latency.p999_us),
                ms(r.latency.max_us),
                r.errors
            );
            if with_cpu {
                let _ = write!(
                    out,
                    " {:>10} {:>13}",
                    us_or_dash(r.cpu.server_us_per_op),
                    us_or_dash(r.cpu.client_us_per_op)
                );
                if r.cpu.server_pids_read != r.cpu.server_pids {
                    let _ = write!(
                        out,
                        "  (only {} of {} pids readable)",
                        r.cpu.server_pids_read, r.cpu.server_pids
                    );
                }
            }
            out.push('\n');
            render_errors(&mut out, &r.error_kinds);
            if r.sessions_stopped > 0 {
                let _ = writeln!(out, "        {} session(s) ended early", r.sessions_stopped);
            }
        }
        let c = &self.cleanup;
        match &c.skipped {
            Some(why) => {
                let _ = writeln!(out, "\ncleanup of {} skipped: {why}", c.root);
            }
            None => {
                let _ = writeln!(
                    out,
                    "\ncleanup: {} deleted under {}, {} already gone, {} failed",
                    c.deleted, c.root, c.already_gone, c.failed
                );
                render_errors(&mut out, &c.errors);
            }
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
    }
}

fn render_errors(out: &mut String, errors: &Errors) {
    for (kind, count) in &errors.by_kind {
        let example = errors.examples.get(kind).map_or("", String::as_str);
        let _ = writeln!(out, "        {count} x {kind}: {example}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use zookeeper_client as zk;

    use super::*;

    fn report() -> Report {
        let mut tally = Tally::default();
        for _ in 0..99 {
            tally.record(Duration::from_micros(500), &Ok(()));
        }
        tally.record(Duration::from_millis(40), &Err(zk::Error::NodeExists));
        let cpu = CpuUse {
            server_pids: 2,
            server_pids_read: 1,
            server_s: Some(0.01),
            server_us_per_op: Some(100.0),
            client_s: None,
            client_us_per_op: None,
        };
        Report {
            settings: Settings {
                connect: "a:1,b:2".into(),
                servers: vec!["a:1".into(), "b:2".into()],
                spread: Spread::Pinned,
                sessions: 2,
                in_flight: 4,
                keys: 10,
                value_bytes: 100,
                read_ratio: 0.9,
                warmup_s: 0.5,
                measure_s: 2.0,
                root: "/r".into(),
                pids: vec![7, 8],
                seed: 1,
            },
            results: vec![OpResult::new(Op::Create, tally, 2.0, cpu)],
            cleanup: CleanupReport {
                root: "/r".into(),
                deleted: 113,
                ..CleanupReport::default()
            },
        }
    }

    #[test]
    fn the_table_shows_rates_percentiles_errors_and_cpu() {
        let report = report();
        let r = &report.results[0];
        assert_eq!((r.ops, r.errors), (100, 1));
        assert_eq!(r.ops_per_s, 50.0);
        let table = report.render_table();
        assert!(
            table.contains("2 servers, sessions pinned round robin"),
            "{table}"
        );
        let row = table.lines().find(|l| l.starts_with("create")).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[..3], ["create", "100", "50"], "{row}");
        assert_eq!(cells[3], "0.500", "{row}");
        assert!(cells[6].starts_with("40."), "max: {row}");
        assert_eq!(cells[7..9], ["1", "100.0"], "{row}");
        assert!(row.ends_with("(only 1 of 2 pids readable)"), "{row}");
        assert!(
            table.contains("1 x NodeExists: node already exists"),
            "{table}"
        );
        assert!(table.contains("cleanup: 113 deleted under /r"), "{table}");
        assert_eq!(report.errors(), 1);
    }

    #[test]
    fn json_round_trips() {
        let report = report();
        let json = report.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["results"][0]["op"], "create");
        assert_eq!(
            value["results"][0]["error_kinds"]["by_kind"]["NodeExists"],
            1
        );
        assert_eq!(value["results"][0]["cpu"]["server_us_per_op"], 100.0);
        assert_eq!(value["settings"]["spread"], "pinned");
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}
