//! CPU time of processes from `/proc/<pid>/stat` (Linux): the servers named with `--pid`, summed
//! over an ensemble's processes, and the load generator's own, around each measured workload.
//!
//! `utime` and `stime` there cover every thread of the process (a JVM's GC and compiler threads
//! included) in clock ticks of `USER_HZ`, which Linux fixes at 100 for user space on every
//! architecture it runs this on; a 10 ms resolution is plenty over a run of seconds.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Clock ticks per second of `/proc/<pid>/stat` times.
const USER_HZ: f64 = 100.0;

/// User + system CPU seconds of the process whose stat file is at `path`, `None` when it cannot
/// be read (no such process, not Linux).
fn cpu_s_at(path: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    parse_stat(&stat)
}

/// Fields 14 (utime) and 15 (stime) of a stat line, in seconds. The command name (field 2) is
/// in parentheses and may hold spaces and parentheses itself: fields are counted after the last
/// `)`.
fn parse_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// CPU seconds used so far by process `pid`.
pub fn process_cpu_s(pid: u32) -> Option<f64> {
    cpu_s_at(Path::new(&format!("/proc/{pid}/stat")))
}

/// CPU seconds used so far by this process.
pub fn own_cpu_s() -> Option<f64> {
    cpu_s_at(Path::new("/proc/self/stat"))
}

/// A reading of the servers' and the load generator's CPU time.
#[derive(Debug, Clone)]
pub struct CpuSample {
    servers: Vec<Option<f64>>,
    own: Option<f64>,
}

impl CpuSample {
    pub fn take(pids: &[u32]) -> CpuSample {
        CpuSample {
            servers: pids.iter().map(|&pid| process_cpu_s(pid)).collect(),
            own: own_cpu_s(),
        }
    }

    /// CPU used between `self` and `later` (taken with the same pids) by `ops` operations.
    pub fn usage(&self, later: &CpuSample, ops: u64) -> CpuUse {
        let mut server_s = 0.0;
        let mut counted = 0;
        for (before, after) in self.servers.iter().zip(&later.servers) {
            if let (Some(before), Some(after)) = (before, after) {
                server_s += after - before;
                counted += 1;
            }
        }
        let per_op = |s: f64| (ops > 0).then(|| s * 1e6 / ops as f64);
        let own_s = match (self.own, later.own) {
            (Some(before), Some(after)) => Some(after - before),
            _ => None,
        };
        let server_s = (counted > 0).then_some(server_s);
        CpuUse {
            server_pids: counted,
            server_s,
            server_us_per_op: server_s.and_then(per_op),
            client_s: own_s,
            client_us_per_op: own_s.and_then(per_op),
        }
    }
}

/// CPU time used during one measured workload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// How many of the target's `--pid` processes could be read before and after (a process
    /// that died meanwhile is left out of the sum).
    pub server_pids: usize,
    /// CPU seconds of those server processes together.
    pub server_s: Option<f64>,
    pub server_us_per_op: Option<f64>,
    /// CPU seconds of the load generator itself (all its threads).
    pub client_s: Option<f64>,
    pub client_us_per_op: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_the_command_name() {
        // A real line, with a command name holding a space and a parenthesis.
        let line = "4242 (java (x) y) S 1 4242 4242 0 -1 4194560 93842 0 12 0 1234 567 0 0 20 0 \
                    57 0 1187 5234565120 77065 18446744073709551615 1 1 0 0 0 0 0 2 16800975 0 \
                    0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat(line), Some((1234.0 + 567.0) / 100.0));
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn this_process_uses_cpu() {
        let before = CpuSample::take(&[std::process::id(), u32::MAX]);
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed().as_millis() < 50 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = CpuSample::take(&[std::process::id(), u32::MAX]);
        let used = before.usage(&after, 10);
        if cfg!(target_os = "linux") {
            assert_eq!(used.server_pids, 1, "{used:?}");
            assert!(used.server_s.unwrap() >= 0.0, "{used:?}");
            assert!(used.client_us_per_op.is_some(), "{used:?}");
        }
        assert_eq!(before.usage(&after, 0).server_us_per_op, None);
    }
}
