//! What the checkers conclude, and how they explain it.
//!
//! A violation names the operations involved and prints them in the text format of
//! [`crate::text`], so a message can be read next to the saved history (or pasted into a
//! smaller one). `Inconclusive` is never a pass: it means the checker could not decide within
//! its bounds or without information it was not given.

use std::fmt;

use crate::history::{Op, OpId, Register, SessionId};
use crate::text::quoted;

/// The result of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The history satisfies the property.
    Ok,
    /// The history cannot have come from a correct system.
    Violation(Violation),
    /// The checker could not decide.
    Inconclusive { reason: InconclusiveReason },
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Ok)
    }

    pub fn is_violation(&self) -> bool {
        matches!(self, Verdict::Violation(_))
    }

    pub fn is_inconclusive(&self) -> bool {
        matches!(self, Verdict::Inconclusive { .. })
    }

    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Verdict::Violation(v) => Some(v),
            _ => None,
        }
    }

    /// Combines the verdicts of independent checks: any violation wins (it is definite), then
    /// any inconclusive result, else Ok.
    pub fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (v @ Verdict::Violation(_), _) | (_, v @ Verdict::Violation(_)) => v,
            (v @ Verdict::Inconclusive { .. }, _) | (_, v @ Verdict::Inconclusive { .. }) => v,
            (Verdict::Ok, Verdict::Ok) => Verdict::Ok,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok => f.write_str("ok"),
            Verdict::Violation(v) => write!(f, "violation: {v}"),
            Verdict::Inconclusive { reason } => write!(f, "inconclusive: {reason}"),
        }
    }
}

/// Why a check could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InconclusiveReason {
    #[error(
        "key {key:?}: the linearizability search used its budget of {budget} steps \
         (placed at most {placed} of the {required} operations with a known outcome)"
    )]
    BudgetExhausted {
        key: String,
        budget: u64,
        placed: usize,
        required: usize,
    },
    #[error("key {key:?} has no initial state (every key in the history needs one)")]
    NoInitialState { key: String },
}

/// A property the history breaks. Each variant names the operations that show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// No order of the writes, CAS and sync-reads on a key respects both real time and the
    /// register's semantics.
    #[error("{0}")]
    NotLinearizable(Box<NotLinearizable>),

    /// A session saw a key's version go backwards: a read returned an older version than the
    /// session had already read or written (or a write produced one no newer).
    #[error(
        "session {session}, key {key:?}: version went back from {floor} to {version}\n  \
         earlier: {earlier}\n  later:   {later}"
    )]
    VersionWentBack {
        session: SessionId,
        key: String,
        floor: i32,
        version: i32,
        earlier: Box<Op>,
        later: Box<Op>,
    },

    /// Two successful writes on a key returned the same new version (each write bumps the
    /// version by one and writes are totally ordered, so one of them was lost).
    #[error(
        "key {key:?}: two successful writes both produced version {version}\n  {first}\n  {second}"
    )]
    DuplicateVersion {
        key: String,
        version: i32,
        first: Box<Op>,
        second: Box<Op>,
    },

    /// An operation returned a version no newer than the key's initial version (a write
    /// produced it, or a read saw a version older than anything the key ever had).
    #[error(
        "key {key:?}: version {version} is not after the initial version {initial_version}\n  {op}"
    )]
    VersionNotAfterInitial {
        key: String,
        version: i32,
        initial_version: i32,
        op: Box<Op>,
    },

    /// A read returned a version together with a value other than the one that version was
    /// written with.
    #[error(
        "key {key:?}: {read}\n  read version {version} with value {}, but {} {}",
        quoted(.value),
        .writer.as_ref().map_or("the initial state has value".to_string(),
            |w| format!("{w}\n  wrote that version with value")),
        quoted(.expected)
    )]
    WrongValueForVersion {
        key: String,
        version: i32,
        value: Vec<u8>,
        expected: Vec<u8>,
        read: Box<Op>,
        /// `None`: the version is the initial one.
        writer: Option<Box<Op>>,
    },

    /// Two reads saw the same version with different values.
    #[error(
        "key {key:?}: two reads of version {version} disagree on its value\n  {first}\n  {second}"
    )]
    ConflictingReads {
        key: String,
        version: i32,
        first: Box<Op>,
        second: Box<Op>,
    },

    /// A read returned a value that no write (that could have produced that version) wrote.
    #[error(
        "key {key:?}: {read}\n  returned version {version} with value {}, which no write could have produced",
        quoted(.value)
    )]
    ValueNeverWritten {
        key: String,
        version: i32,
        value: Vec<u8>,
        read: Box<Op>,
    },

    /// An operation saw a version that needs more writes than could have happened before it
    /// completed.
    #[error(
        "key {key:?}: {op}\n  saw version {version}, which takes {needed} write(s) after the initial \
         state, but only {possible} could have taken effect before it completed"
    )]
    TooFewWrites {
        key: String,
        version: i32,
        needed: u64,
        possible: u64,
        op: Box<Op>,
    },

    /// A read saw the effect of a write that was invoked only after the read completed.
    #[error("key {key:?}: a read saw a write from its future\n  read:  {read}\n  write: {write}")]
    ReadFromFuture {
        key: String,
        read: Box<Op>,
        write: Box<Op>,
    },

    /// A session's reply zxids went backwards.
    #[error(
        "session {session}: zxid went back from {floor} ({floor:#x}) to {zxid} ({zxid:#x})\n  \
         earlier: {earlier}\n  later:   {later}"
    )]
    ZxidWentBack {
        session: SessionId,
        floor: i64,
        zxid: i64,
        earlier: Box<Op>,
        later: Box<Op>,
    },
}

/// The explanation of a failed linearizability search, taken at the furthest point (in real
/// time) any partial order reached before every branch died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLinearizable {
    pub key: String,
    /// The operation whose reply arrived while no placement of it was possible.
    pub stuck: Op,
    /// The version the register must have for `stuck` to take effect (what a write or CAS
    /// replaces, what a sync-read saw).
    pub needed_version: Option<i32>,
    /// The register state at that point.
    pub state: Register,
    /// How many operations had been placed at that point.
    pub placed_count: usize,
    /// The last operations placed before it (oldest first), each with the state it left.
    pub placed: Vec<(Op, Register)>,
    /// Unplaced successful operations that placing `stuck` would make impossible: they need
    /// an earlier version, or read another value at the version it would produce. Real time
    /// forces `stuck` first; their results say otherwise. Empty when `stuck` itself cannot
    /// take effect in `state`.
    pub blocked_by: Vec<Op>,
    /// Other operations invoked before `stuck` replied that were not placed at that point (the
    /// candidates there): successful ones first, then unknown-outcome ones, latest first.
    /// Capped; see `unplaced_more`.
    pub unplaced: Vec<Op>,
    /// Whether there were more unplaced candidates than listed.
    pub unplaced_more: bool,
    /// Search steps used in total.
    pub steps: u64,
}

impl NotLinearizable {
    /// The operations the explanation names, in id order: a small history around the failure
    /// (`History::subset` turns it into one that can be saved and re-checked, with the state
    /// before the first placed op as its initial state).
    pub fn window(&self) -> Vec<OpId> {
        let mut ids: Vec<OpId> = self
            .placed
            .iter()
            .map(|(op, _)| op.id)
            .chain(self.blocked_by.iter().map(|op| op.id))
            .chain(self.unplaced.iter().map(|op| op.id))
            .chain(std::iter::once(self.stuck.id))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl fmt::Display for NotLinearizable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {:?} is not linearizable: no order of its writes and sync-reads can place\n  {}\n\
             furthest partial order ({} ops placed, {} search steps) left the register at ({}, version {})",
            self.key,
            self.stuck,
            self.placed_count,
            self.steps,
            quoted(&self.state.value),
            self.state.version
        )?;
        if let Some(needed) = self.needed_version.filter(|&v| v != self.state.version) {
            let gap = i64::from(needed) - i64::from(self.state.version);
            if gap > 0 {
                writeln!(
                    f,
                    "it needs version {needed}, {gap} write(s) past this state, and no order of \
                     the other writes supplies them before it replied"
                )?;
            } else {
                writeln!(
                    f,
                    "it needs version {needed}, which the register had already left behind"
                )?;
            }
        }
        if !self.blocked_by.is_empty() {
            writeln!(
                f,
                "placing it there would leave no place for these unplaced ops:"
            )?;
            for op in &self.blocked_by {
                writeln!(f, "  {op}")?;
            }
        }
        if !self.placed.is_empty() {
            writeln!(
                f,
                "last ops placed, oldest first, with the state each left:"
            )?;
            for (op, after) in &self.placed {
                writeln!(
                    f,
                    "  {op}    -> ({}, version {})",
                    quoted(&after.value),
                    after.version
                )?;
            }
        }
        if !self.unplaced.is_empty() {
            writeln!(
                f,
                "not placed at that point, invoked before the stuck op replied:"
            )?;
            for op in &self.unplaced {
                writeln!(f, "  {op}")?;
            }
            if self.unplaced_more {
                writeln!(f, "  ... and more")?;
            }
        }
        Ok(())
    }
}
