//! Snapshots of the whole replicated state, taken without pausing writes, and loading them.
//!
//! Why this shape: a snapshot of a large tree takes a noticeable time to serialise, and
//! ZooKeeper's fuzzy snapshot (serialise while applying, then replay the log over it) needs
//! idempotent txns, which Corral's are not. So the stream here is *exact*: it equals the tree
//! at the moment [`DataTree::begin_snapshot`] ran, however many txns are applied while it is
//! written. Copy-on-write keeps that cheap (ClickHouse Keeper's snapshot mode does the same):
//!
//! - `begin_snapshot` (write lock, O(sessions + ACL lists)): encodes the header, the ACL table
//!   and the sessions table into the token, remembers the slot count, freezes id reuse.
//! - `write_snapshot_chunk` (read lock, repeatedly): encodes the next nodes in id order. A
//!   node the writer has not reached yet that `apply` is about to change or delete is first
//!   copied aside (`cow.rs`); the writer uses the copy. Nodes created meanwhile get ids past
//!   the remembered end and are never visited.
//! - `end_snapshot` (write lock): drops the copies and lets ids be reused again.
//!
//! With no snapshot active, apply pays one `Option` test per changed node.
//!
//! The byte format is described in `format.rs` (and `FORMAT.md`); `write.rs` encodes, `read.rs`
//! decodes and validates; `plain.rs` converts the state to and from plain nodes by path (for
//! the ZooKeeper import/export tools).

mod cow;
mod format;
mod plain;
mod read;
mod write;

use std::io::{Read, Write};

pub(crate) use cow::Cow;
pub use format::FORMAT_VERSION;
pub use plain::{PlainNode, PlainState};
pub use write::SnapshotToken;

use crate::{AuthProviders, DataTree};

/// Why a snapshot could not be loaded. Every malformed input ends here; the decoder never
/// panics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("snapshot read failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a Corral tree snapshot (bad magic)")]
    BadMagic,
    #[error(
        "unsupported tree snapshot format version {found} (this build reads version {supported})"
    )]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("tree snapshot truncated")]
    Truncated,
    #[error("corrupt tree snapshot: {0}")]
    Corrupt(&'static str),
    #[error("corrupt tree snapshot: node record {index}: {what}")]
    CorruptNode { index: u32, what: &'static str },
    /// A node given to [`DataTree::from_plain`] that no tree can hold.
    #[error("node {path}: {what}")]
    BadNode { path: String, what: &'static str },
    #[error("tree snapshot too large to load: {0}")]
    TooLarge(&'static str),
}

impl DataTree {
    /// Starts a copy-on-write snapshot of the state as it is now (call under the write lock).
    /// The token records [`SnapshotToken::zxid`], the last applied zxid. Only one snapshot runs
    /// at a time: beginning another aborts the running one, whose token then reports
    /// [`SnapshotToken::is_aborted`].
    pub fn begin_snapshot(&mut self) -> SnapshotToken {
        self.snapshot_generation += 1;
        if self.cow.is_some() {
            self.cow = None;
            self.store.thaw_ids();
        }
        let token = self.prepare_token(Some(self.snapshot_generation));
        self.store.freeze_ids();
        self.cow = Some(Box::new(Cow::new(self.snapshot_generation, token.end_id())));
        token
    }

    /// Appends the next part of the stream to `out` (call under the read lock; writes may be
    /// applied between calls): the header on the first call, then up to `max_nodes` node
    /// records (at least one), then the trailer. Returns true once the stream is complete —
    /// or, if the token was aborted or belongs to another tree's snapshot, at once with
    /// nothing appended and [`SnapshotToken::is_aborted`] set.
    pub fn write_snapshot_chunk(
        &self,
        token: &mut SnapshotToken,
        out: &mut Vec<u8>,
        max_nodes: usize,
    ) -> bool {
        self.write_chunk(token, out, max_nodes)
    }

    /// Ends the snapshot of `token` (call under the write lock): drops the preserved node
    /// versions and allows id reuse again. A stale token (aborted by a later
    /// `begin_snapshot`) changes nothing.
    pub fn end_snapshot(&mut self, token: SnapshotToken) {
        let current = self
            .cow
            .as_ref()
            .is_some_and(|cow| Some(cow.generation) == token.generation());
        if current {
            self.cow = None;
            self.store.thaw_ids();
        }
    }

    /// Ends whatever snapshot is running without its token (its writer then sees
    /// [`SnapshotToken::is_aborted`]): for a server that lost the token, e.g. on an error path.
    /// A snapshot left running keeps preserved versions and holds freed ids back.
    pub fn cancel_snapshot(&mut self) {
        if self.cow.take().is_some() {
            self.store.thaw_ids();
        }
    }

    /// Whether a copy-on-write snapshot is running.
    pub fn snapshot_active(&self) -> bool {
        self.cow.is_some()
    }

    /// Node versions currently preserved for the running snapshot (for metrics and tests).
    pub fn snapshot_preserved_nodes(&self) -> usize {
        self.cow.as_ref().map_or(0, |cow| cow.preserved_len())
    }

    /// Writes a complete snapshot of the current state in one go (the tree cannot change while
    /// this borrows it). The same stream `begin_snapshot` + chunks would produce.
    pub fn write_snapshot<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        let mut token = self.prepare_token(None);
        let mut buf = Vec::with_capacity(1 << 20);
        loop {
            buf.clear();
            let done = self.write_chunk(&mut token, &mut buf, 16_384);
            out.write_all(&buf)?;
            if done {
                return Ok(());
            }
        }
    }

    /// Loads a tree from a snapshot stream, with the default authentication providers. The
    /// config (extended types, skipACL) is the snapshot's. The reader is buffered internally
    /// and may be read past the end of the snapshot.
    pub fn load_snapshot<R: Read>(reader: R) -> Result<DataTree, SnapshotError> {
        read::load(reader, AuthProviders::default())
    }

    /// [`DataTree::load_snapshot`] with a non-default set of authentication providers.
    pub fn load_snapshot_with<R: Read>(
        reader: R,
        providers: AuthProviders,
    ) -> Result<DataTree, SnapshotError> {
        read::load(reader, providers)
    }
}
