//! Snapshot files: round trip, verification with file + offset, fallback, purge by count.

use std::fs;
use std::fs::OpenOptions;
use std::io::Read;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use corral_storage::snapshot::SNAPSHOT_RETAIN_COUNT_MIN;
use corral_storage::Error;
use corral_storage::FaultVfs;
use corral_storage::OsVfs;
use corral_storage::SnapshotFileMeta;
use corral_storage::SnapshotInfo;
use corral_storage::SnapshotStore;

use crate::common::tempdir;

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn meta(index: u64) -> SnapshotFileMeta {
    SnapshotFileMeta {
        last_log_index: index,
        last_log_term: 7,
        opaque: format!("membership-at-{index}").into_bytes(),
    }
}

fn write(store: &SnapshotStore, index: u64, data: &[u8]) -> SnapshotInfo {
    let mut w = store.begin(meta(index)).unwrap();
    // Odd-sized writes exercise frame boundaries.
    for chunk in data.chunks(7777) {
        w.write_all(chunk).unwrap();
    }
    w.finish().unwrap()
}

fn flip(path: &Path, offset: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0x04], offset).unwrap();
}

#[test]
fn write_then_read_back() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    let data = content(300_000, 1);
    let info = write(&store, 42, &data);
    assert_eq!(info.last_log_index, 42);
    assert!(info.path.ends_with("snapshot-00000000000000000042.snap"));
    assert_eq!(store.list().unwrap(), vec![info.clone()]);

    let mut reader = store.newest_valid().unwrap().expect("a snapshot");
    assert_eq!(reader.meta(), &meta(42));
    assert_eq!(reader.content_bytes(), data.len() as u64);
    let mut back = Vec::new();
    reader.read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(store.verify(&info.path).unwrap(), meta(42));
}

#[test]
fn empty_content_is_fine() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    let info = write(&store, 0, &[]);
    let mut reader = store.open_snapshot(&info.path).unwrap();
    let mut back = Vec::new();
    reader.read_to_end(&mut back).unwrap();
    assert!(back.is_empty());
}

#[test]
fn flipped_content_bit_is_reported_with_file_and_frame_offset() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    let data = content(200_000, 2);
    let info = write(&store, 10, &data);
    let header_len = 36 + meta(10).opaque.len() as u64 + 4;
    let second_frame = header_len + 8 + 64 * 1024;
    flip(&info.path, second_frame + 8 + 1000);

    let err = store.verify(&info.path).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { path, offset, .. } if *path == info.path && *offset == second_frame),
        "{err}"
    );
    // Streaming: the first frame is delivered, then the read fails with InvalidData.
    let mut reader = store.open_snapshot(&info.path).unwrap();
    let mut back = Vec::new();
    let io_err = reader.read_to_end(&mut back).unwrap_err();
    assert_eq!(io_err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        io_err
            .to_string()
            .contains("snapshot-00000000000000000010.snap"),
        "{io_err}"
    );
    assert_eq!(back, data[..64 * 1024]);
}

#[test]
fn flipped_header_and_trailer_bits_are_caught() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    let info = write(&store, 5, &content(1000, 3));
    let len = fs::metadata(&info.path).unwrap().len();
    for offset in [0, 9, 17, 30, 40, len - 20, len - 1] {
        flip(&info.path, offset);
        assert!(
            store.verify(&info.path).is_err(),
            "flip at {offset} undetected"
        );
        flip(&info.path, offset);
    }
    assert!(store.verify(&info.path).is_ok());
}

#[test]
fn bit_flip_on_read_through_the_vfs() {
    let tmp = tempdir();
    let vfs = FaultVfs::new(OsVfs::shared());
    let faults = vfs.faults();
    let store = SnapshotStore::open_with_vfs(tmp.path(), Arc::new(vfs)).unwrap();
    let info = write(&store, 3, &content(5000, 4));
    faults.flip_on_read("snapshot-", 100, 0x80);
    assert!(matches!(
        store.verify(&info.path),
        Err(Error::Corrupt { .. })
    ));
    faults.clear_flips();
    assert!(store.verify(&info.path).is_ok());
}

#[test]
fn truncated_file_is_caught() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    let info = write(&store, 8, &content(150_000, 5));
    let len = fs::metadata(&info.path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&info.path)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    assert!(store.verify(&info.path).is_err());
}

#[test]
fn newest_valid_falls_back_to_an_older_snapshot() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    write(&store, 10, &content(1000, 1));
    let newest = write(&store, 20, &content(1000, 2));
    flip(&newest.path, 60);
    let reader = store.newest_valid().unwrap().unwrap();
    assert_eq!(reader.meta().last_log_index, 10);
}

#[test]
fn purge_keeps_at_least_three_and_reports_the_log_purge_point() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    for index in [10, 20, 30, 40, 50] {
        write(&store, index, &content(100, index as u8));
    }
    let purge = store.purge(1).unwrap();
    assert_eq!(SNAPSHOT_RETAIN_COUNT_MIN, 3);
    assert_eq!(purge.removed.len(), 2);
    assert_eq!(purge.log_purge_upto_index, Some(30));
    let left: Vec<u64> = store
        .list()
        .unwrap()
        .iter()
        .map(|i| i.last_log_index)
        .collect();
    assert_eq!(left, vec![30, 40, 50]);
    let purge = store.purge(5).unwrap();
    assert!(purge.removed.is_empty());
    assert_eq!(purge.log_purge_upto_index, Some(30));
}

#[test]
fn unfinished_snapshots_never_become_visible() {
    let tmp = tempdir();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    {
        let mut w = store.begin(meta(9)).unwrap();
        w.write_all(&content(1000, 1)).unwrap();
        // dropped without finish()
    }
    assert!(store.list().unwrap().is_empty());
    assert!(store.newest_valid().unwrap().is_none());
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .collect();
    assert!(leftovers.is_empty());

    // A temp file left by a crash is removed at open.
    fs::write(
        tmp.path().join("snapshot-00000000000000000009-1-0.tmp"),
        b"partial",
    )
    .unwrap();
    let store = SnapshotStore::open(tmp.path()).unwrap();
    assert!(!tmp
        .path()
        .join("snapshot-00000000000000000009-1-0.tmp")
        .exists());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn fsync_failure_in_finish_leaves_nothing_visible() {
    let tmp = tempdir();
    let vfs = FaultVfs::new(OsVfs::shared());
    let faults = vfs.faults();
    let store = SnapshotStore::open_with_vfs(tmp.path(), Arc::new(vfs)).unwrap();
    let mut w = store.begin(meta(4)).unwrap();
    w.write_all(&content(1000, 1)).unwrap();
    faults.set_fail_syncs(true);
    assert!(w.finish().is_err());
    faults.set_fail_syncs(false);
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn unknown_version_is_refused() {
    let tmp = tempdir();
    drop(SnapshotStore::open(tmp.path()).unwrap());
    fs::write(tmp.path().join("corral-version"), "banana\n").unwrap();
    let err = SnapshotStore::open(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::UnknownVersion { .. }), "{err}");
}

/// A file's raw bytes stream through the store's file system a buffer at a time (the way an
/// ensemble sends a snapshot from an in-memory file system), and another store receives them
/// into a snapshot that verifies.
#[test]
fn raw_bytes_stream_through_the_vfs_and_are_received_whole() {
    let vfs = corral_storage::MemVfs::new();
    let store = SnapshotStore::open_with_vfs("/mem/a", Arc::new(vfs.clone())).unwrap();
    assert!(!store.on_os_file_system());
    let data = content(100_000, 3);
    let info = write(&store, 9, &data);
    let mut bytes = store.open_bytes(&info.path).unwrap();
    let on_disk = vfs.read_file(&info.path).unwrap();
    assert_eq!(bytes.len_bytes(), on_disk.len() as u64);
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = bytes.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= buf.len());
        read.extend_from_slice(&buf[..n]);
    }
    assert_eq!(read, on_disk);

    let other =
        SnapshotStore::open_with_vfs("/mem/b", Arc::new(corral_storage::MemVfs::new())).unwrap();
    let mut incoming = other.receive(9).unwrap();
    for chunk in read.chunks(1000) {
        incoming.write(chunk).unwrap();
    }
    let received = incoming.finish().unwrap();
    let mut reader = other.open_snapshot(&received.path).unwrap();
    let mut back = Vec::new();
    reader.read_to_end(&mut back).unwrap();
    assert_eq!(back, data);

    let tmp = tempdir();
    assert!(SnapshotStore::open(tmp.path()).unwrap().on_os_file_system());
}
