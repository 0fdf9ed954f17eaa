//! A simulated power loss on top of the SIGKILL: the end of the last log record is lost.
//!
//! A SIGKILL alone never tears a record (the page cache survives the process), so without
//! this the server's torn-tail repair would never run here. Only a record that a power loss
//! could really have eaten is torn: one past every acknowledged reply's zxid (acknowledged
//! means fsync'd) and past the newest snapshot (a snapshot only holds applied, so fsync'd,
//! entries). Such a record was never acknowledged, so the checks after the restart must find
//! its write absent, like any other in-flight write.

use std::path::Path;

use corral_entry::Entry;
use corral_storage::segment::{parse_segment_file_name, scan_segment};
use corral_storage::RecoveryPolicy;
use rand::rngs::StdRng;
use rand::Rng;

/// The newest snapshot's index in `data_dir` (0 without one).
fn newest_snapshot_index(data_dir: &Path) -> u64 {
    std::fs::read_dir(data_dir.join("corral-snapshots"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("snapshot-")?
                        .strip_suffix(".snap")?
                        .parse::<u64>()
                        .ok()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Tears the last record of the last segment (keeps a random prefix of it, zeroes the rest,
/// which always changes at least one byte)
/// if its index is above `acked_index` and the newest snapshot. Returns the torn index.
pub fn tear_last_record(
    data_dir: &Path,
    log_dir: &Path,
    acked_index: u64,
    rng: &mut StdRng,
) -> Result<Option<u64>, String> {
    let log_dir = log_dir.join("corral-log");
    let last = std::fs::read_dir(&log_dir)
        .map_err(|e| format!("listing {}: {e}", log_dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            parse_segment_file_name(&name).map(|first| (first, e.path()))
        })
        .max();
    let Some((_, path)) = last else {
        return Ok(None);
    };
    let mut bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let scan = scan_segment(&bytes, true, RecoveryPolicy::Strict)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(record) = scan.records.last() else {
        return Ok(None);
    };
    let payload = bytes.get(record.payload.clone()).unwrap_or_default();
    let entry: Entry = postcard::from_bytes(payload)
        .map_err(|e| format!("{}: last record does not decode: {e}", path.display()))?;
    let index = entry.log_id.index;
    if index <= acked_index || index <= newest_snapshot_index(data_dir) {
        return Ok(None);
    }
    let start = record.offset as usize;
    let end = record.payload.end;
    // The zeroed suffix must hold a non-zero byte, or the "tear" changes nothing: an entry's
    // encoding often ends in zero bytes, and a cut inside them left the record intact.
    let Some(last_nonzero) = (start + 1..end).rev().find(|&at| bytes[at] != 0) else {
        return Ok(None);
    };
    let cut = rng.gen_range(start + 1..=last_nonzero);
    bytes[cut..end].fill(0);
    std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(index))
}
