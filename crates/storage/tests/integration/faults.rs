//! Fault injection through `FaultVfs`: fsync errors poison the store, short writes are
//! completed, torn writes are repaired at reopen, bit flips are caught with file + offset.

use std::io;
use std::sync::Arc;

use corral_storage::segment::scan_segment;
use corral_storage::Error;
use corral_storage::FaultVfs;
use corral_storage::OsVfs;
use corral_storage::RecoveryPolicy;
use corral_storage::WriterMode;
use openraft::storage::RaftLogStorage;
use openraft::RaftLogReader;
use openraft::Vote;

use crate::common::*;

in_both_writer_modes!(
    fsync_error_poisons_the_store_for_good,
    fsync_error_during_vote_save_poisons,
    short_writes_are_completed,
    torn_write_then_crash_keeps_every_acknowledged_entry,
    failed_directory_fsync_at_rollover_poisons,
);

fn is_poisoned(err: &io::Error) -> bool {
    err.to_string().contains("poisoned")
}

async fn fsync_error_poisons_the_store_for_good(mode: WriterMode) {
    let tmp = tempdir();
    let (mut store, faults) = open_faulty_in(tmp.path(), mode);
    append(&mut store, entries(1, 0, 5)).await.unwrap();
    let durable_before = store.positions().durable_end_index;
    assert_eq!(durable_before, 5);

    faults.set_fail_syncs(true);
    let err = append(&mut store, entries(1, 5, 6)).await.unwrap_err();
    assert!(is_poisoned(&err), "{err}");
    assert!(store.poisoned().is_some());

    // Even with the disk "healthy" again, nothing is ever acknowledged.
    faults.set_fail_syncs(false);
    let err = append(&mut store, entries(1, 6, 7)).await.unwrap_err();
    assert!(is_poisoned(&err), "{err}");
    assert!(store.save_vote(&Vote::new(2, 1)).await.is_err());
    assert!(store.truncate_after(Some(log_id(1, 2))).await.is_err());
    assert!(store.purge(log_id(1, 1)).await.is_err());
    assert!(store.save_committed(Some(log_id(1, 1))).await.is_err());
    assert_eq!(store.positions().durable_end_index, durable_before);

    // Reads still work, and a restart recovers what was durable.
    let got = store
        .get_log_reader()
        .await
        .try_get_log_entries(0..5)
        .await
        .unwrap();
    assert_eq!(got, entries(1, 0, 5));
    drop(store);
    let mut store = open_in(tmp.path(), mode);
    let all = store
        .get_log_reader()
        .await
        .try_get_log_entries(..)
        .await
        .unwrap();
    assert!(all.len() >= 5 && all[..5] == entries(1, 0, 5)[..]);
}

async fn fsync_error_during_vote_save_poisons(mode: WriterMode) {
    let tmp = tempdir();
    let (mut store, faults) = open_faulty_in(tmp.path(), mode);
    faults.set_fail_syncs(true);
    assert!(store.save_vote(&Vote::new(1, 1)).await.is_err());
    faults.set_fail_syncs(false);
    assert!(store.save_vote(&Vote::new(1, 1)).await.is_err());
    assert!(append(&mut store, entries(1, 0, 1)).await.is_err());
}

async fn short_writes_are_completed(mode: WriterMode) {
    let tmp = tempdir();
    {
        let (mut store, faults) = open_faulty_in(tmp.path(), mode);
        faults.set_short_writes(true);
        for i in 0..40 {
            append(&mut store, entries(1, i, i + 1)).await.unwrap();
        }
        append(&mut store, entries(1, 40, 60)).await.unwrap();
    }
    let mut store = open_in(tmp.path(), mode);
    let all = store
        .get_log_reader()
        .await
        .try_get_log_entries(..)
        .await
        .unwrap();
    assert_eq!(all, entries(1, 0, 60));
}

async fn torn_write_then_crash_keeps_every_acknowledged_entry(mode: WriterMode) {
    let tmp = tempdir();
    let mut acked = 0u64;
    {
        let (mut store, faults) = open_faulty_in(tmp.path(), mode);
        for i in 0..10 {
            append(&mut store, entries(1, i, i + 1)).await.unwrap();
            acked = i + 1;
        }
        // The next write stores 100 bytes of a multi-record batch, then fails.
        faults.set_write_budget_bytes(Some(100));
        let err = append(&mut store, entries(1, 10, 13)).await.unwrap_err();
        assert!(is_poisoned(&err), "{err}");
    }
    // "Restart": recovery finds a torn tail in the last segment and truncates it.
    let mut store = open_in(tmp.path(), mode);
    let all = store
        .get_log_reader()
        .await
        .try_get_log_entries(..)
        .await
        .unwrap();
    assert!(all.len() as u64 >= acked);
    assert_eq!(all[..acked as usize], entries(1, 0, acked)[..]);
    append(
        &mut store,
        entries(1, all.len() as u64, all.len() as u64 + 1),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn bit_flip_on_read_is_reported_with_file_and_offset() {
    let tmp = tempdir();
    let dir = tmp.path();
    {
        let mut store = open(dir);
        append(&mut store, entries(1, 0, 30)).await.unwrap();
    }
    let first = segment_files(dir)[0].clone();
    let bytes = std::fs::read(&first).unwrap();
    let scan = scan_segment(&bytes, false, RecoveryPolicy::Strict).unwrap();
    let record_offset = scan.records[3].offset;

    // A flip seen at open: recovery refuses, naming the file and the record's offset.
    let vfs = FaultVfs::new(OsVfs::shared());
    vfs.faults()
        .flip_on_read("log-00000000000000000000", record_offset + 20, 0x01);
    let err = Store::open_with_vfs(small_config(dir), Arc::new(vfs)).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, offset, .. } if *path == first && *offset == record_offset),
        "{err}"
    );

    // A flip that appears after open (the disk went bad under us): the read fails.
    let vfs = FaultVfs::new(OsVfs::shared());
    let faults = vfs.faults();
    let mut store = Store::open_with_vfs(small_config(dir), Arc::new(vfs)).unwrap();
    faults.flip_on_read("log-00000000000000000000", record_offset + 20, 0x01);
    let err = store
        .get_log_reader()
        .await
        .try_get_log_entries(0..10)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let msg = err.to_string();
    assert!(
        msg.contains("log-00000000000000000000.seg") && msg.contains(&record_offset.to_string()),
        "{msg}"
    );
    faults.clear_flips();
    let got = store
        .get_log_reader()
        .await
        .try_get_log_entries(0..10)
        .await
        .unwrap();
    assert_eq!(got, entries(1, 0, 10));
}

async fn failed_directory_fsync_at_rollover_poisons(mode: WriterMode) {
    let tmp = tempdir();
    let (mut store, faults) = open_faulty_in(tmp.path(), mode);
    append(&mut store, entries(1, 0, 5)).await.unwrap();
    faults.set_fail_syncs(true);
    // Enough entries to need a new segment: its creation fsyncs file and directory.
    assert!(append(&mut store, entries(1, 5, 40)).await.is_err());
    assert!(store.poisoned().is_some());
}
