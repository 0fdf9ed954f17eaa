//! The recorded client history passes `corral-history`'s checks: per-key linearizability of
//! writes, compare-and-sets and sync-reads; per-session sequential consistency of reads; zxid
//! monotonicity per session.

use corral_history::{check_all, CheckOptions, History, InitialState, Verdict};

use super::Violation;

const PROPERTY: &str = "linearizable client history";

pub fn check(history: &History, initial: &InitialState) -> Result<(), Violation> {
    match check_all(history, initial, &CheckOptions::default()) {
        Verdict::Ok => Ok(()),
        verdict => Err(Violation::new(
            PROPERTY,
            format!("{verdict}\nhistory:\n{}", history.to_text(initial)),
        )),
    }
}
