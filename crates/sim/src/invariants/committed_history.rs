//! One committed history. Every server reports each entry it applies (the server's
//! `ApplyObserver`); the first report of an index fixes the entry there, and any later report
//! of that index (another server, or the same server re-applying after a restart) must be the
//! same entry. A server applies index after index without gaps, except where a snapshot
//! replaces its tree.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use corral_entry::LogEntry;
use corral_server::ApplyObserver;
use corral_tree::{TxnKind, WriteOp};
use parking_lot::Mutex;

use super::Violation;

const PROPERTY: &str = "one committed history";

/// What an applied entry was, as far as the other checks care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// openraft's own (blank, membership).
    Raft,
    CreateSession {
        session: i64,
    },
    CloseSession {
        session: i64,
        expired: bool,
    },
    /// A client's write, by its session and xid, and what it does (see [`write_tag`]).
    Write {
        session: i64,
        cxid: i32,
        tag: String,
    },
    /// A server-internal txn (container reaping).
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub term: u64,
    /// Of the term and the entry's encoding.
    pub hash: u64,
    pub kind: EntryKind,
    /// The server that reported it first.
    pub first_by: u64,
}

/// Every server's applied entries, merged.
#[derive(Debug, Default)]
pub struct AppliedLog {
    /// Index -> the entry applied there.
    pub entries: BTreeMap<u64, Applied>,
    /// (server, life) -> the last index that life of the server applied (or restored to).
    /// A crashed server's old life may still apply what it knew was committed while it shuts
    /// down, off the net: each life is checked on its own.
    pub applied: BTreeMap<(u64, u32), u64>,
    pub violations: Vec<Violation>,
    /// A hash of every report, in order (the determinism fingerprint's share).
    pub fingerprint: u64,
    /// Trees replaced by a snapshot (at start-up, or installed from a leader).
    pub restores: u64,
}

impl AppliedLog {
    fn mix(&mut self, parts: &[u64]) {
        let mut h = DefaultHasher::new();
        self.fingerprint.hash(&mut h);
        parts.hash(&mut h);
        self.fingerprint = h.finish();
    }

    fn applied(&mut self, node: u64, life: u32, index: u64, term: u64, entry: Option<&LogEntry>) {
        let (hash, kind) = describe(term, entry);
        self.mix(&[node, u64::from(life), index, hash]);
        let previous = self.applied.insert((node, life), index);
        // A life without a snapshot applies from the start of the log: index 0 (openraft's
        // initial membership) or 1.
        let in_order = match previous {
            Some(previous) => index == previous + 1,
            None => index <= 1,
        };
        if !in_order {
            let previous = previous.map_or("nothing".to_owned(), |p| format!("index {p}"));
            self.violations.push(Violation::new(
                PROPERTY,
                format!("server {node} (life {life}) applied index {index} right after {previous}"),
            ));
        }
        match self.entries.get(&index) {
            None => {
                self.entries.insert(
                    index,
                    Applied {
                        term,
                        hash,
                        kind,
                        first_by: node,
                    },
                );
            }
            Some(first) if first.hash == hash => {}
            Some(first) => {
                let detail = format!(
                    "index {index}: server {node} applied {kind:?} of term {term}, but server {} \
                     applied {:?} of term {} there",
                    first.first_by, first.kind, first.term
                );
                self.violations.push(Violation::new(PROPERTY, detail));
            }
        }
    }

    fn restored(&mut self, node: u64, life: u32, index: u64, term: u64) {
        self.mix(&[node, u64::from(life), index, term, u64::MAX]);
        self.restores += 1;
        self.applied.insert((node, life), index);
        if let Some(first) = self.entries.get(&index) {
            if first.term != term {
                let detail = format!(
                    "server {node} restored a snapshot ending at index {index} of term {term}, \
                     but server {} applied an entry of term {} there",
                    first.first_by, first.term
                );
                self.violations.push(Violation::new(PROPERTY, detail));
            }
        }
    }
}

fn describe(term: u64, entry: Option<&LogEntry>) -> (u64, EntryKind) {
    let mut h = DefaultHasher::new();
    term.hash(&mut h);
    let Some(entry) = entry else {
        "raft".hash(&mut h);
        return (h.finish(), EntryKind::Raft);
    };
    match postcard::to_allocvec(entry) {
        Ok(bytes) => bytes.hash(&mut h),
        Err(e) => e.to_string().hash(&mut h),
    }
    let txn = &entry.txn;
    let kind = match &txn.kind {
        TxnKind::CreateSession { .. } => EntryKind::CreateSession {
            session: txn.session_id,
        },
        TxnKind::CloseSession { expired } => EntryKind::CloseSession {
            session: txn.session_id,
            expired: *expired,
        },
        TxnKind::Write { op, .. } => EntryKind::Write {
            session: txn.session_id,
            cxid: txn.cxid,
            tag: write_tag(op),
        },
        TxnKind::DeleteContainer { .. } => EntryKind::Internal,
    };
    (h.finish(), kind)
}

/// What a write does, in the words the workload uses for what it sent (its values and paths
/// are unique, so a tag names one request).
pub fn write_tag(op: &WriteOp) -> String {
    match op {
        WriteOp::SetData(request) => {
            let data = request.data.as_deref().unwrap_or_default();
            set_tag(&request.path, data)
        }
        WriteOp::Create { request, .. } => create_tag(&request.path),
        WriteOp::Delete(request) => delete_tag(&request.path),
        WriteOp::SetAcl(_) | WriteOp::Multi(_) => "other".to_owned(),
    }
}

pub fn set_tag(path: &str, data: &[u8]) -> String {
    format!("set {path} {}", String::from_utf8_lossy(data))
}

pub fn create_tag(path: &str) -> String {
    format!("create {path}")
}

pub fn delete_tag(path: &str) -> String {
    format!("delete {path}")
}

/// One life of one server's observer.
pub struct Observer {
    pub node: u64,
    pub life: u32,
    pub log: Arc<Mutex<AppliedLog>>,
}

impl ApplyObserver for Observer {
    fn applied(&self, index: u64, term: u64, entry: Option<&LogEntry>) {
        self.log
            .lock()
            .applied(self.node, self.life, index, term, entry);
    }

    fn restored(&self, index: u64, term: u64) {
        self.log.lock().restored(self.node, self.life, index, term);
    }
}

/// The first violation seen, if any.
pub fn check(log: &AppliedLog) -> Result<(), Violation> {
    match log.violations.first() {
        Some(v) => Err(v.clone()),
        None => Ok(()),
    }
}
