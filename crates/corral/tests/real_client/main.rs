//! Interop with a client nobody here wrote: the `zookeeper-client` crate (0.11) against a
//! `corral server` process, one server per test on a free port.
//!
//! Every operation, node type, watch kind and error path the crate can produce is checked for
//! the values, Stat fields and event order Apache ZooKeeper 3.9 gives
//! (`shared/reference/zookeeper-protocol.md`, `crates/tree/SEMANTICS.md`). Where the crate has
//! no call for something (checkWatches, removeWatches of one kind, setWatches, per-op multi
//! results, malformed paths it refuses to send) our own `corral-client` sends it, and the test
//! says so.
//!
//! Map:
//! - [`support`]: the server process, clients, bounded waits, 4lw.
//! - [`create`]: every CreateMode, create2 stats, sequences, containers, TTL, create errors.
//! - [`data`]: setData/delete versions, reads, children, path checks, built-ins, getEphemerals,
//!   whoAmI, sync, the frame limit.
//! - [`acl`]: digest ACLs, `auth`, NOAUTH, INVALIDACL, AUTHFAILED, masking, superDigest.
//! - [`multi`]: multi, check, failures with per-op results, multiRead.
//! - [`watches`]: one-shot, persistent and recursive watches, ordering, removal, setWatches.
//! - [`sessions`]: close, expiry, re-attach.

mod acl;
mod create;
mod data;
mod multi;
mod sessions;
mod support;
mod watches;
