//! Crash simulation on `MemVfs`: run random operations, "lose power" at a random moment
//! (with unsynced data lost, kept, or torn), reopen, and check that recovery succeeds and
//! that every acknowledged entry, completed truncation, purge and vote survived. In both
//! writer modes; in inline mode every append must also be acknowledged before it returns.

use std::path::Path;
use std::sync::Arc;

use corral_storage::CrashMode;
use corral_storage::MemVfs;
use corral_storage::WriterMode;
use openraft::storage::RaftLogStorage;
use openraft::type_config::alias::VoteOf;
use openraft::RaftLogReader;
use openraft::Vote;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::common::*;

#[derive(Clone, Debug)]
enum Op {
    /// Append `n` entries without waiting for the acknowledgement.
    Append(u64),
    /// Wait for every acknowledgement.
    Sync,
    /// Truncate the last `k` entries (new term for later appends).
    Truncate(u64),
    /// Purge the first `k` remaining entries.
    Purge(u64),
    /// Save a new vote.
    Vote,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u64..8).prop_map(Op::Append),
        2 => Just(Op::Sync),
        1 => (1u64..10).prop_map(Op::Truncate),
        1 => (1u64..10).prop_map(Op::Purge),
        1 => Just(Op::Vote),
    ]
}

fn crash_mode() -> impl Strategy<Value = CrashMode> {
    prop_oneof![
        Just(CrashMode::LoseUnsynced),
        Just(CrashMode::KeepUnsynced),
        any::<u64>().prop_map(|seed| CrashMode::TornPrefix { seed }),
    ]
}

/// The log as the test believes it is.
#[derive(Clone, Debug, Default)]
struct Model {
    /// First index present.
    start: u64,
    entries: Vec<Entry>,
    purged: Option<u64>,
    vote: Option<VoteOf<TestConfig>>,
}

impl Model {
    fn end(&self) -> u64 {
        self.start + self.entries.len() as u64
    }
}

async fn run(ops: Vec<Op>, mode: CrashMode, writer: WriterMode) -> Result<(), TestCaseError> {
    let dir = Path::new("/data/log");
    let vfs = MemVfs::new();
    let mut store = Store::open_with_vfs(config_in(dir, writer), Arc::new(vfs.clone())).unwrap();
    let mut model = Model::default();
    // What must survive: the model as of the last point where everything was acknowledged.
    let mut durable = Model::default();
    let mut pending = Vec::new();
    let mut term = 1;

    for op in ops {
        match op {
            Op::Append(n) => {
                let batch = entries(term, model.end(), model.end() + n);
                model.entries.extend(batch.iter().cloned());
                let mut ack = append_nowait(&mut store, batch).await.unwrap();
                if writer == WriterMode::Inline {
                    // Acknowledged inside `append`: durable now, whatever comes next.
                    let result = ack.try_recv();
                    prop_assert!(
                        matches!(result, Ok(Ok(()))),
                        "inline append not acknowledged on return: {:?}",
                        result
                    );
                    durable = model.clone();
                } else {
                    pending.push(ack);
                }
            }
            Op::Sync | Op::Truncate(_) | Op::Purge(_) | Op::Vote => {
                for ack in pending.drain(..) {
                    ack.await.unwrap().unwrap();
                }
                match op {
                    Op::Truncate(k) => {
                        let keep = (model.entries.len() as u64).saturating_sub(k);
                        if keep > 0 {
                            let last = model.entries[keep as usize - 1].log_id;
                            store.truncate_after(Some(last)).await.unwrap();
                            model.entries.truncate(keep as usize);
                            term += 1;
                        }
                    }
                    Op::Purge(k) => {
                        let k = k.min(model.entries.len() as u64);
                        if k > 0 {
                            let last = model.entries[k as usize - 1].log_id;
                            store.purge(last).await.unwrap();
                            model.entries.drain(..k as usize);
                            model.start += k;
                            model.purged = Some(last.index);
                        }
                    }
                    Op::Vote => {
                        let vote = Vote::new(term, 1);
                        store.save_vote(&vote).await.unwrap();
                        model.vote = Some(vote);
                    }
                    _ => {}
                }
                durable = model.clone();
            }
        }
    }

    // Power loss now, with appends possibly in flight.
    let image = vfs.crash_image(mode);
    drop(store);

    let mut store = match Store::open_with_vfs(config_in(dir, writer), Arc::new(image)) {
        Ok(store) => store,
        Err(err) => {
            return Err(TestCaseError::fail(format!(
                "recovery failed after a crash: {err}"
            )))
        }
    };
    let state = store.get_log_state().await.unwrap();
    prop_assert_eq!(state.last_purged_log_id.map(|l| l.index), durable.purged);
    prop_assert_eq!(
        store.get_log_reader().await.read_vote().await.unwrap(),
        durable.vote
    );
    let got = store
        .get_log_reader()
        .await
        .try_get_log_entries(..)
        .await
        .unwrap();
    // Everything acknowledged is there ...
    prop_assert!(
        got.len() >= durable.entries.len(),
        "lost acknowledged entries: {} < {}",
        got.len(),
        durable.entries.len()
    );
    prop_assert!(
        got[..durable.entries.len()] == durable.entries[..],
        "acknowledged entries changed"
    );
    // ... and anything more is exactly what was appended after.
    prop_assert!(
        got.len() <= model.entries.len() && got[..] == model.entries[..got.len()],
        "unexpected entries"
    );
    // The recovered store keeps working.
    let next = state.last_log_id.map(|l| l.index + 1).unwrap_or(0);
    append(&mut store, entries(term + 1, next, next + 2))
        .await
        .unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn crash_at_a_random_point_loses_nothing_acknowledged(ops in vec(op(), 1..40), mode in crash_mode()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops, mode, WriterMode::Thread))?;
    }

    /// The simulation's setting: inline writer, paused clock, one thread.
    #[test]
    fn inline_writer_crash_at_a_random_point_loses_nothing_acknowledged(ops in vec(op(), 1..40), mode in crash_mode()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run(ops, mode, WriterMode::Inline))?;
    }
}

/// `save_committed` is persisted lazily, but within the interval even under constant load,
/// and a crash never leaves it past the durable log.
#[tokio::test]
async fn committed_is_persisted_lazily_under_load() {
    let dir = Path::new("/data/log");
    let vfs = MemVfs::new();
    let mut store = Store::open_with_vfs(small_config(dir), Arc::new(vfs.clone())).unwrap();
    append(&mut store, entries(1, 0, 10)).await.unwrap();
    store.save_committed(Some(log_id(1, 5))).await.unwrap();
    assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 5)));
    let started = std::time::Instant::now();
    let mut next = 10;
    while started.elapsed() < std::time::Duration::from_millis(150) {
        append(&mut store, entries(1, next, next + 1))
            .await
            .unwrap();
        next += 1;
    }
    let image = vfs.crash_image(CrashMode::LoseUnsynced);
    let mut recovered = Store::open_with_vfs(small_config(dir), Arc::new(image)).unwrap();
    assert_eq!(
        recovered.read_committed().await.unwrap(),
        Some(log_id(1, 5))
    );
}
