//! Group commit: many queued appends share fsyncs; acknowledgement waits for the fsync.
//! (`force_sync` off is checked in both writer modes: the rollover syncs are the same.)

use std::sync::Arc;
use std::time::Duration;

use corral_storage::FaultVfs;
use corral_storage::OsVfs;
use corral_storage::WriterMode;
use openraft::storage::RaftLogStorage;
use openraft::RaftLogReader;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_queued_appends_share_few_fsyncs() {
    let tmp = tempdir();
    let (mut store, faults) = open_faulty(tmp.path());
    // Slow fsyncs let appends pile up behind the one in progress.
    faults.set_sync_delay_ms(2);
    let appends = 300u64;
    let syncs_before = faults.file_sync_count();
    let mut acks = Vec::new();
    for i in 0..appends {
        acks.push(append_nowait(&mut store, vec![blank(1, i)]).await.unwrap());
    }
    for ack in acks {
        ack.await.unwrap().unwrap();
    }
    let syncs = faults.file_sync_count() - syncs_before;
    eprintln!("group commit: {appends} appends, {syncs} file fsyncs");
    assert!(syncs < appends / 4, "{syncs} fsyncs for {appends} appends");
    assert_eq!(store.positions().durable_end_index, appends);
    assert_eq!(store.positions().written_end_index, appends);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgement_waits_for_the_fsync() {
    let tmp = tempdir();
    let (mut store, faults) = open_faulty(tmp.path());
    append(&mut store, vec![blank(1, 0)]).await.unwrap();
    faults.set_sync_delay_ms(300);
    let ack = append_nowait(&mut store, vec![blank(1, 1)]).await.unwrap();
    // Readable at once (openraft requires it), but not acknowledged before the fsync.
    let got = store
        .get_log_reader()
        .await
        .try_get_log_entries(1..2)
        .await
        .unwrap();
    assert_eq!(got, vec![blank(1, 1)]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.positions().durable_end_index, 1);
    let mut ack = ack;
    assert!(
        ack.try_recv().is_err(),
        "acknowledged before the fsync completed"
    );
    ack.await.unwrap().unwrap();
    assert_eq!(store.positions().durable_end_index, 2);
}

in_both_writer_modes!(force_sync_off_acknowledges_without_fsync);

async fn force_sync_off_acknowledges_without_fsync(mode: WriterMode) {
    let tmp = tempdir();
    let vfs = FaultVfs::new(OsVfs::shared());
    let faults = vfs.faults();
    let mut config = config_in(tmp.path(), mode);
    config.force_sync = false;
    let mut store = Store::open_with_vfs(config, Arc::new(vfs)).unwrap();
    let before = faults.file_sync_count();
    for i in 0..50 {
        append(&mut store, entries(1, i, i + 1)).await.unwrap();
    }
    // Only rollover syncs files: the new segment's header before its rename, and the
    // previous segment before the new one exists (recovery needs it complete).
    let segments = segment_files(tmp.path()).len() as u64;
    assert!(segments > 2);
    assert_eq!(faults.file_sync_count() - before, 2 * segments - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_consistent_prefixes_while_appending() {
    let tmp = tempdir();
    let mut store = open(tmp.path());
    let mut reader = store.get_log_reader().await;
    let reading = tokio::spawn(async move {
        let mut last_len = 0usize;
        for _ in 0..200 {
            let got = reader.try_get_log_entries(..).await.unwrap();
            assert!(got.len() >= last_len);
            assert_eq!(got, entries(1, 0, got.len() as u64));
            last_len = got.len();
            tokio::task::yield_now().await;
        }
    });
    for i in 0..80 {
        append(&mut store, entries(1, i, i + 1)).await.unwrap();
    }
    reading.await.unwrap();
    assert_eq!(
        store.get_log_state().await.unwrap().last_log_id,
        Some(log_id(1, 79))
    );
}
