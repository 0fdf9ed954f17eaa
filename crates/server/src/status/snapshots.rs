//! The snapshot files as the AdminServer sees them: the newest one (`last_snapshot`) and one
//! taken on demand (`snapshot`). Read through the snapshot store, never the tree.

use std::path::PathBuf;
use std::time::Duration;

use super::StatusSource;
use crate::ids::Zxid;

/// How often [`StatusSource::snapshot_now`] looks for the file it asked for.
const SNAPSHOT_POLL: Duration = Duration::from_millis(20);

/// `last_snapshot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSnapshot {
    /// The last zxid it holds; `None` without any snapshot.
    pub zxid: Option<Zxid>,
    /// Its file's modification time in seconds since the epoch; -1 when unknown.
    pub timestamp_s: i64,
}

/// A snapshot file taken on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    pub zxid: Zxid,
    pub path: PathBuf,
}

impl StatusSource {
    pub fn last_snapshot(&self) -> LastSnapshot {
        let newest = self
            .snapshots
            .list()
            .ok()
            .and_then(|list| list.last().cloned());
        let Some(info) = newest else {
            return LastSnapshot {
                zxid: None,
                timestamp_s: -1,
            };
        };
        let timestamp_s = std::fs::metadata(&info.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(-1, |d| d.as_secs() as i64);
        LastSnapshot {
            zxid: Some(info.last_log_index as Zxid),
            timestamp_s,
        }
    }

    /// Takes a snapshot now and waits (up to `timeout`) for its file: one covering at least
    /// the zxid applied when asked.
    pub async fn snapshot_now(&self, timeout: Duration) -> Result<SnapshotFile, String> {
        let wanted = self.trigger_snapshot().await?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let newest = self
                .snapshots
                .list()
                .map_err(|e| e.to_string())?
                .into_iter()
                .next_back()
                .filter(|info| info.last_log_index as Zxid >= wanted);
            if let Some(info) = newest {
                return Ok(SnapshotFile {
                    zxid: info.last_log_index as Zxid,
                    path: info.path,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "no snapshot at zxid 0x{wanted:x} after {timeout:?}"
                ));
            }
            tokio::time::sleep(SNAPSHOT_POLL).await;
        }
    }
}
