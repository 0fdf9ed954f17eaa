//! Checks client histories recorded against a ZooKeeper-compatible service under faults.
//!
//! Why a separate crate: fault-injection tests record what clients asked and were told, and
//! the question "could a correct ZooKeeper have produced this?" is pure computation over that
//! record. Keeping it free of I/O and async makes it usable from any test harness and lets a
//! failing history be saved as text ([`History::to_text`]) and re-checked offline.
//!
//! Znodes are used as registers (data + version). The checks:
//! 1. [`check_linearizable`]: per key, writes, compare-and-sets and sync-reads are
//!    linearizable (a Wing & Gong / Lowe search with memoization, bounded by a step budget;
//!    see `linearizable.rs` for the algorithm and its pruning).
//! 2. [`check_sessions`]: plain reads are sequentially consistent as each session sees them:
//!    every (value, version) read was written by some write, versions never go back in a
//!    session, a session reads its own writes.
//! 3. [`check_zxids`]: a session's reply zxids never go back.
//!
//! [`check_all`] runs all three. Operations with an unknown outcome (connection loss, timeout)
//! may have taken effect at any time after their invocation, or never; failed operations
//! (BADVERSION, NONODE, ...) are taken at their word and ignored.
//!
//! Map: `history` (the record and its validation), `model` (the register's sequential
//! specification), `linearizable`, `sessions`, `zxid` (the checks), `verdict` (results and
//! explanations), `text` (the line format).

mod history;
mod linearizable;
mod model;
mod sessions;
mod text;
mod verdict;
mod zxid;

pub use history::{
    Completion, History, HistoryError, InitialState, Op, OpId, Operation, Outcome, Register, Reply,
    SessionId,
};
pub use linearizable::check_linearizable;
pub use sessions::{check_sessions, check_sessions_with, SessionOrder};
pub use text::TextError;
pub use verdict::{InconclusiveReason, NotLinearizable, Verdict, Violation};
pub use zxid::{check_zxids, check_zxids_with};

/// A search budget per key. A linearizable history takes about two steps per operation (more
/// with many concurrent sessions), and versions leave the search so little choice that a
/// failing one is usually decided as fast; the budget is for pathological histories, and at
/// tens of nanoseconds per step it bounds them to seconds.
pub const DEFAULT_BUDGET: u64 = 10_000_000;

/// Settings for [`check_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// Linearizability search steps per key.
    pub budget: u64,
    /// How operations of one session are ordered for the session and zxid checks.
    pub session_order: SessionOrder,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            budget: DEFAULT_BUDGET,
            session_order: SessionOrder::RealTime,
        }
    }
}

/// Runs every check. The cheap, precise session checks run first so that a history breaking
/// several properties is reported with the most specific message.
pub fn check_all(history: &History, initial: &InitialState, options: &CheckOptions) -> Verdict {
    let sessions = check_sessions_with(history, initial, options.session_order);
    if sessions.is_violation() {
        return sessions;
    }
    let zxids = check_zxids_with(history, options.session_order);
    if zxids.is_violation() {
        return zxids;
    }
    sessions
        .and(zxids)
        .and(check_linearizable(history, initial, options.budget))
}
