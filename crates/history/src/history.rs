//! The recorded history: what each client asked for, when, and what it was told.
//!
//! A recorder calls [`History::invoke`] just before sending a request and
//! [`History::complete`] when the reply (or the connection loss) arrives. Times are whatever
//! the recorder has that is monotonic across all its clients (nanoseconds since a common start
//! or a logical counter): the checkers only compare them. An operation that is never completed
//! is treated exactly like one completed with [`Outcome::Unknown`] — the client never learned
//! whether it took effect.
//!
//! Validation happens here, at recording time (completing twice, completing before invoking, a
//! reply of the wrong shape), so the checkers can rely on a well-formed history and never
//! panic on one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The client session an operation was issued on (ZooKeeper's session id, or any id the
/// recorder uses for "one client with FIFO ordering").
pub type SessionId = u64;

/// Index of an operation in its [`History`], in invocation-call order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub usize);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A znode's register state: its data and its data version (`Stat.version`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Register {
    pub value: Vec<u8>,
    pub version: i32,
}

impl Register {
    pub fn new(value: impl Into<Vec<u8>>, version: i32) -> Self {
        Register {
            value: value.into(),
            version,
        }
    }
}

impl From<(Vec<u8>, i32)> for Register {
    fn from((value, version): (Vec<u8>, i32)) -> Self {
        Register { value, version }
    }
}

/// The state of every key before the first operation. Every key the history touches must be
/// here: the checkers cannot guess what a znode held before recording started.
pub type InitialState = BTreeMap<String, Register>;

/// A request on one znode used as a register.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `getData`: served by whichever server the session is connected to, so only
    /// sequentially consistent.
    Read { key: String },
    /// `sync` followed by `getData` on the same session: must be linearizable.
    SyncRead { key: String },
    /// `setData` with version -1: always applies, bumps the version by one.
    Write { key: String, value: Vec<u8> },
    /// `setData` with a version: applies only if the current version equals
    /// `expected_version` (otherwise BADVERSION, recorded as [`Outcome::Failed`]).
    Cas {
        key: String,
        expected_version: i32,
        value: Vec<u8>,
    },
}

impl Operation {
    pub fn key(&self) -> &str {
        match self {
            Operation::Read { key }
            | Operation::SyncRead { key }
            | Operation::Write { key, .. }
            | Operation::Cas { key, .. } => key,
        }
    }

    /// The value the operation writes, for writes and compare-and-sets.
    pub fn written_value(&self) -> Option<&[u8]> {
        match self {
            Operation::Write { value, .. } | Operation::Cas { value, .. } => Some(value),
            Operation::Read { .. } | Operation::SyncRead { .. } => None,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, Operation::Read { .. } | Operation::SyncRead { .. })
    }
}

/// What a successful operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reply {
    /// For reads: the data and `Stat.version`.
    Data { value: Vec<u8>, version: i32 },
    /// For writes and compare-and-sets: the new `Stat.version`.
    Written { version: i32 },
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The server replied with success.
    Ok(Reply),
    /// The server replied with an error that means the operation did not take effect
    /// (BADVERSION, NONODE, ...). Failed operations are ignored by the checkers.
    Failed,
    /// Connection loss, timeout, session expiry while waiting: the operation may have taken
    /// effect, at any time after its invocation (even after the client gave up), or never.
    Unknown,
}

impl Outcome {
    pub fn data(value: impl Into<Vec<u8>>, version: i32) -> Self {
        Outcome::Ok(Reply::Data {
            value: value.into(),
            version,
        })
    }

    pub fn written(version: i32) -> Self {
        Outcome::Ok(Reply::Written { version })
    }
}

/// The end of an operation as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Completion {
    pub at: u64,
    pub outcome: Outcome,
    /// The zxid of the reply header, when the recorder has it. Ignored for
    /// [`Outcome::Unknown`] (there was no reply).
    pub zxid: Option<i64>,
}

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Op {
    pub id: OpId,
    pub session: SessionId,
    pub operation: Operation,
    pub invoked_at: u64,
    /// `None`: still outstanding when recording stopped (same meaning as Unknown).
    pub completion: Option<Completion>,
}

impl Op {
    pub fn key(&self) -> &str {
        self.operation.key()
    }

    /// The successful reply, if there was one.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.completion {
            Some(Completion {
                outcome: Outcome::Ok(reply),
                ..
            }) => Some(reply),
            _ => None,
        }
    }

    pub fn is_failed(&self) -> bool {
        matches!(
            self.completion,
            Some(Completion {
                outcome: Outcome::Failed,
                ..
            })
        )
    }

    /// Unknown outcome or never completed: may or may not have taken effect.
    pub fn is_indefinite(&self) -> bool {
        matches!(
            self.completion,
            None | Some(Completion {
                outcome: Outcome::Unknown,
                ..
            })
        )
    }

    /// When the client learned the outcome, for operations with a definite outcome. Unknown
    /// operations have no completion bound, whatever the recorder wrote down.
    pub fn definite_completion(&self) -> Option<u64> {
        match &self.completion {
            Some(c) if c.outcome != Outcome::Unknown => Some(c.at),
            _ => None,
        }
    }

    /// The reply's zxid, for operations that got a reply.
    pub fn zxid(&self) -> Option<i64> {
        match &self.completion {
            Some(c) if c.outcome != Outcome::Unknown => c.zxid,
            _ => None,
        }
    }
}

/// A recording mistake, reported when it is made rather than discovered by a checker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error("no operation {0} in this history")]
    NoSuchOp(OpId),
    #[error("operation {0} was already completed")]
    AlreadyCompleted(OpId),
    #[error("operation {id} completed at {completed_at}, before it was invoked at {invoked_at}")]
    CompletedBeforeInvoked {
        id: OpId,
        invoked_at: u64,
        completed_at: u64,
    },
    #[error("operation {id} is a {operation} but its reply is {reply}")]
    ReplyMismatch {
        id: OpId,
        operation: &'static str,
        reply: &'static str,
    },
}

/// The operations of a test run, in invocation order of the calls to [`History::invoke`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<Op>,
}

impl History {
    pub fn new() -> Self {
        History { ops: Vec::new() }
    }

    /// Records that `session` is about to send `op` at time `at`.
    pub fn invoke(&mut self, session: SessionId, operation: Operation, at: u64) -> OpId {
        let id = OpId(self.ops.len());
        self.ops.push(Op {
            id,
            session,
            operation,
            invoked_at: at,
            completion: None,
        });
        id
    }

    /// Records the outcome of `id`, learned at time `at`.
    pub fn complete(&mut self, id: OpId, outcome: Outcome, at: u64) -> Result<(), HistoryError> {
        self.complete_opt(id, outcome, at, None)
    }

    /// Like [`History::complete`], with the zxid of the reply header.
    pub fn complete_with_zxid(
        &mut self,
        id: OpId,
        outcome: Outcome,
        at: u64,
        zxid: i64,
    ) -> Result<(), HistoryError> {
        self.complete_opt(id, outcome, at, Some(zxid))
    }

    pub(crate) fn complete_opt(
        &mut self,
        id: OpId,
        outcome: Outcome,
        at: u64,
        zxid: Option<i64>,
    ) -> Result<(), HistoryError> {
        let op = self.ops.get_mut(id.0).ok_or(HistoryError::NoSuchOp(id))?;
        if op.completion.is_some() {
            return Err(HistoryError::AlreadyCompleted(id));
        }
        if at < op.invoked_at {
            return Err(HistoryError::CompletedBeforeInvoked {
                id,
                invoked_at: op.invoked_at,
                completed_at: at,
            });
        }
        if let Outcome::Ok(reply) = &outcome {
            let fits = matches!(
                (&op.operation, reply),
                (
                    Operation::Read { .. } | Operation::SyncRead { .. },
                    Reply::Data { .. }
                ) | (
                    Operation::Write { .. } | Operation::Cas { .. },
                    Reply::Written { .. }
                )
            );
            if !fits {
                return Err(HistoryError::ReplyMismatch {
                    id,
                    operation: operation_name(&op.operation),
                    reply: match reply {
                        Reply::Data { .. } => "data",
                        Reply::Written { .. } => "a new version",
                    },
                });
            }
        }
        op.completion = Some(Completion { at, outcome, zxid });
        Ok(())
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn get(&self, id: OpId) -> Option<&Op> {
        self.ops.get(id.0)
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Every key the history touches.
    pub fn keys(&self) -> BTreeSet<&str> {
        self.ops.iter().map(Op::key).collect()
    }

    /// The operations on `key`, in id order.
    pub fn ops_on<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Op> + 'a {
        self.ops.iter().filter(move |op| op.key() == key)
    }

    /// A history made of some of this history's operations (for example a violation's window),
    /// renumbered from zero in their current order. Ids that do not exist are skipped.
    pub fn subset(&self, ids: &[OpId]) -> History {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let ops = ids
            .iter()
            .filter_map(|id| self.get(*id))
            .enumerate()
            .map(|(index, op)| Op {
                id: OpId(index),
                ..op.clone()
            })
            .collect();
        History { ops }
    }
}

pub(crate) fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::Read { .. } => "read",
        Operation::SyncRead { .. } => "sync-read",
        Operation::Write { .. } => "write",
        Operation::Cas { .. } => "cas",
    }
}

/// Keys are grouped in a `BTreeMap` so checkers visit them (and report the first violation)
/// in a stable order.
pub(crate) fn ops_by_key(history: &History) -> BTreeMap<&str, Vec<&Op>> {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history.ops() {
        by_key.entry(op.key()).or_default().push(op);
    }
    by_key
}
