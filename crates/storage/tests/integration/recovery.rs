//! Reopening: what survives, what is repaired (torn tails), what is refused (corruption,
//! missing segments, unknown versions).

use std::fs;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use corral_storage::segment::scan_segment;
use corral_storage::state_file::STATE_FILE_NAME;
use corral_storage::version::VERSION_FILE_NAME;
use corral_storage::Error;
use corral_storage::RecoveryPolicy;
use corral_storage::WriterMode;
use openraft::entry::RaftEntry;
use openraft::storage::RaftLogStorage;
use openraft::type_config::alias::VoteOf;
use openraft::RaftLogReader;
use openraft::Vote;

use crate::common::*;

async fn read_all(store: &mut Store) -> Vec<Entry> {
    store
        .get_log_reader()
        .await
        .try_get_log_entries(..)
        .await
        .expect("read")
}

/// Returns (file offset of each record, data end) of a segment file.
fn layout(path: &Path, is_last: bool) -> (Vec<u64>, u64) {
    let bytes = fs::read(path).unwrap();
    let scan = scan_segment(&bytes, is_last, RecoveryPolicy::Strict).unwrap();
    (
        scan.records.iter().map(|r| r.offset).collect(),
        scan.data_end,
    )
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

fn flip(path: &Path, offset: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0x20], offset).unwrap();
}

async fn build_log(dir: &Path, n: u64) {
    build_log_in(dir, n, WriterMode::Thread).await
}

async fn build_log_in(dir: &Path, n: u64, mode: WriterMode) {
    let mut store = open_in(dir, mode);
    append(&mut store, entries(1, 0, n)).await.unwrap();
}

// Recovery of logs written in either mode (the bytes must be the same).
in_both_writer_modes!(
    reopen_preserves_entries_vote_committed_and_purge_point,
    torn_partial_record_at_the_tail_is_truncated,
    bad_checksum_in_the_last_record_is_a_torn_tail,
    missing_segment_after_the_purge_point_is_refused,
    damaged_state_file_is_refused,
    purge_deletes_whole_segments_only,
    dead_segments_below_the_purge_point_are_removed_at_open,
    truncation_survives_reopen,
    holes_and_overwrites_of_purged_entries_are_refused,
    reads_of_evicted_entries_come_from_disk,
);

async fn reopen_preserves_entries_vote_committed_and_purge_point(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    let vote: VoteOf<TestConfig> = Vote::new_committed(3, 1);
    {
        let mut store = open_in(dir, mode);
        for i in 0..60 {
            append(&mut store, entries(1, i, i + 1)).await.unwrap();
        }
        store.save_vote(&vote).await.unwrap();
        store.save_committed(Some(log_id(1, 55))).await.unwrap();
        store.purge(log_id(1, 20)).await.unwrap();
        assert!(segment_files(dir).len() > 2, "test needs several segments");
    }
    let mut store = open_in(dir, mode);
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 20)));
    assert_eq!(state.last_log_id, Some(log_id(1, 59)));
    assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 55)));
    assert_eq!(
        store.get_log_reader().await.read_vote().await.unwrap(),
        Some(vote)
    );
    let all = read_all(&mut store).await;
    assert_eq!(all, entries(1, 21, 60));
    // Appending continues where the log ended.
    append(&mut store, entries(2, 60, 62)).await.unwrap();
    assert_eq!(
        store.get_log_state().await.unwrap().last_log_id,
        Some(log_id(2, 61))
    );
}

#[tokio::test]
async fn fresh_directory_gets_a_version_file() {
    let tmp = tempdir();
    let _store = open(tmp.path());
    assert_eq!(
        fs::read_to_string(tmp.path().join(VERSION_FILE_NAME)).unwrap(),
        "1\n"
    );
}

#[tokio::test]
async fn unknown_version_is_refused() {
    let tmp = tempdir();
    build_log(tmp.path(), 3).await;
    fs::write(tmp.path().join(VERSION_FILE_NAME), "7\n").unwrap();
    let err = Store::open(small_config(tmp.path())).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownVersion { found, .. } if found == "7"),
        "{err}"
    );
    assert!(err.to_string().contains(VERSION_FILE_NAME), "{err}");
}

#[tokio::test]
async fn data_without_version_file_is_refused() {
    let tmp = tempdir();
    build_log(tmp.path(), 3).await;
    fs::remove_file(tmp.path().join(VERSION_FILE_NAME)).unwrap();
    let err = Store::open(small_config(tmp.path())).unwrap_err();
    assert!(matches!(err, Error::MissingVersion { .. }), "{err}");
}

async fn torn_partial_record_at_the_tail_is_truncated(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    build_log_in(dir, 30, mode).await;
    let last = segment_files(dir).pop().unwrap();
    let (_, data_end) = layout(&last, true);
    // A record header claiming 200 bytes, followed by only 10 of them.
    let mut torn = 200u32.to_le_bytes().to_vec();
    torn.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    torn.extend_from_slice(&[7u8; 10]);
    write_at(&last, data_end, &torn);

    let mut store = open_in(dir, mode);
    assert_eq!(
        store.get_log_state().await.unwrap().last_log_id,
        Some(log_id(1, 29))
    );
    assert_eq!(read_all(&mut store).await, entries(1, 0, 30));
    // The torn bytes were zeroed: new appends and another reopen are clean.
    append(&mut store, entries(1, 30, 32)).await.unwrap();
    drop(store);
    let mut store = open_in(dir, mode);
    assert_eq!(read_all(&mut store).await, entries(1, 0, 32));
}

async fn bad_checksum_in_the_last_record_is_a_torn_tail(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    build_log_in(dir, 30, mode).await;
    let last = segment_files(dir).pop().unwrap();
    let (offsets, _) = layout(&last, true);
    flip(&last, offsets.last().unwrap() + 12);
    let mut store = open_in(dir, mode);
    assert_eq!(
        store.get_log_state().await.unwrap().last_log_id,
        Some(log_id(1, 28))
    );
    assert_eq!(read_all(&mut store).await, entries(1, 0, 29));
}

#[tokio::test]
async fn corruption_before_the_tail_is_refused_with_file_and_offset() {
    let tmp = tempdir();
    let dir = tmp.path();
    build_log(dir, 30).await;
    let files = segment_files(dir);
    assert!(files.len() >= 3);

    // In a segment that is not the last.
    let first = &files[0];
    let (offsets, _) = layout(first, false);
    flip(first, offsets[2] + 10);
    let err = Store::open(small_config(dir)).unwrap_err();
    match &err {
        Error::Corrupt { path, offset, .. } => {
            assert_eq!(path, first);
            assert_eq!(*offset, offsets[2]);
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("log-00000000000000000000.seg") && msg.contains(&offsets[2].to_string()),
        "{msg}"
    );
    flip(first, offsets[2] + 10); // repair

    // In the last segment, followed by valid records: not a torn tail.
    let last = files.last().unwrap();
    let (offsets, _) = layout(last, true);
    assert!(offsets.len() >= 3);
    flip(last, offsets[0] + 9);
    let err = Store::open(small_config(dir)).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, offset, reason } if path == last && *offset == offsets[0] && reason.contains("valid record")),
        "{err}"
    );

    // An operator may choose to truncate instead.
    let mut config = small_config(dir);
    config.recovery_policy = RecoveryPolicy::TruncateAtFirstBadRecord;
    let mut store = Store::open(config).unwrap();
    let state = store.get_log_state().await.unwrap();
    assert!(state.last_log_id.unwrap().index() < 29);
}

#[tokio::test]
async fn missing_segment_is_refused() {
    let tmp = tempdir();
    let dir = tmp.path();
    build_log(dir, 40).await;
    let files = segment_files(dir);
    assert!(files.len() >= 3);
    fs::remove_file(&files[1]).unwrap();
    let err = Store::open(small_config(dir)).unwrap_err();
    match &err {
        Error::MissingSegment { prev, next, .. } => {
            assert_eq!(prev, &files[0]);
            assert_eq!(next, &files[2]);
        }
        other => panic!("expected MissingSegment, got {other}"),
    }
}

async fn missing_segment_after_the_purge_point_is_refused(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    {
        let mut store = open_in(dir, mode);
        append(&mut store, entries(1, 0, 40)).await.unwrap();
        store.purge(log_id(1, 3)).await.unwrap();
    }
    let files = segment_files(dir);
    fs::remove_file(&files[0]).unwrap();
    let err = Store::open(config_in(dir, mode)).unwrap_err();
    assert!(
        matches!(&err, Error::MissingSegment { prev, .. } if prev.ends_with(STATE_FILE_NAME)),
        "{err}"
    );
}

async fn damaged_state_file_is_refused(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    {
        let mut store = open_in(dir, mode);
        store.save_vote(&Vote::new(1, 1)).await.unwrap();
    }
    flip(&dir.join(STATE_FILE_NAME), 21);
    let err = Store::open(config_in(dir, mode)).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, .. } if path.ends_with(STATE_FILE_NAME)),
        "{err}"
    );
}

#[tokio::test]
async fn leftover_temp_files_are_removed() {
    let tmp = tempdir();
    let dir = tmp.path();
    build_log(dir, 5).await;
    fs::write(dir.join("log-00000000000000000099.seg.tmp"), b"junk").unwrap();
    fs::write(dir.join("raft-state.tmp"), b"junk").unwrap();
    let mut store = open(dir);
    assert_eq!(read_all(&mut store).await.len(), 5);
    assert!(!dir.join("raft-state.tmp").exists());
    assert!(!dir.join("log-00000000000000000099.seg.tmp").exists());
}

async fn purge_deletes_whole_segments_only(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    let mut store = open_in(dir, mode);
    append(&mut store, entries(1, 0, 60)).await.unwrap();
    let before = segment_files(dir);
    store.purge(log_id(1, 30)).await.unwrap();
    let after = segment_files(dir);
    assert!(after.len() < before.len());
    // The first remaining segment still holds entry 31.
    let first_kept: u64 = after[0].file_name().unwrap().to_str().unwrap()[4..24]
        .parse()
        .unwrap();
    assert!(first_kept <= 31);
    assert_eq!(read_all(&mut store).await, entries(1, 31, 60));
    // Purging everything (e.g. after installing a snapshot) and appending after it.
    store.purge(log_id(2, 100)).await.unwrap();
    assert!(segment_files(dir).is_empty());
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(2, 100)));
    append(&mut store, entries(2, 101, 103)).await.unwrap();
    drop(store);
    let mut store = open_in(dir, mode);
    assert_eq!(read_all(&mut store).await, entries(2, 101, 103));
    assert_eq!(
        store.get_log_state().await.unwrap().last_purged_log_id,
        Some(log_id(2, 100))
    );
}

async fn dead_segments_below_the_purge_point_are_removed_at_open(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    {
        let mut store = open_in(dir, mode);
        append(&mut store, entries(1, 0, 60)).await.unwrap();
    }
    let files = segment_files(dir);
    // Simulate a crash after the purge point was persisted but before files were removed:
    // persist the purge point with a store that then cannot delete (copy the files back).
    let copies: Vec<(std::path::PathBuf, Vec<u8>)> = files
        .iter()
        .map(|f| (f.clone(), fs::read(f).unwrap()))
        .collect();
    {
        let mut store = open_in(dir, mode);
        store.purge(log_id(1, 40)).await.unwrap();
    }
    for (path, bytes) in &copies {
        if !path.exists() {
            fs::write(path, bytes).unwrap();
        }
    }
    let mut store = open_in(dir, mode);
    assert_eq!(read_all(&mut store).await, entries(1, 41, 60));
    assert!(segment_files(dir).len() < files.len());
}

async fn truncation_survives_reopen(mode: WriterMode) {
    let tmp = tempdir();
    let dir = tmp.path();
    let mut store = open_in(dir, mode);
    append(&mut store, entries(1, 0, 50)).await.unwrap();
    let before = segment_files(dir).len();
    store.truncate_after(Some(log_id(1, 9))).await.unwrap();
    assert!(segment_files(dir).len() < before);
    append(&mut store, entries(2, 10, 20)).await.unwrap();
    drop(store);
    let mut store = open_in(dir, mode);
    let mut want = entries(1, 0, 10);
    want.extend(entries(2, 10, 20));
    assert_eq!(read_all(&mut store).await, want);

    // Overwriting without an explicit truncate (openraft's suite does this) works too.
    append(&mut store, entries(3, 15, 17)).await.unwrap();
    drop(store);
    let mut store = open_in(dir, mode);
    let mut want = entries(1, 0, 10);
    want.extend(entries(2, 10, 15));
    want.extend(entries(3, 15, 17));
    assert_eq!(read_all(&mut store).await, want);
}

async fn holes_and_overwrites_of_purged_entries_are_refused(mode: WriterMode) {
    let tmp = tempdir();
    let mut store = open_in(tmp.path(), mode);
    append(&mut store, entries(1, 0, 10)).await.unwrap();
    assert!(append(&mut store, entries(1, 12, 13)).await.is_err());
    store.purge(log_id(1, 5)).await.unwrap();
    assert!(append(&mut store, entries(1, 3, 4)).await.is_err());
    assert!(store.truncate_after(Some(log_id(1, 2))).await.is_err());
    // The store is still usable.
    append(&mut store, entries(1, 10, 11)).await.unwrap();
}

async fn reads_of_evicted_entries_come_from_disk(mode: WriterMode) {
    let tmp = tempdir();
    let mut store = open_in(tmp.path(), mode);
    append(&mut store, entries(1, 0, 100)).await.unwrap();
    let mut reader = store.get_log_reader().await;
    assert_eq!(
        reader.try_get_log_entries(5..8).await.unwrap(),
        entries(1, 5, 8)
    );
    assert_eq!(
        reader.try_get_log_entries(..).await.unwrap(),
        entries(1, 0, 100)
    );
    let limited = reader.limited_get_log_entries(0, 100).await.unwrap();
    assert!(!limited.is_empty());
    assert_eq!(limited, entries(1, 0, limited.len() as u64));
    assert_eq!(reader.try_get_log_entries(100..200).await.unwrap(), vec![]);
    assert_eq!(blank(1, 3).index(), 3);
}
