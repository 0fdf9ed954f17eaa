//! Damaged ZooKeeper directories, built file by file with `corral_zkdata`'s encoders: a log cut
//! short is used up to its last whole record and reported with its file and offset; a corrupt
//! record, a missing log and a damaged newest snapshot are handled as ZooKeeper would (or
//! stop the import, naming the file and offset).

use std::path::Path;

use bytes::Bytes;
use corral_proto::Acl;
use corral_zkdata::names::{log_name, snapshot_name};
use corral_zkdata::records::{CreateTxn, SetDataTxn, TxnHeader};
use corral_zkdata::txnlog::{append_record, file_header, JUTE_MAXBUFFER_DEFAULT};
use corral_zkdata::{snapshot, txn, ZkTree};

use super::error::MigrateError;
use super::replay::replay;
use super::source;

fn create(zxid: i64, path: &str) -> Vec<u8> {
    let header = TxnHeader {
        client_id: 0,
        cxid: 0,
        zxid,
        time: 1_000 + zxid,
        txn_type: 1,
    };
    let body = CreateTxn {
        path: path.into(),
        data: Some(Bytes::from_static(b"v")),
        acl: vec![Acl::new(31, "world", "anyone")],
        ephemeral: false,
        parent_cversion: -1,
    };
    txn::encode(&header, &body, None)
}

fn set(zxid: i64, path: &str, version: i32) -> Vec<u8> {
    let header = TxnHeader {
        client_id: 0,
        cxid: 0,
        zxid,
        time: 2_000 + zxid,
        txn_type: 5,
    };
    let body = SetDataTxn {
        path: path.into(),
        data: Some(Bytes::from_static(b"w")),
        version,
    };
    txn::encode(&header, &body, None)
}

/// Writes `log.<first>` holding `records`; returns each record's offset.
fn write_log(dir: &Path, first: i64, records: &[Vec<u8>]) -> Vec<usize> {
    let mut bytes = file_header();
    let mut offsets = Vec::new();
    for r in records {
        offsets.push(bytes.len());
        append_record(&mut bytes, r);
    }
    bytes.resize(bytes.len() + 512, 0);
    std::fs::write(dir.join(log_name(first)), bytes).unwrap();
    offsets
}

fn zk_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let v2 = root.path().join("version-2");
    std::fs::create_dir(&v2).unwrap();
    (root, v2)
}

fn run(root: &Path) -> Result<super::replay::Replayed, MigrateError> {
    let files = source::list(root, root)?;
    replay(&files, false, JUTE_MAXBUFFER_DEFAULT)
}

#[test]
fn a_log_cut_short_is_used_up_to_its_last_whole_record() {
    let (root, v2) = zk_dir();
    let records = [create(1, "/a"), create(2, "/b"), create(3, "/c")];
    let offsets = write_log(&v2, 1, &records);
    let path = v2.join(log_name(1));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..offsets[2] + 20]).unwrap();
    let r = run(root.path()).unwrap();
    assert_eq!(r.txns_applied, 2);
    assert!(r.tree.node("/b").is_some() && r.tree.node("/c").is_none());
    assert_eq!(r.truncated.len(), 1);
    let note = &r.truncated[0];
    assert!(
        note.contains("log.1") && note.contains(&format!("offset {}", offsets[2])),
        "{note}"
    );
}

#[test]
fn a_corrupt_record_stops_the_import_naming_file_and_offset() {
    let (root, v2) = zk_dir();
    let offsets = write_log(&v2, 1, &[create(1, "/a"), create(2, "/b"), create(3, "/c")]);
    let path = v2.join(log_name(1));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offsets[1] + 30] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    match run(root.path()) {
        Err(MigrateError::CorruptFile {
            path: p, offset, ..
        }) => {
            assert_eq!(p, path);
            assert_eq!(offset, offsets[1] as u64);
        }
        other => panic!("expected corruption, got {:?}", other.err()),
    }
}

#[test]
fn a_missing_log_is_a_gap() {
    let (root, v2) = zk_dir();
    write_log(&v2, 1, &[create(1, "/a"), create(2, "/b")]);
    write_log(&v2, 5, &[create(5, "/e")]);
    let err = run(root.path()).err().expect("a gap");
    assert!(matches!(err, MigrateError::LogOrder { .. }), "{err}");
    assert!(err.to_string().contains("log.5"), "{err}");
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_previous_one() {
    let (root, v2) = zk_dir();
    let mut tree = ZkTree::new();
    tree.apply(&txn::decode(&create(1, "/a")).unwrap()).unwrap();
    std::fs::write(v2.join(snapshot_name(1)), snapshot::write(&tree, 1)).unwrap();
    tree.apply(&txn::decode(&set(2, "/a", 1)).unwrap()).unwrap();
    let mut newer = snapshot::write(&tree, 2);
    newer[40] ^= 0xff;
    std::fs::write(v2.join(snapshot_name(2)), newer).unwrap();
    write_log(&v2, 1, &[create(1, "/a"), set(2, "/a", 1), create(3, "/b")]);
    let r = run(root.path()).unwrap();
    assert_eq!(r.snapshot.as_ref().map(|s| s.1), Some(1));
    assert_eq!(r.skipped_snapshots.len(), 1);
    assert!(r.skipped_snapshots[0].contains("snapshot.2"));
    assert_eq!(r.txns_applied, 2);
    assert_eq!(r.tree.node("/a").unwrap().stat.version, 1);
    assert!(r.tree.node("/b").is_some());
    assert_eq!(r.digests.mismatches, vec![]);
}

#[test]
fn not_zookeeper_data() {
    let root = tempfile::tempdir().unwrap();
    assert!(matches!(
        run(root.path()),
        Err(MigrateError::NotZooKeeperData { .. })
    ));
}
