//! The names of Corral's directories inside a server's data directories, shared by the server
//! and the data tools (which read a data directory without starting a server).

/// Subdirectory of `dataLogDir` holding the raft log (the write-ahead log).
pub const LOG_DIR_NAME: &str = "corral-log";

/// Subdirectory of `dataDir` holding tree snapshots.
pub const SNAPSHOT_DIR_NAME: &str = "corral-snapshots";

/// Apache ZooKeeper's own data subdirectory: a `dataDir` holding it is refused, since Corral
/// cannot read ZooKeeper's files and must not start empty beside them.
pub const ZOOKEEPER_DATA_DIR_NAME: &str = "version-2";
