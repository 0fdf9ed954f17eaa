//! `corral bench fsync`: the raw rate of durable appends on a disk.
//!
//! Appends `--value-bytes` bytes to a fresh scratch file under `--dir` and calls fdatasync
//! (`File::sync_data`) after each, one after the other, for `--seconds`. A server that syncs
//! its log before answering cannot answer a lone client (one session, one request in flight)
//! faster than this; more clients only go faster by sharing one sync among several writes
//! (group commit). The scratch file is removed at the end, also when the probe fails.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::BenchError;
use crate::stats::{new_histogram, Latency};

/// What the probe measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FsyncResult {
    pub dir: PathBuf,
    /// Bytes appended before each sync.
    pub append_bytes: usize,
    pub syncs: u64,
    pub elapsed_s: f64,
    pub syncs_per_s: f64,
    /// Latency of one append plus its fdatasync.
    pub latency: Latency,
}

/// Removes the scratch file when dropped.
struct Scratch {
    path: PathBuf,
    file: File,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs the probe (blocking: call it from a blocking thread in async code).
pub fn probe(
    dir: &Path,
    duration: Duration,
    append_bytes: usize,
) -> Result<FsyncResult, BenchError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!(
        ".corral-fsync-probe-{}-{nanos}",
        std::process::id()
    ));
    let io_error = |source| BenchError::Io {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_error)?;
    let mut scratch = Scratch {
        path: path.clone(),
        file,
    };
    // The file's creation made durable first, so the loop measures appends only.
    scratch.file.sync_all().map_err(io_error)?;
    let record = vec![b'f'; append_bytes];
    let mut latency = new_histogram();
    let mut syncs = 0u64;
    let started = Instant::now();
    let deadline = started + duration;
    loop {
        let begun = Instant::now();
        if begun >= deadline {
            break;
        }
        scratch.file.write_all(&record).map_err(io_error)?;
        scratch.file.sync_data().map_err(io_error)?;
        let us = u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX);
        latency.saturating_record(us.max(1));
        syncs += 1;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    Ok(FsyncResult {
        dir: dir.to_path_buf(),
        append_bytes,
        syncs,
        elapsed_s,
        syncs_per_s: if elapsed_s > 0.0 {
            syncs as f64 / elapsed_s
        } else {
            0.0
        },
        latency: Latency::of(&latency),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_and_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("corral-fsync-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let result = probe(&dir, Duration::from_millis(200), 64).unwrap();
        assert!(result.syncs > 0, "{result:?}");
        assert!(result.syncs_per_s > 0.0);
        assert!(result.latency.p50_us <= result.latency.p99_us);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
        let missing = dir.join("missing");
        assert!(matches!(
            probe(&missing, Duration::from_millis(10), 64),
            Err(BenchError::Io { .. })
        ));
    }
}
