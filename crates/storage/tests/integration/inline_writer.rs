//! Inline writer mode (deterministic simulation): every command completes inside the call,
//! on the caller's thread, and leaves exactly the bytes thread mode leaves.
//! (That it spawns no thread is checked in `tests/inline_writer_threads.rs`, its own
//! process, where no other test's writer threads can disturb the count.)

use std::path::Path;
use std::sync::Arc;
use std::thread::ThreadId;

use corral_storage::CrashMode;
use corral_storage::LogPositions;
use corral_storage::LogStoreConfig;
use corral_storage::MemVfs;
use corral_storage::Vfs;
use corral_storage::WriterMode;
use futures::FutureExt;
use openraft::storage::RaftLogStorage;
use openraft::RaftLogReader;
use openraft::Vote;
use parking_lot::Mutex;

use crate::common::*;

fn positions(written: u64, durable: u64) -> LogPositions {
    LogPositions {
        written_end_index: written,
        durable_end_index: durable,
    }
}

#[tokio::test(start_paused = true)]
async fn every_command_completes_within_one_poll_on_the_calling_thread() {
    let dir = Path::new("/data/log");
    let vfs = MemVfs::new();
    let mut store =
        Store::open_with_vfs(config_in(dir, WriterMode::Inline), Arc::new(vfs.clone())).unwrap();

    let acked: Arc<Mutex<Option<(ThreadId, bool)>>> = Arc::new(Mutex::new(None));
    let slot = acked.clone();
    store
        .append_entries(
            entries(1, 0, 30),
            Box::new(move |result| {
                *slot.lock() = Some((std::thread::current().id(), result.is_ok()));
            }),
        )
        .now_or_never()
        .expect("append completes in its first poll")
        .unwrap();
    assert_eq!(
        *acked.lock(),
        Some((std::thread::current().id(), true)),
        "the ack runs on the caller's thread before append returns"
    );
    assert_eq!(store.positions(), positions(30, 30));

    store
        .truncate_after(Some(log_id(1, 19)))
        .now_or_never()
        .expect("truncate completes in its first poll")
        .unwrap();
    assert_eq!(store.positions(), positions(20, 20));
    let vote = Vote::new(2, 1);
    store
        .save_vote(&vote)
        .now_or_never()
        .expect("vote save completes in its first poll")
        .unwrap();
    store
        .purge(log_id(1, 9))
        .now_or_never()
        .expect("purge completes in its first poll")
        .unwrap();
    // Last, so no barrier persists it on its behalf.
    store
        .save_committed(Some(log_id(1, 15)))
        .now_or_never()
        .expect("committed save completes in its first poll")
        .unwrap();

    // Everything is durable already, the lazily saved committed id included: a crash that
    // loses every unsynced byte keeps it all.
    let image = vfs.crash_image(CrashMode::LoseUnsynced);
    let mut recovered =
        Store::open_with_vfs(config_in(dir, WriterMode::Inline), Arc::new(image)).unwrap();
    let state = recovered.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 9)));
    assert_eq!(state.last_log_id, Some(log_id(1, 19)));
    assert_eq!(
        recovered.read_committed().await.unwrap(),
        Some(log_id(1, 15))
    );
    let mut reader = recovered.get_log_reader().await;
    assert_eq!(reader.read_vote().await.unwrap(), Some(vote));
    assert_eq!(
        reader.try_get_log_entries(..).await.unwrap(),
        entries(1, 10, 20)
    );
}

/// Preallocation in steps smaller than a segment, so the file lengths depend on the
/// writer's arithmetic and not only on the segment size.
fn layout_config(dir: &Path, writer: WriterMode) -> LogStoreConfig {
    let mut config = config_in(dir, writer);
    config.prealloc_bytes = 1024;
    config.segment_bytes_max = 8192;
    config
}

/// One fixed history; appends are queued without waiting, so thread mode groups them.
/// Returns the positions seen after each step (all acknowledgements awaited).
async fn drive(store: &mut Store) -> Vec<LogPositions> {
    let mut seen = Vec::new();
    let mut acks = Vec::new();
    for (lo, hi) in [(0, 3), (3, 4), (4, 11), (11, 12), (12, 25)] {
        acks.push(append_nowait(store, entries(1, lo, hi)).await.unwrap());
    }
    for ack in acks.drain(..) {
        ack.await.unwrap().unwrap();
    }
    seen.push(store.positions());
    store.save_vote(&Vote::new(1, 1)).await.unwrap();
    store.save_committed(Some(log_id(1, 10))).await.unwrap();
    store.truncate_after(Some(log_id(1, 17))).await.unwrap();
    seen.push(store.positions());
    for i in 18..40 {
        acks.push(append_nowait(store, entries(2, i, i + 1)).await.unwrap());
    }
    for ack in acks.drain(..) {
        ack.await.unwrap().unwrap();
    }
    seen.push(store.positions());
    store.purge(log_id(1, 12)).await.unwrap();
    // Overwrite without an explicit truncate (the append path truncates itself).
    append(store, entries(3, 35, 45)).await.unwrap();
    store.save_committed(Some(log_id(3, 40))).await.unwrap();
    seen.push(store.positions());
    seen
}

/// Every file of `dir` with its bytes, sorted by name.
fn files(vfs: &MemVfs, dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vfs.list(dir).unwrap();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = vfs.read_file(&dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

#[tokio::test]
async fn both_writer_modes_leave_the_same_bytes_and_positions() {
    let dir = Path::new("/data/log");
    let mut outcomes = Vec::new();
    for writer in [WriterMode::Thread, WriterMode::Inline] {
        let vfs = MemVfs::new();
        let mut store =
            Store::open_with_vfs(layout_config(dir, writer), Arc::new(vfs.clone())).unwrap();
        let seen = drive(&mut store).await;
        drop(store);
        let durable = vfs.crash_image(CrashMode::LoseUnsynced);
        outcomes.push((seen, files(&vfs, dir), files(&durable, dir)));
    }
    let (thread, inline) = (&outcomes[0], &outcomes[1]);
    assert_eq!(thread.0, inline.0, "positions differ");
    assert_eq!(
        thread.0.last(),
        Some(&positions(45, 45)),
        "the history ends at 45"
    );
    let names = |f: &Vec<(String, Vec<u8>)>| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&thread.1), names(&inline.1));
    assert!(
        thread.1.iter().filter(|(n, _)| n.ends_with(".seg")).count() >= 2,
        "the history must span several segments: {:?}",
        names(&thread.1)
    );
    for ((name, a), (_, b)) in thread.1.iter().zip(&inline.1) {
        assert!(a == b, "{name} differs between the writer modes");
    }
    assert!(thread.2 == inline.2, "the durable images differ");
}
