//! A deliberately naive linearizability checker, to cross-check the optimized search on small
//! random histories, good and bad: it tries every order that respects real time (with a memo
//! of placed set and state, nothing else), so it shares none of the search's pruning or
//! dominance rules.

use std::collections::{BTreeMap, HashSet};

use corral_history::{
    check_linearizable, check_sessions, History, InitialState, Op, Operation, Outcome, Register,
    Reply,
};
use proptest::prelude::*;

use crate::sim::{rebuild, simulate, Config, Rng};

struct RefOp<'a> {
    op: &'a Op,
    required: bool,
    deadline: Option<u64>,
}

/// `Some(true)`: linearizable; `None`: gave up (too many ops for brute force).
pub fn reference(history: &History, initial: &InitialState) -> Option<bool> {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history.ops() {
        by_key.entry(op.key()).or_default().push(op);
    }
    for (key, ops) in by_key {
        let register = initial.get(key)?;
        let ops: Vec<RefOp<'_>> = ops
            .into_iter()
            .filter_map(|op| {
                let required = op.reply().is_some();
                let keep = match &op.operation {
                    Operation::Read { .. } => false,
                    Operation::SyncRead { .. } => required,
                    _ => required || op.is_indefinite(),
                };
                keep.then(|| RefOp {
                    op,
                    required,
                    deadline: op.definite_completion(),
                })
            })
            .collect();
        if ops.len() > 16 {
            return None;
        }
        let mut seen = HashSet::new();
        if !search(&ops, 0, register.clone(), &mut seen) {
            return Some(false);
        }
    }
    Some(true)
}

fn search(
    ops: &[RefOp<'_>],
    placed: u32,
    state: Register,
    seen: &mut HashSet<(u32, Register)>,
) -> bool {
    let all_required = ops
        .iter()
        .enumerate()
        .all(|(i, op)| !op.required || placed & (1 << i) != 0);
    if all_required {
        return true;
    }
    if !seen.insert((placed, state.clone())) {
        return false;
    }
    for (i, candidate) in ops.iter().enumerate() {
        if placed & (1 << i) != 0 {
            continue;
        }
        // Every unplaced op that returned before this one was invoked must come first.
        let blocked = ops.iter().enumerate().any(|(j, other)| {
            j != i
                && placed & (1 << j) == 0
                && other.deadline.is_some_and(|d| d < candidate.op.invoked_at)
        });
        if blocked {
            continue;
        }
        if let Some(next) = apply(&state, candidate) {
            if search(ops, placed | (1 << i), next, seen) {
                return true;
            }
        }
    }
    false
}

fn apply(state: &Register, op: &RefOp<'_>) -> Option<Register> {
    let bumped = state.version.wrapping_add(1);
    match (&op.op.operation, op.op.reply()) {
        (Operation::SyncRead { .. }, Some(Reply::Data { value, version })) => {
            (*value == state.value && *version == state.version).then(|| state.clone())
        }
        (Operation::Write { value, .. }, reply) => {
            let fits = match reply {
                Some(Reply::Written { version }) => *version == bumped,
                _ => true,
            };
            fits.then(|| Register::new(value.clone(), bumped))
        }
        (
            Operation::Cas {
                expected_version,
                value,
                ..
            },
            reply,
        ) => {
            let fits = *expected_version == state.version
                && match reply {
                    Some(Reply::Written { version }) => *version == bumped,
                    _ => true,
                };
            fits.then(|| Register::new(value.clone(), bumped))
        }
        _ => None,
    }
}

/// Changes a few results, times or outcomes at random: sometimes harmless, often not.
pub fn mutate(history: &History, seed: u64, changes: u32) -> History {
    let mut rng = Rng::new(seed);
    let values: Vec<Vec<u8>> = history
        .ops()
        .iter()
        .filter_map(|op| op.operation.written_value().map(<[u8]>::to_vec))
        .collect();
    let mut out = history.clone();
    for _ in 0..changes {
        let len = out.len() as u64;
        let target = rng.below(len.max(1)) as usize;
        let kind = rng.below(5);
        let delta = if rng.chance(500) { 1 } else { -1 };
        let value = values
            .get(rng.below(values.len() as u64) as usize)
            .cloned()
            .unwrap_or_default();
        let shift = rng.below(6);
        out = rebuild(&out, |op| {
            let mut op = op.clone();
            if op.id.0 != target {
                return op;
            }
            let Some(c) = &mut op.completion else {
                return op;
            };
            match (kind, &mut c.outcome) {
                (0, Outcome::Ok(Reply::Data { version, .. }))
                | (0, Outcome::Ok(Reply::Written { version })) => {
                    *version = version.wrapping_add(delta)
                }
                (1, Outcome::Ok(Reply::Data { value: v, .. })) => *v = value.clone(),
                (2, _) => {
                    // Later invocation, same completion if still possible.
                    op.invoked_at = (op.invoked_at + shift).min(c.at);
                }
                (3, Outcome::Ok(_)) => c.outcome = Outcome::Unknown,
                (4, _) => c.at += shift,
                _ => {}
            }
            op
        });
    }
    out
}

fn small_config() -> impl Strategy<Value = Config> {
    (
        1usize..=2,
        1usize..=4,
        2usize..=18,
        0u64..=400,
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn search_agrees_with_brute_force(
        config in small_config(),
        seed in any::<u64>(),
        changes in 0u32..=2,
    ) {
        let (history, initial) = simulate(config);
        let history = mutate(&history, seed, changes);
        let Some(expected) = reference(&history, &initial) else { return Ok(()) };
        let verdict = check_linearizable(&history, &initial, 1_000_000);
        prop_assert!(
            !verdict.is_inconclusive() && verdict.is_ok() == expected,
            "reference says {}, search says {}\n{}",
            if expected { "linearizable" } else { "not linearizable" },
            verdict,
            history.to_text(&initial)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Every condition the session check enforces holds in a linearizable history (with all
    /// reads synced, linearizability implies them), so a session violation must mean the
    /// brute force finds no linearization either.
    #[test]
    fn session_violations_are_real(
        config in small_config(),
        seed in any::<u64>(),
        changes in 0u32..=3,
    ) {
        let (history, initial) = simulate(config);
        let history = mutate(&history, seed, changes);
        let synced = rebuild(&history, |op| {
            let mut op = op.clone();
            if let Operation::Read { key } = &op.operation {
                op.operation = Operation::SyncRead { key: key.clone() };
            }
            op
        });
        let Some(linearizable) = reference(&synced, &initial) else { return Ok(()) };
        let sessions = check_sessions(&synced, &initial);
        prop_assert!(
            !(linearizable && sessions.is_violation()),
            "linearizable, yet the session check says {}\n{}",
            sessions,
            synced.to_text(&initial)
        );
    }
}

#[test]
fn reference_agrees_on_the_hand_written_cases() {
    // Sanity of the reference itself: a stale sync-read is caught, an unknown write is allowed.
    let mut initial = InitialState::new();
    initial.insert("/a".into(), Register::new("", 0));
    let mut h = History::new();
    let w = h.invoke(
        1,
        Operation::Write {
            key: "/a".into(),
            value: b"x".to_vec(),
        },
        0,
    );
    h.complete(w, Outcome::written(1), 10).expect("valid");
    let r = h.invoke(2, Operation::SyncRead { key: "/a".into() }, 20);
    h.complete(r, Outcome::data("", 0), 30).expect("valid");
    assert_eq!(reference(&h, &initial), Some(false));
    let mut h = History::new();
    let w = h.invoke(
        1,
        Operation::Write {
            key: "/a".into(),
            value: b"x".to_vec(),
        },
        0,
    );
    h.complete(w, Outcome::Unknown, 10).expect("valid");
    let r = h.invoke(2, Operation::SyncRead { key: "/a".into() }, 20);
    h.complete(r, Outcome::data("x", 1), 30).expect("valid");
    assert_eq!(reference(&h, &initial), Some(true));
}
