//! Tests of the history checkers: hand-written histories known to be good and known to be
//! bad, random linearizable histories from a simulated register (and mutations of them that
//! no correct register could produce), the text format, and a size that must stay fast.
//!
//! One test binary with modules, so the crate is linked once.

mod bad;
mod good;
mod perf;
mod props;
mod reference;
mod sim;
mod text;

use corral_history::{
    check_all, check_linearizable, check_sessions, check_zxids, CheckOptions, History,
    InitialState, OpId, Operation, Outcome, Register, Verdict, Violation,
};

/// Generous for the small hand-written histories: they must be decided, not given up on.
pub const BUDGET: u64 = 1_000_000;

/// A history under construction with the keys' initial states.
pub struct Builder {
    pub history: History,
    pub initial: InitialState,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Key "/a" (and "/b") created empty at version 0.
    pub fn new() -> Self {
        let mut initial = InitialState::new();
        initial.insert("/a".into(), Register::new("", 0));
        initial.insert("/b".into(), Register::new("", 0));
        Builder {
            history: History::new(),
            initial,
        }
    }

    /// An operation of `session` from `invoked` to `completed` (`None`: never completed).
    pub fn op(
        &mut self,
        session: u64,
        operation: Operation,
        invoked: u64,
        completed: Option<u64>,
        outcome: Outcome,
    ) -> OpId {
        let id = self.history.invoke(session, operation, invoked);
        if let Some(at) = completed {
            self.history
                .complete(id, outcome, at)
                .expect("test histories are well formed");
        }
        id
    }

    /// Like `op`, with a reply zxid.
    pub fn op_zxid(
        &mut self,
        session: u64,
        operation: Operation,
        invoked: u64,
        completed: u64,
        outcome: Outcome,
        zxid: i64,
    ) -> OpId {
        let id = self.history.invoke(session, operation, invoked);
        self.history
            .complete_with_zxid(id, outcome, completed, zxid)
            .expect("test histories are well formed");
        id
    }

    pub fn linearizable(&self) -> Verdict {
        check_linearizable(&self.history, &self.initial, BUDGET)
    }

    pub fn sessions(&self) -> Verdict {
        check_sessions(&self.history, &self.initial)
    }

    pub fn zxids(&self) -> Verdict {
        check_zxids(&self.history)
    }

    pub fn all(&self) -> Verdict {
        check_all(
            &self.history,
            &self.initial,
            &CheckOptions {
                budget: BUDGET,
                ..CheckOptions::default()
            },
        )
    }

    /// Every check passes (and the text form round-trips to the same verdict).
    #[track_caller]
    pub fn assert_good(&self) {
        for (name, verdict) in [
            ("linearizable", self.linearizable()),
            ("sessions", self.sessions()),
            ("zxids", self.zxids()),
            ("all", self.all()),
        ] {
            assert!(
                verdict.is_ok(),
                "{name}: expected ok, got {verdict}\n{}",
                self.history.to_text(&self.initial)
            );
        }
        let (history, initial) =
            History::from_text(&self.history.to_text(&self.initial)).expect("round trip");
        assert_eq!(history, self.history);
        assert_eq!(initial, self.initial);
    }
}

pub fn read(key: &str) -> Operation {
    Operation::Read { key: key.into() }
}

pub fn sync_read(key: &str) -> Operation {
    Operation::SyncRead { key: key.into() }
}

pub fn write(key: &str, value: &str) -> Operation {
    Operation::Write {
        key: key.into(),
        value: value.into(),
    }
}

pub fn cas(key: &str, expected_version: i32, value: &str) -> Operation {
    Operation::Cas {
        key: key.into(),
        expected_version,
        value: value.into(),
    }
}

pub fn ok(version: i32) -> Outcome {
    Outcome::written(version)
}

pub fn data(value: &str, version: i32) -> Outcome {
    Outcome::data(value, version)
}

/// The violation in `verdict`, or a panic saying what came instead.
#[track_caller]
pub fn violation(verdict: Verdict) -> Violation {
    match verdict {
        Verdict::Violation(v) => v,
        other => panic!("expected a violation, got {other}"),
    }
}
