//! CPU time of the servers (`--pid`) and of zkload itself over a measured window, from
//! `/proc/<pid>/stat` (Linux).
//!
//! Fields 14 and 15 there (utime, stime) count every thread of the process, a JVM's garbage
//! collector and compiler threads included, in ticks of `USER_HZ`: 100 per second for user
//! space on every Linux architecture, so 10 ms resolution, plenty over a window of seconds.

use serde::{Deserialize, Serialize};

const TICKS_PER_S: f64 = 100.0;

/// utime + stime in ticks from the text of a stat file. The command name (field 2) sits in
/// parentheses and may itself hold spaces and parentheses, so fields are counted from the
/// last `)`: what follows starts with field 3.
fn ticks_of(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    ticks_of(&std::fs::read_to_string(path).ok()?)
}

/// CPU ticks of the servers and of this process at one moment; `None` where unreadable (a
/// process that is gone, or not Linux).
#[derive(Debug, Clone)]
pub struct Reading {
    servers: Vec<Option<u64>>,
    own: Option<u64>,
}

impl Reading {
    pub fn now(pids: &[u32]) -> Reading {
        Reading {
            servers: pids.iter().map(|&pid| ticks(Some(pid))).collect(),
            own: ticks(None),
        }
    }

    /// The CPU used from `self` to `later` (same pids), per op for `ops` operations.
    pub fn until(&self, later: &Reading, ops: u64) -> CpuUse {
        let pairs: Vec<u64> = self
            .servers
            .iter()
            .zip(&later.servers)
            .filter_map(|(a, b)| Some(b.as_ref()?.saturating_sub(*a.as_ref()?)))
            .collect();
        let server_s = (!pairs.is_empty()).then(|| pairs.iter().sum::<u64>() as f64 / TICKS_PER_S);
        let client_s = match (self.own, later.own) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / TICKS_PER_S),
            _ => None,
        };
        let per_op = |s: Option<f64>| s.filter(|_| ops > 0).map(|s| s * 1e6 / ops as f64);
        CpuUse {
            server_pids: self.servers.len(),
            server_pids_read: pairs.len(),
            server_s,
            server_us_per_op: per_op(server_s),
            client_s,
            client_us_per_op: per_op(client_s),
        }
    }
}

/// CPU used during one measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// `--pid` processes asked for.
    pub server_pids: usize,
    /// Of those, the ones readable before and after (a process gone meanwhile is left out of
    /// the sum; the report shows the two counts when they differ).
    pub server_pids_read: usize,
    /// CPU seconds of the readable server processes together.
    pub server_s: Option<f64>,
    pub server_us_per_op: Option<f64>,
    /// CPU seconds of zkload itself, all threads (the client's connection tasks included).
    pub client_s: Option<f64>,
    pub client_us_per_op: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fields_after_the_last_parenthesis() {
        let line = "77 (a b) (c)) R 1 77 77 0 -1 4194304 10 0 0 0 250 50 0 0 20 0 9 0 100 \
                    1000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        assert_eq!(ticks_of(line), Some(300));
        assert_eq!(ticks_of("77 (x) R 1 2 3"), None);
        assert_eq!(ticks_of("garbage"), None);
    }

    #[test]
    fn per_op_figures_from_two_readings() {
        let before = Reading {
            servers: vec![Some(100), Some(50), None],
            own: Some(10),
        };
        let after = Reading {
            servers: vec![Some(300), Some(150), Some(999)],
            own: Some(30),
        };
        let used = before.until(&after, 1000);
        assert_eq!((used.server_pids, used.server_pids_read), (3, 2));
        assert_eq!(used.server_s, Some(3.0));
        assert_eq!(used.server_us_per_op, Some(3000.0));
        assert_eq!(used.client_us_per_op, Some(200.0));
        assert_eq!(before.until(&after, 0).server_us_per_op, None);
    }

    #[test]
    fn reads_this_process_on_linux() {
        let reading = Reading::now(&[std::process::id(), u32::MAX]);
        if cfg!(target_os = "linux") {
            assert!(reading.own.is_some());
            assert!(reading.servers[0].is_some());
            assert!(reading.servers[1].is_none());
        }
    }
}
