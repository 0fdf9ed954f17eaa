//! Shared helpers: a type config, entry builders, store openers, and a tiny state machine
//! (backed by `SnapshotStore`) for openraft's conformance suite.

use std::io;
use std::io::Cursor;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use corral_storage::FaultVfs;
use corral_storage::Faults;
use corral_storage::LogStore;
use corral_storage::LogStoreConfig;
use corral_storage::OsVfs;
use corral_storage::SnapshotFileMeta;
use corral_storage::SnapshotStore;
use corral_storage::WriterMode;
use futures::Stream;
use futures::StreamExt;
use openraft::entry::RaftEntry;
use openraft::storage::EntryResponder;
use openraft::storage::RaftStateMachine;
use openraft::type_config::alias::LogIdOf;
use openraft::type_config::alias::SnapshotMetaOf;
use openraft::type_config::alias::SnapshotOf;
use openraft::type_config::alias::StoredMembershipOf;
use openraft::type_config::TypeConfigExt;
use openraft::EntryPayload;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use openraft::RaftTypeConfig;
use openraft::StorageError;
use tempfile::TempDir;

openraft::declare_raft_types!(
    /// Defaults: `D = String`, `R = String`, `NodeId = u64`, tokio runtime.
    pub TestConfig
);

pub type Entry = <TestConfig as RaftTypeConfig>::Entry;
pub type Store = LogStore<TestConfig>;

pub fn log_id(term: u64, index: u64) -> LogIdOf<TestConfig> {
    openraft::testing::log_id::<TestConfig>(term, 0, index)
}

pub fn blank(term: u64, index: u64) -> Entry {
    Entry::new_blank(log_id(term, index))
}

pub fn normal(term: u64, index: u64, data: &str) -> Entry {
    Entry::new_normal(log_id(term, index), data.to_string())
}

/// Entries `lo..hi` with payloads big enough (~330 bytes: a dozen per 4 KiB segment) to
/// spread over small segments.
pub fn entries(term: u64, lo: u64, hi: u64) -> Vec<Entry> {
    (lo..hi)
        .map(|i| normal(term, i, &format!("entry-{i}-{}", "x".repeat(300))))
        .collect()
}

/// Small segments and a tiny cache, so tests cross segment boundaries and read from disk.
pub fn small_config(dir: &Path) -> LogStoreConfig {
    let mut config = LogStoreConfig::new(dir);
    config.prealloc_bytes = 4096;
    config.segment_bytes_max = 4096;
    config.cache_bytes_max = 1024;
    config.committed_persist_interval_ms = 20;
    config
}

/// `small_config` with the given writer mode.
pub fn config_in(dir: &Path, writer: WriterMode) -> LogStoreConfig {
    let mut config = small_config(dir);
    config.writer = writer;
    config
}

pub fn open(dir: &Path) -> Store {
    open_in(dir, WriterMode::Thread)
}

pub fn open_in(dir: &Path, writer: WriterMode) -> Store {
    Store::open(config_in(dir, writer)).expect("open log store")
}

pub fn open_faulty(dir: &Path) -> (Store, Arc<Faults>) {
    open_faulty_in(dir, WriterMode::Thread)
}

pub fn open_faulty_in(dir: &Path, writer: WriterMode) -> (Store, Arc<Faults>) {
    let vfs = FaultVfs::new(OsVfs::shared());
    let faults = vfs.faults();
    let store =
        Store::open_with_vfs(config_in(dir, writer), Arc::new(vfs)).expect("open log store");
    (store, faults)
}

/// For each `async fn name(mode: WriterMode)` listed, two tests: `name::thread` and
/// `name::inline`, so a behaviour is checked in both writer modes from one body.
macro_rules! in_both_writer_modes {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn thread() {
                    super::$name(corral_storage::WriterMode::Thread).await
                }
                #[tokio::test]
                async fn inline() {
                    super::$name(corral_storage::WriterMode::Inline).await
                }
            }
        )*
    };
}
pub(crate) use in_both_writer_modes;

/// Append and wait for the acknowledgement (the `IOFlushed` equivalent).
pub async fn append(store: &mut Store, batch: Vec<Entry>) -> io::Result<()> {
    let rx = append_nowait(store, batch).await?;
    rx.await.map_err(|_| io::Error::other("ack dropped"))?
}

/// Append; return the acknowledgement receiver without waiting for it.
pub async fn append_nowait(
    store: &mut Store,
    batch: Vec<Entry>,
) -> io::Result<tokio::sync::oneshot::Receiver<io::Result<()>>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    store
        .append_entries(
            batch,
            Box::new(move |r| {
                tx.send(r).ok();
            }),
        )
        .await?;
    Ok(rx)
}

/// Segment files in `dir`, in index order.
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    files
}

/// A temporary directory, on tmpfs when available so fsync-heavy tests stay fast. Set
/// `CORRAL_STORAGE_TEST_DISK=1` to run on the default (real disk) temp directory instead.
pub fn tempdir() -> TempDir {
    let shm = Path::new("/dev/shm");
    if std::env::var_os("CORRAL_STORAGE_TEST_DISK").is_none() && shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("tempdir")
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}

// ---- a tiny state machine for openraft's suite ----

/// Applies nothing but bookkeeping; snapshots go through `SnapshotStore`.
pub struct TestStateMachine {
    applied: Option<LogIdOf<TestConfig>>,
    membership: StoredMembershipOf<TestConfig>,
    /// Normal entries applied, in order: the "data" of this state machine.
    data: Vec<String>,
    snapshots: Arc<SnapshotStore>,
}

impl TestStateMachine {
    pub fn new(dir: &Path) -> Self {
        TestStateMachine {
            applied: None,
            membership: StoredMembershipOf::<TestConfig>::default(),
            data: Vec::new(),
            snapshots: Arc::new(SnapshotStore::open(dir).expect("snapshot store")),
        }
    }
}

fn write_snapshot(
    store: &SnapshotStore,
    meta: &SnapshotMetaOf<TestConfig>,
    content: &[u8],
) -> io::Result<()> {
    let opaque = postcard::to_allocvec(meta).map_err(io::Error::other)?;
    let index = meta.last_log_id.as_ref().map(|l| l.index()).unwrap_or(0);
    let mut writer = store.begin(SnapshotFileMeta {
        last_log_index: index,
        last_log_term: 0,
        opaque,
    })?;
    writer.write_all(content)?;
    writer.finish()?;
    Ok(())
}

pub struct TestSnapshotBuilder {
    meta: SnapshotMetaOf<TestConfig>,
    content: Vec<u8>,
    snapshots: Arc<SnapshotStore>,
}

impl RaftSnapshotBuilder<TestConfig> for TestSnapshotBuilder {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(&mut self) -> io::Result<SnapshotOf<TestConfig, Cursor<Vec<u8>>>> {
        write_snapshot(&self.snapshots, &self.meta, &self.content)?;
        Ok(SnapshotOf::<TestConfig, _> {
            meta: self.meta.clone(),
            snapshot: Cursor::new(self.content.clone()),
        })
    }
}

impl RaftStateMachine<TestConfig> for TestStateMachine {
    type SnapshotData = Cursor<Vec<u8>>;
    type SnapshotBuilder = TestSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> io::Result<(Option<LogIdOf<TestConfig>>, StoredMembershipOf<TestConfig>)> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = Result<EntryResponder<TestConfig>, io::Error>> + Unpin + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            self.applied = Some(entry.log_id());
            match &entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(data) => self.data.push(data.clone()),
                EntryPayload::Membership(m) => {
                    self.membership =
                        StoredMembershipOf::<TestConfig>::new(Some(entry.log_id()), m.clone());
                }
            }
            if let Some(responder) = responder {
                responder.send(String::new());
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> TestSnapshotBuilder {
        TestSnapshotBuilder {
            meta: SnapshotMetaOf::<TestConfig> {
                last_log_id: self.applied,
                last_membership: self.membership.clone(),
            },
            content: postcard::to_allocvec(&self.data).unwrap_or_default(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<TestConfig>,
        snapshot: Cursor<Vec<u8>>,
    ) -> io::Result<()> {
        let content = snapshot.into_inner();
        write_snapshot(&self.snapshots, meta, &content)?;
        self.data = postcard::from_bytes(&content).map_err(io::Error::other)?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> io::Result<Option<SnapshotOf<TestConfig, Cursor<Vec<u8>>>>> {
        let Some(mut reader) = self.snapshots.newest_valid()? else {
            return Ok(None);
        };
        let meta: SnapshotMetaOf<TestConfig> =
            postcard::from_bytes(&reader.meta().opaque).map_err(io::Error::other)?;
        let mut content = Vec::new();
        reader.read_to_end(&mut content)?;
        Ok(Some(SnapshotOf::<TestConfig, _> {
            meta,
            snapshot: Cursor::new(content),
        }))
    }
}

/// Builds a store + state machine in a fresh temp dir for each suite case.
pub struct Builder {
    pub tiny: bool,
    pub writer: WriterMode,
}

impl openraft::testing::log::StoreBuilder<TestConfig, Store, TestStateMachine, TempDir>
    for Builder
{
    async fn build(&self) -> Result<(TempDir, Store, TestStateMachine), StorageError<TestConfig>> {
        let dir = tempdir();
        let mut config = config_in(&dir.path().join("log"), self.writer);
        if self.tiny {
            // Every read beyond the unwritten tail goes to disk.
            config.cache_bytes_max = 0;
        } else {
            config.segment_bytes_max = 1 << 20;
            config.cache_bytes_max = 1 << 20;
        }
        let store =
            Store::open(config).map_err(|e| StorageError::read(TestConfig::err_from_error(&e)))?;
        let sm = TestStateMachine::new(&dir.path().join("snap"));
        Ok((dir, store, sm))
    }
}
