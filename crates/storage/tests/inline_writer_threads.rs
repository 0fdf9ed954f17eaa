//! Inline writer mode spawns no thread. Its own test binary (one test), so the process's
//! thread count is not disturbed by other tests' writer threads.

use std::path::Path;
use std::sync::Arc;

use corral_storage::LogStore;
use corral_storage::LogStoreConfig;
use corral_storage::MemVfs;
use corral_storage::WriterMode;
use openraft::entry::RaftEntry;
use openraft::storage::RaftLogStorage;
use openraft::Vote;

openraft::declare_raft_types!(
    /// Defaults: `D = String`, `R = String`, `NodeId = u64`, tokio runtime.
    pub TestConfig
);

type Entry = <TestConfig as openraft::RaftTypeConfig>::Entry;

/// The names of this process's threads (Linux: one `/proc/self/task` entry per thread).
fn threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .map(|task| {
            let path = task.expect("task entry").path().join("comm");
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

fn config(dir: &Path, writer: WriterMode) -> LogStoreConfig {
    let mut config = LogStoreConfig::new(dir);
    config.prealloc_bytes = 4096;
    config.segment_bytes_max = 4096;
    config.writer = writer;
    config
}

fn batch(lo: u64, hi: u64) -> Vec<Entry> {
    (lo..hi)
        .map(|i| {
            Entry::new_normal(
                openraft::testing::log_id::<TestConfig>(1, 0, i),
                "x".repeat(300),
            )
        })
        .collect()
}

async fn exercise(store: &mut LogStore<TestConfig>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    store
        .append_entries(
            batch(0, 40),
            Box::new(move |r| {
                tx.send(r).ok();
            }),
        )
        .await
        .unwrap();
    rx.await.unwrap().unwrap();
    store.save_vote(&Vote::new(1, 1)).await.unwrap();
    store
        .save_committed(Some(openraft::testing::log_id::<TestConfig>(1, 0, 30)))
        .await
        .unwrap();
    store
        .truncate_after(Some(openraft::testing::log_id::<TestConfig>(1, 0, 35)))
        .await
        .unwrap();
    store
        .purge(openraft::testing::log_id::<TestConfig>(1, 0, 20))
        .await
        .unwrap();
}

#[test]
fn inline_mode_spawns_no_thread_and_thread_mode_one() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let before = threads();
    let dir = Path::new("/data/log");

    runtime.block_on(async {
        let vfs = Arc::new(MemVfs::new());
        let mut store =
            LogStore::<TestConfig>::open_with_vfs(config(dir, WriterMode::Inline), vfs).unwrap();
        exercise(&mut store).await;
        assert_eq!(threads(), before, "inline mode started a thread");
    });

    // The control: the same in thread mode shows up in the count, so the check can fail.
    runtime.block_on(async {
        let vfs = Arc::new(MemVfs::new());
        let mut store =
            LogStore::<TestConfig>::open_with_vfs(config(dir, WriterMode::Thread), vfs).unwrap();
        exercise(&mut store).await;
        let during = threads();
        assert_eq!(during.len(), before.len() + 1, "{during:?}");
        // Linux keeps 15 bytes of a thread name.
        assert!(
            during.iter().any(|name| name == "corral-log-writ"),
            "{during:?}"
        );
        drop(store);
        assert_eq!(threads(), before, "the writer thread is joined on drop");
    });
}
