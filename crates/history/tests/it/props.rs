//! Random histories from the simulated register must pass every check; one result changed to
//! something no register could have returned must be caught.

use corral_history::{
    check_all, check_linearizable, check_sessions, check_sessions_with, check_zxids_with,
    CheckOptions, Completion, History, InitialState, Op, Operation, Outcome, Reply, SessionOrder,
    Verdict,
};
use proptest::prelude::*;

use crate::sim::{rebuild, simulate, Config, Rng};
use crate::BUDGET;

fn config() -> impl Strategy<Value = Config> {
    (
        1usize..=3,
        1usize..=5,
        1usize..=60,
        0u64..=300,
        any::<u64>(),
    )
        .prop_map(|(keys, sessions, ops, unknown_per_mille, seed)| Config {
            keys,
            sessions,
            ops,
            unknown_per_mille,
            repeat_per_mille: 100,
            seed,
        })
}

#[track_caller]
fn assert_ok(what: &str, verdict: Verdict, history: &History, initial: &InitialState) {
    assert!(
        verdict.is_ok(),
        "{what}: {verdict}\n{}",
        history.to_text(initial)
    );
}

#[track_caller]
fn assert_violation(what: &str, verdict: Verdict, history: &History, initial: &InitialState) {
    assert!(
        verdict.is_violation(),
        "{what}: expected a violation, got {verdict}\n{}",
        history.to_text(initial)
    );
}

/// Indices of successful ops matching `filter`.
fn successful(history: &History, filter: impl Fn(&Op) -> bool) -> Vec<usize> {
    history
        .ops()
        .iter()
        .enumerate()
        .filter(|(_, op)| op.reply().is_some() && filter(op))
        .map(|(i, _)| i)
        .collect()
}

fn pick(rng: &mut Rng, candidates: &[usize]) -> Option<usize> {
    if candidates.is_empty() {
        None
    } else {
        Some(candidates[rng.below(candidates.len() as u64) as usize])
    }
}

fn with_outcome(op: &Op, outcome: Outcome) -> Op {
    let mut op = op.clone();
    if let Some(c) = &mut op.completion {
        *c = Completion {
            outcome,
            ..c.clone()
        };
    }
    op
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn simulated_histories_pass(config in config()) {
        let (history, initial) = simulate(config);
        assert_ok("linearizable", check_linearizable(&history, &initial, BUDGET), &history, &initial);
        // The simulator keeps one request per session in flight, so FIFO order is real-time
        // order and both must pass.
        for order in [SessionOrder::RealTime, SessionOrder::Fifo] {
            assert_ok("sessions", check_sessions_with(&history, &initial, order), &history, &initial);
            assert_ok("zxids", check_zxids_with(&history, order), &history, &initial);
        }
        assert_ok("all", check_all(&history, &initial, &CheckOptions::default()), &history, &initial);

        let text = history.to_text(&initial);
        let (parsed, parsed_initial) = History::from_text(&text).expect("round trip");
        prop_assert_eq!(&parsed, &history);
        prop_assert_eq!(&parsed_initial, &initial);
    }

    /// A read (plain or sync) that returns a value nobody wrote.
    #[test]
    fn read_of_unwritten_value_is_caught(config in config(), choice in any::<u64>()) {
        let (history, initial) = simulate(config);
        let mut rng = Rng::new(choice);
        let reads = successful(&history, |op| op.operation.is_read());
        let Some(target) = pick(&mut rng, &reads) else { return Ok(()) };
        let mut was_sync = false;
        let bad = rebuild(&history, |op| {
            if op.id.0 != target {
                return op.clone();
            }
            was_sync = matches!(op.operation, Operation::SyncRead { .. });
            let Some(Reply::Data { version, .. }) = op.reply() else { return op.clone() };
            with_outcome(op, Outcome::data("never-written", *version))
        });
        assert_violation("sessions", check_sessions(&bad, &initial), &bad, &initial);
        if was_sync {
            assert_violation("linearizable", check_linearizable(&bad, &initial, BUDGET), &bad, &initial);
        }
        assert_violation("all", check_all(&bad, &initial, &CheckOptions::default()), &bad, &initial);
    }

    /// A successful CAS whose expected version is not the one its new version replaced.
    #[test]
    fn cas_with_impossible_expected_version_is_caught(config in config(), choice in any::<u64>()) {
        let (history, initial) = simulate(config);
        let mut rng = Rng::new(choice);
        let cases = successful(&history, |op| matches!(op.operation, Operation::Cas { .. }));
        let Some(target) = pick(&mut rng, &cases) else { return Ok(()) };
        let shift = 1 + rng.below(3) as i32;
        let bad = rebuild(&history, |op| {
            let mut op = op.clone();
            if op.id.0 == target {
                if let Operation::Cas { expected_version, .. } = &mut op.operation {
                    *expected_version = expected_version.wrapping_add(shift);
                }
            }
            op
        });
        assert_violation("linearizable", check_linearizable(&bad, &initial, BUDGET), &bad, &initial);
    }

    /// Two successful writes on a key claiming the same new version.
    #[test]
    fn duplicated_write_version_is_caught(config in config(), choice in any::<u64>()) {
        let (history, initial) = simulate(config);
        let mut rng = Rng::new(choice);
        let writes = successful(&history, |op| !op.operation.is_read());
        let Some(target) = pick(&mut rng, &writes) else { return Ok(()) };
        let key = history.ops()[target].key().to_string();
        let others: Vec<usize> = writes
            .iter()
            .copied()
            .filter(|&i| i != target && history.ops()[i].key() == key)
            .collect();
        let Some(source) = pick(&mut rng, &others) else { return Ok(()) };
        let Some(reply) = history.ops()[source].reply().cloned() else { return Ok(()) };
        let bad = rebuild(&history, |op| {
            if op.id.0 == target {
                with_outcome(op, Outcome::Ok(reply.clone()))
            } else {
                op.clone()
            }
        });
        assert_violation("sessions", check_sessions(&bad, &initial), &bad, &initial);
        assert_violation("linearizable", check_linearizable(&bad, &initial, BUDGET), &bad, &initial);
    }
}
