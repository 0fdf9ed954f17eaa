//! Property tests of every decoder: arbitrary bytes and mutated valid files must give
//! `Ok` or a typed error, never a panic, and never wrong data.

use std::fs;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use corral_storage::record::decode_record;
use corral_storage::record::RECORD_BYTES_MAX;
use corral_storage::segment::encode_header;
use corral_storage::segment::scan_segment;
use corral_storage::state_file::decode_state_file;
use corral_storage::Error;
use corral_storage::RecoveryPolicy;
use corral_storage::SnapshotFileMeta;
use corral_storage::SnapshotStore;
use openraft::storage::RaftLogStorage;
use openraft::RaftLogReader;
use openraft::Vote;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::common::*;

const LOG_ENTRIES: u64 = 30;

/// A damaged copy of a file.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { at: usize },
    Overwrite { at: usize, bytes: Vec<u8> },
    Zero { at: usize, len: usize },
    Append { bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
        (any::<usize>(), 1usize..600).prop_map(|(at, len)| Mutation::Zero { at, len }),
        vec(any::<u8>(), 1..64).prop_map(|bytes| Mutation::Append { bytes }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match m {
        Mutation::Flip { at, mask } => {
            if let Some(b) = bytes.get_mut(at % len) {
                *b ^= mask;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Overwrite { at, bytes: with } => {
            for (i, b) in with.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at % len + i) {
                    *slot = *b;
                }
            }
        }
        Mutation::Zero { at, len: n } => {
            for i in 0..*n {
                if let Some(slot) = bytes.get_mut(at % len + i) {
                    *slot = 0;
                }
            }
        }
        Mutation::Append { bytes: more } => bytes.extend_from_slice(more),
    }
}

/// Files of a small valid log directory (several segments and a state file), made once.
fn log_template() -> &'static Vec<(String, Vec<u8>)> {
    static TEMPLATE: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let tmp = tempdir();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut store = open(tmp.path());
            append(&mut store, entries(1, 0, LOG_ENTRIES))
                .await
                .unwrap();
            store.save_vote(&Vote::new(1, 0)).await.unwrap();
        });
        let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        assert!(
            files.len() >= 5,
            "expected version, state and several segments: {files:?}"
        );
        files
    })
}

fn snapshot_template() -> &'static Vec<u8> {
    static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let tmp = tempdir();
        let store = SnapshotStore::open(tmp.path()).unwrap();
        let mut w = store.begin(snapshot_meta()).unwrap();
        w.write_all(&snapshot_content()).unwrap();
        let info = w.finish().unwrap();
        fs::read(info.path).unwrap()
    })
}

fn snapshot_meta() -> SnapshotFileMeta {
    SnapshotFileMeta {
        last_log_index: 77,
        last_log_term: 3,
        opaque: b"opaque meta".to_vec(),
    }
}

fn snapshot_content() -> Vec<u8> {
    (0..150_000u32).map(|i| (i % 251) as u8).collect()
}

/// Open the damaged log; if it opens, everything it returns must be the original data.
fn check_log_dir(dir: &Path) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut store = match Store::open(small_config(dir)) {
            Ok(store) => store,
            Err(err) => {
                // A typed error that says something.
                prop_assert!(!err.to_string().is_empty());
                return Ok(());
            }
        };
        let mut reader = store.get_log_reader().await;
        let got = match reader.try_get_log_entries(..).await {
            Ok(got) => got,
            Err(err) => {
                prop_assert!(
                    err.get_ref().is_some_and(|e| e.is::<Error>()),
                    "untyped error {err}"
                );
                return Ok(());
            }
        };
        let want = entries(1, 0, LOG_ENTRIES);
        let state = store.get_log_state().await.unwrap();
        if let (Some(first), Some(last)) = (got.first(), state.last_log_id) {
            let first = openraft::entry::RaftEntry::index(first) as usize;
            prop_assert!(
                got[..] == want[first..first + got.len()],
                "wrong entries returned"
            );
            prop_assert_eq!(last.index + 1, (first + got.len()) as u64);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn record_decoder_never_panics(bytes in vec(any::<u8>(), 0..300)) {
        let _ = decode_record(&bytes, RECORD_BYTES_MAX);
    }

    #[test]
    fn segment_scan_never_panics(bytes in vec(any::<u8>(), 0..1500), is_last in any::<bool>()) {
        let _ = scan_segment(&bytes, is_last, RecoveryPolicy::Strict);
        let mut with_header = encode_header(5).to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = scan_segment(&with_header, is_last, RecoveryPolicy::Strict);
        let _ = scan_segment(&with_header, is_last, RecoveryPolicy::TruncateAtFirstBadRecord);
    }

    #[test]
    fn state_file_decoder_never_panics(bytes in vec(any::<u8>(), 0..100)) {
        let _ = decode_state_file(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_log_directories_open_or_fail_typed(
        file_pick in any::<usize>(),
        mutations in vec(mutation(), 1..4),
    ) {
        let template = log_template();
        let tmp = tempdir();
        let victim = file_pick % template.len();
        for (i, (name, bytes)) in template.iter().enumerate() {
            let mut bytes = bytes.clone();
            if i == victim {
                for m in &mutations {
                    apply(&mut bytes, m);
                }
            }
            fs::write(tmp.path().join(name), bytes).unwrap();
        }
        check_log_dir(tmp.path())?;
    }

    #[test]
    fn mutated_snapshots_verify_or_fail_typed(mutations in vec(mutation(), 1..4)) {
        let mut bytes = snapshot_template().clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let tmp = tempdir();
        let store = SnapshotStore::open(tmp.path()).unwrap();
        let path = tmp.path().join("snapshot-00000000000000000077.snap");
        fs::write(&path, &bytes).unwrap();
        match store.open_snapshot(&path) {
            Err(err) => prop_assert!(matches!(err, Error::Corrupt { .. }), "{err}"),
            Ok(mut reader) => {
                let mut content = Vec::new();
                match reader.read_to_end(&mut content) {
                    Ok(_) => {
                        prop_assert_eq!(reader.meta(), &snapshot_meta());
                        prop_assert!(content == snapshot_content(), "wrong content accepted");
                    }
                    Err(err) => prop_assert!(err.get_ref().is_some_and(|e| e.is::<Error>()), "{err}"),
                }
            }
        }
    }
}
