//! The identifiers the server's parts pass to each other. Plain aliases, not newtypes: they
//! cross into the pure crates and the wire formats as the integers ZooKeeper uses.

/// A client connection on this server. Unique across restarts (see
/// [`crate::clients::ConnectionIds`]): log entries name the connection that must be answered.
pub type ConnectionId = u64;

/// A ZooKeeper session id: the creating server's id in the top byte.
pub type SessionId = i64;

/// A server of the ensemble: ZooKeeper's `myid`, openraft's node id.
pub type ServerId = corral_entry::NodeId;

/// A ZooKeeper transaction id: the raft log index of the entry.
pub type Zxid = i64;
