//! ZooKeeper's snapshot file (`snapshot.<zxid>`, `FileSnap` over a checked stream):
//!
//! ```text
//! FileHeader      magic "ZKSN", version 2, dbid
//! sessions        int count, then (long id, int timeout) each
//! ACL cache       int count, then (long id, vector<ACL>) each; nodes name lists by id,
//!                 -1 is world:anyone:cdrwa without an entry
//! nodes           (ustring path, DataNode) in a walk from the root, the root's path "",
//!                 each parent before its children; DataNode = buffer data, long acl,
//!                 StatPersisted
//! end             ustring "/"
//! seal            long Adler-32 of every byte before it, ustring "/"
//! digest (3.6+)   long zxid, int version, long digest (a hex ustring below version 2),
//!                 then a second seal over everything before it
//! ```
//!
//! All integers big-endian (jute). A file ends in `"/"` (int 1, byte '/'), which is how
//! ZooKeeper tells a complete snapshot from one cut short.

mod read;
mod write;

pub use read::{read, LoadedSnapshot};
pub use write::write;
