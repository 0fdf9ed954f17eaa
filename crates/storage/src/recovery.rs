//! Opening a log directory: verify everything, repair only what is provably harmless.
//!
//! Steps, in order:
//!
//! 1. Check (or create) the `corral-version` file; remove leftover `*.tmp` files of ours
//!    (they are never referenced: every temp file is renamed only after its fsync).
//! 2. Read the state file (vote, committed, purge point); a damaged one is an error.
//! 3. Segments wholly below the purge point are *dead* (a crash can land between persisting
//!    the purge point and deleting them); they are deleted, not read.
//! 4. Every live segment is read and every record's CRC verified ([`scan_segment`]); every
//!    payload is decoded and must hold the index its position implies. The last segment's
//!    torn tail is truncated (and re-zeroed) with a `warn!` naming file and offset; any
//!    other damage, a gap between segments, or a segment missing after the purge point is
//!    a typed error naming file and offset.
//! 5. The committed log id is clamped to the log's end (it can only exceed it if
//!    `force_sync` was off and a power loss ate acknowledged entries).

use std::path::Path;
use std::sync::Arc;

use openraft::entry::RaftEntry;
use openraft::type_config::alias::LogIdOf;
use openraft::RaftTypeConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cache::EntryCache;
use crate::config::LogStoreConfig;
use crate::error::Error;
use crate::error::Result;
use crate::log_codec::decode_entry;
use crate::log_codec::PersistedState;
use crate::record::framed_len;
use crate::segment::parse_segment_file_name;
use crate::segment::scan_segment;
use crate::segment::SEGMENT_FILE_BYTES_MAX;
use crate::segment_table::Segment;
use crate::segment_table::SegmentTable;
use crate::state_file::decode_state_file;
use crate::state_file::STATE_FILE_NAME;
use crate::state_file::STATE_HEADER_BYTES;
use crate::state_file::STATE_PAYLOAD_BYTES_MAX;
use crate::version;
use crate::vfs::read_exact_at;
use crate::vfs::read_whole;
use crate::vfs::remove_if_exists;
use crate::vfs::OpenMode;
use crate::vfs::Vfs;

/// Everything the store needs to start.
pub(crate) struct Recovered<C: RaftTypeConfig> {
    pub(crate) table: SegmentTable,
    pub(crate) cache: EntryCache<C::Entry>,
    pub(crate) last_log_id: Option<LogIdOf<C>>,
    /// Index of the first entry present (meaningful when `last_log_id` is `Some`).
    pub(crate) first_present: u64,
    pub(crate) state: PersistedState<C>,
    /// One past the last entry (or the first index after the purge point).
    pub(crate) end_index: u64,
}

/// Is `name` a file this crate writes in a log directory?
pub(crate) fn is_log_file(name: &str) -> bool {
    parse_segment_file_name(name).is_some()
        || name == STATE_FILE_NAME
        || name
            .strip_suffix(".tmp")
            .is_some_and(|base| parse_segment_file_name(base).is_some() || base == STATE_FILE_NAME)
}

pub(crate) fn recover<C>(config: &LogStoreConfig, vfs: &Arc<dyn Vfs>) -> Result<Recovered<C>>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
    C::Vote: Serialize + DeserializeOwned,
{
    let dir = config.dir.as_path();
    vfs.create_dir_all(dir)
        .map_err(|e| Error::io("create directory", dir, e))?;
    version::check_or_init(&**vfs, dir, is_log_file)?;
    let names = vfs.list(dir).map_err(|e| Error::io("list", dir, e))?;

    for name in names
        .iter()
        .filter(|n| n.ends_with(".tmp") && is_log_file(n))
    {
        remove_if_exists(&**vfs, &dir.join(name))?;
    }

    let state = read_state::<C>(&**vfs, dir, &names)?;
    let purged_end = state.purged.as_ref().map(|p| p.index() + 1);

    let mut segments: Vec<(u64, String)> = names
        .iter()
        .filter_map(|n| parse_segment_file_name(n).map(|first| (first, n.clone())))
        .collect();
    segments.sort();

    // A segment is dead when the next one starts at or below the purge point.
    let mut live_from = 0;
    if let Some(purged_end) = purged_end {
        for i in 1..segments.len() {
            if segments
                .get(i)
                .is_some_and(|(first, _)| *first <= purged_end)
            {
                live_from = i;
            }
        }
    }
    let (dead, live) = segments.split_at(live_from);

    let mut table = SegmentTable::default();
    let mut cache = EntryCache::new(config.cache_bytes_max);
    let mut last_log_id: Option<LogIdOf<C>> = None;
    let mut prev: Option<(u64, std::path::PathBuf)> = None;
    let state_path = dir.join(STATE_FILE_NAME);

    for (k, (first_index, name)) in live.iter().enumerate() {
        let path = dir.join(name);
        let is_last = k + 1 == live.len();
        match &prev {
            Some((prev_end, prev_path)) if first_index > prev_end => {
                return Err(Error::MissingSegment {
                    prev: prev_path.clone(),
                    expected_first_index: *prev_end,
                    next: path,
                    next_first_index: *first_index,
                })
            }
            Some((prev_end, prev_path)) if first_index < prev_end => {
                return Err(Error::corrupt(
                    &path,
                    0,
                    format!(
                    "segment starts at index {first_index} but {} already holds entries up to {}",
                    prev_path.display(),
                    prev_end - 1
                ),
                ))
            }
            Some(_) => {}
            None => {
                if let Some(purged_end) = purged_end.filter(|end| first_index > end) {
                    return Err(Error::MissingSegment {
                        prev: state_path.clone(),
                        expected_first_index: purged_end,
                        next: path,
                        next_first_index: *first_index,
                    });
                }
            }
        }

        let segment = recover_segment::<C>(
            config,
            vfs,
            &path,
            *first_index,
            is_last,
            purged_end.unwrap_or(0),
            &mut cache,
            &mut last_log_id,
        )?;
        prev = Some((segment.end_index(), path));
        table.segments.push(segment);
    }

    if !dead.is_empty() {
        for (_, name) in dead {
            tracing::info!(file = %dir.join(name).display(), "removing log segment below the purge point");
            remove_if_exists(&**vfs, &dir.join(name))?;
        }
        vfs.sync_dir(dir)
            .map_err(|e| Error::io("fsync directory", dir, e))?;
    }

    let log_end = table.segments.last().map(|s| s.end_index()).unwrap_or(0);
    let end_index = log_end.max(purged_end.unwrap_or(0));
    let mut state = state;
    if let Some(committed) = &state.committed {
        if committed.index() >= end_index {
            tracing::warn!(
                committed = %committed,
                end_index,
                "committed log id is past the end of the log (were acknowledged entries lost with force_sync off?); clamping"
            );
            state.committed = last_log_id.clone().or_else(|| state.purged.clone());
        }
    }
    let first_present = table
        .segments
        .first()
        .map(|s| s.first_index)
        .unwrap_or(0)
        .max(purged_end.unwrap_or(0));
    Ok(Recovered {
        table,
        cache,
        last_log_id,
        first_present,
        state,
        end_index,
    })
}

fn read_state<C>(vfs: &dyn Vfs, dir: &Path, names: &[String]) -> Result<PersistedState<C>>
where
    C: RaftTypeConfig,
    C::Vote: Serialize + DeserializeOwned,
{
    if !names.iter().any(|n| n == STATE_FILE_NAME) {
        return Ok(PersistedState::default());
    }
    let path = dir.join(STATE_FILE_NAME);
    let bytes = read_whole(
        vfs,
        &path,
        (STATE_HEADER_BYTES + STATE_PAYLOAD_BYTES_MAX) as u64,
    )?;
    let payload = decode_state_file(&bytes)
        .map_err(|(offset, reason)| Error::corrupt(&path, offset, reason))?;
    PersistedState::decode(payload)
        .map_err(|reason| Error::corrupt(&path, STATE_HEADER_BYTES as u64, reason))
}

#[allow(clippy::too_many_arguments)]
fn recover_segment<C>(
    config: &LogStoreConfig,
    vfs: &Arc<dyn Vfs>,
    path: &Path,
    first_index: u64,
    is_last: bool,
    purged_end: u64,
    cache: &mut EntryCache<C::Entry>,
    last_log_id: &mut Option<LogIdOf<C>>,
) -> Result<Segment>
where
    C: RaftTypeConfig,
    C::Entry: Clone + Serialize + DeserializeOwned,
{
    let file = vfs
        .open(path, OpenMode::ReadWrite)
        .map_err(|e| Error::io("open", path, e))?;
    let file_len = file.len_bytes().map_err(|e| Error::io("stat", path, e))?;
    if file_len > SEGMENT_FILE_BYTES_MAX {
        return Err(Error::corrupt(
            path,
            0,
            format!("segment is {file_len} bytes, over {SEGMENT_FILE_BYTES_MAX}"),
        ));
    }
    let mut bytes = vec![0u8; file_len as usize];
    read_exact_at(&*file, &mut bytes, 0).map_err(|e| Error::io("read", path, e))?;
    let scan = scan_segment(&bytes, is_last, config.recovery_policy)
        .map_err(|e| Error::corrupt(path, e.offset, e.reason))?;
    if scan.first_index != first_index {
        return Err(Error::corrupt(
            path,
            16,
            format!(
                "header names first index {} but the file name says {first_index}",
                scan.first_index
            ),
        ));
    }

    let mut offsets = Vec::with_capacity(scan.records.len());
    for (i, record) in scan.records.iter().enumerate() {
        let index = first_index + i as u64;
        let payload = bytes.get(record.payload.clone()).unwrap_or_default();
        let entry: C::Entry = decode_entry::<C>(payload).map_err(|reason| {
            Error::corrupt(path, record.offset, format!("entry {index}: {reason}"))
        })?;
        if entry.index() != index {
            return Err(Error::corrupt(
                path,
                record.offset,
                format!(
                    "record holds entry {} where entry {index} belongs",
                    entry.index()
                ),
            ));
        }
        offsets.push(u32::try_from(record.offset).unwrap_or(u32::MAX));
        if index >= purged_end {
            *last_log_id = Some(entry.log_id());
            cache.push(index, entry, framed_len(payload.len()) as u64);
            cache.evict(u64::MAX);
        }
    }

    if let Some(torn) = &scan.torn {
        tracing::warn!(
            file = %path.display(),
            offset = torn.offset,
            reason = %torn.reason,
            "truncating torn tail of the last log segment (never acknowledged)"
        );
        file.set_len_bytes(torn.offset)
            .map_err(|e| Error::io("truncate", path, e))?;
        file.set_len_bytes(file_len)
            .map_err(|e| Error::io("preallocate", path, e))?;
        file.sync_all().map_err(|e| Error::io("fsync", path, e))?;
    }

    Ok(Segment {
        first_index,
        path: path.to_path_buf(),
        file,
        offsets,
        data_end: scan.data_end,
        file_len,
    })
}
