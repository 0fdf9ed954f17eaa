//! `corral bench fsync`: the raw rate of durable small writes on a disk.
//!
//! Writes `--value-bytes` bytes at a time to a fresh scratch file under `--dir` and calls
//! fdatasync (`File::sync_data`) after each, one after the other, for `--seconds`, twice:
//!
//! - **append**: each write grows the file, so every sync also makes the new length durable;
//! - **preallocated**: the file's length is set ahead (sparse, as ZooKeeper's and Corral's logs
//!   preallocate theirs, 64 MiB at a time) and the writes go sequentially inside it.
//!
//! A server that syncs its log before answering cannot answer a lone client (one session, one
//! request in flight) faster than the preallocated rate; more clients only go faster by sharing
//! one sync among several writes (group commit). The scratch files are removed at the end, also
//! when the probe fails.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::BenchError;
use crate::stats::{new_histogram, Latency};

/// How far ahead the preallocated run sets the file's length, as ZooKeeper's `preAllocSize`.
pub const PREALLOC_BYTES: u64 = 64 * 1024 * 1024;

/// One way of writing, measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FsyncRun {
    pub syncs: u64,
    pub elapsed_s: f64,
    pub syncs_per_s: f64,
    /// Latency of one write plus its fdatasync.
    pub latency: Latency,
}

/// What the probe measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FsyncResult {
    pub dir: PathBuf,
    /// Bytes written before each sync.
    pub write_bytes: usize,
    /// Each write grows the file.
    pub append: FsyncRun,
    /// Writes inside a file whose length was set ahead.
    pub preallocated: FsyncRun,
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

/// Runs both measurements, `duration` each (blocking: call it from a blocking thread in async
/// code).
pub fn probe(
    dir: &Path,
    duration: Duration,
    write_bytes: usize,
) -> Result<FsyncResult, BenchError> {
    Ok(FsyncResult {
        dir: dir.to_path_buf(),
        write_bytes,
        append: measure(dir, duration, write_bytes, false)?,
        preallocated: measure(dir, duration, write_bytes, true)?,
    })
}

fn measure(
    dir: &Path,
    duration: Duration,
    write_bytes: usize,
    preallocate: bool,
) -> Result<FsyncRun, BenchError> {
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
    let mut length = 0u64;
    if preallocate {
        length = PREALLOC_BYTES;
        scratch.file.set_len(length).map_err(io_error)?;
    }
    // The file's creation (and length) made durable first, so the loop measures writes only.
    scratch.file.sync_all().map_err(io_error)?;
    let record = vec![b'f'; write_bytes];
    let mut latency = new_histogram();
    let mut syncs = 0u64;
    let mut written = 0u64;
    let started = Instant::now();
    let deadline = started + duration;
    loop {
        let begun = Instant::now();
        if begun >= deadline {
            break;
        }
        if preallocate && written + record.len() as u64 > length {
            // Past the preallocated end: grow by another chunk, as a log would.
            length += PREALLOC_BYTES;
            scratch.file.set_len(length).map_err(io_error)?;
        }
        scratch.file.write_all(&record).map_err(io_error)?;
        scratch.file.sync_data().map_err(io_error)?;
        written += record.len() as u64;
        let us = u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX);
        latency.saturating_record(us.max(1));
        syncs += 1;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    Ok(FsyncRun {
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
        for run in [&result.append, &result.preallocated] {
            assert!(run.syncs > 0, "{result:?}");
            assert!(run.syncs_per_s > 0.0);
            assert!(run.latency.p50_us <= run.latency.p99_us);
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
        let missing = dir.join("missing");
        assert!(matches!(
            probe(&missing, Duration::from_millis(10), 64),
            Err(BenchError::Io { .. })
        ));
    }
}
