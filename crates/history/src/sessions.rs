//! Check 2: what ZooKeeper promises plain reads — sequential consistency, as seen by each
//! session.
//!
//! Plain reads may be stale (a follower answers from what it has applied), so they are not
//! part of the linearizability search. What they must still satisfy:
//! - every (value, version) a read returns was produced by a write, or is the initial state:
//!   each version of a key is written exactly once (writes are totally ordered and bump the
//!   version by one), so a version names one write and one value. Versions that no successful
//!   write claimed must be explained by distinct writes with an unknown outcome that wrote that
//!   value (a bipartite matching), invoked before the read completed;
//! - a version `v` needs `v - initial` writes to have taken effect before whoever saw it
//!   completed;
//! - no read sees a write invoked after the read completed;
//! - within a session, versions of a key never go back: a read sees at least what the session
//!   read or wrote before, and a write produces a newer version than that.
//!
//! The version order is the write order, so these per-session conditions are what "one order
//! of writes consistent with every session's observations" comes down to for single-key
//! registers.
//!
//! "Before" within a session is chosen by [`SessionOrder`]. Only successful replies count:
//! an operation with an unknown outcome may have taken effect, but the session never saw its
//! version (and ZooKeeper lets a reconnected session land on a server that has not applied
//! it yet).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use crate::history::{ops_by_key, History, InitialState, Op, Operation, Register, Reply};
use crate::model::count_of;
use crate::verdict::{InconclusiveReason, Verdict, Violation};

/// Which operations of a session count as before another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionOrder {
    /// `a` is before `b` when `a` completed strictly before `b` was invoked. Always sound,
    /// whatever the recorder does with concurrent requests on one session.
    #[default]
    RealTime,
    /// `a` is before `b` when `a` was invoked first (ties by op id): ZooKeeper executes a
    /// session's requests in submission order, so this also checks pipelined requests. Only
    /// correct if the recorder invokes in the order requests are written to the connection.
    Fifo,
}

/// Counts at or past this are versions before the initial one (see `model::count_of`): no
/// history has two billion writes to one key.
const BEFORE_INITIAL: u32 = 1 << 31;

/// Checks per-session sequential consistency of all reads, with [`SessionOrder::RealTime`].
pub fn check_sessions(history: &History, initial: &InitialState) -> Verdict {
    check_sessions_with(history, initial, SessionOrder::RealTime)
}

/// Checks per-session sequential consistency of all reads.
pub fn check_sessions_with(
    history: &History,
    initial: &InitialState,
    order: SessionOrder,
) -> Verdict {
    let mut verdict = Verdict::Ok;
    for (key, ops) in ops_by_key(history) {
        let Some(register) = initial.get(key) else {
            verdict = verdict.and(Verdict::Inconclusive {
                reason: InconclusiveReason::NoInitialState { key: key.into() },
            });
            continue;
        };
        if let Err(v) = check_key(key, register, &ops) {
            return Verdict::Violation(v);
        }
    }
    match check_session_versions(history, initial, order) {
        Ok(()) => verdict,
        Err(v) => Verdict::Violation(v),
    }
}

/// The version an operation saw or produced, for successful ones.
fn observed(op: &Op) -> Option<(&[u8], i32)> {
    match (op.reply(), &op.operation) {
        (Some(Reply::Data { value, version }), _) => Some((value, *version)),
        (
            Some(Reply::Written { version }),
            Operation::Write { value, .. } | Operation::Cas { value, .. },
        ) => Some((value, *version)),
        _ => None,
    }
}

fn boxed(op: &Op) -> Box<Op> {
    Box::new(op.clone())
}

/// A version no successful write claimed, seen by reads.
struct Unclaimed<'a> {
    value: &'a [u8],
    first: &'a Op,
    /// The earliest completion among the reads that saw it: its write was invoked by then.
    deadline: u64,
}

fn check_key(key: &str, initial: &Register, ops: &[&Op]) -> Result<(), Violation> {
    let count = |version: i32| count_of(initial.version, version);

    // Successful writes, by the version count they produced.
    let mut writers: BTreeMap<u32, &Op> = BTreeMap::new();
    for &op in ops {
        let Some((_, version)) = observed(op).filter(|_| !op.operation.is_read()) else {
            continue;
        };
        let c = count(version);
        if c == 0 || c >= BEFORE_INITIAL {
            return Err(Violation::VersionNotAfterInitial {
                key: key.into(),
                version,
                initial_version: initial.version,
                op: boxed(op),
            });
        }
        if let Some(first) = writers.insert(c, op) {
            return Err(Violation::DuplicateVersion {
                key: key.into(),
                version,
                first: boxed(first),
                second: boxed(op),
            });
        }
    }
    // For "read from the future": the latest invocation among writes up to each version.
    let mut latest_writer: Vec<(u32, &Op)> = Vec::with_capacity(writers.len());
    for (&c, &op) in &writers {
        let latest = match latest_writer.last() {
            Some(&(_, prev)) if prev.invoked_at >= op.invoked_at => prev,
            _ => op,
        };
        latest_writer.push((c, latest));
    }

    let mut unclaimed: BTreeMap<u32, Unclaimed<'_>> = BTreeMap::new();
    for &op in ops {
        let (Some((value, version)), Some(completed)) = (
            observed(op).filter(|_| op.operation.is_read()),
            op.definite_completion(),
        ) else {
            continue;
        };
        let c = count(version);
        if c >= BEFORE_INITIAL {
            return Err(Violation::VersionNotAfterInitial {
                key: key.into(),
                version,
                initial_version: initial.version,
                op: boxed(op),
            });
        }
        let below = latest_writer.partition_point(|&(wc, _)| wc <= c);
        if let Some(&(_, write)) = below.checked_sub(1).and_then(|i| latest_writer.get(i)) {
            if write.invoked_at > completed {
                return Err(Violation::ReadFromFuture {
                    key: key.into(),
                    read: boxed(op),
                    write: boxed(write),
                });
            }
        }
        let expected = if c == 0 {
            Some((initial.value.as_slice(), None))
        } else {
            writers
                .get(&c)
                .map(|w| (w.operation.written_value().unwrap_or_default(), Some(*w)))
        };
        match expected {
            Some((expected, writer)) => {
                if expected != value {
                    return Err(Violation::WrongValueForVersion {
                        key: key.into(),
                        version,
                        value: value.to_vec(),
                        expected: expected.to_vec(),
                        read: boxed(op),
                        writer: writer.map(boxed),
                    });
                }
            }
            None => match unclaimed.get_mut(&c) {
                Some(u) if u.value != value => {
                    return Err(Violation::ConflictingReads {
                        key: key.into(),
                        version,
                        first: boxed(u.first),
                        second: boxed(op),
                    });
                }
                Some(u) => u.deadline = u.deadline.min(completed),
                None => {
                    unclaimed.insert(
                        c,
                        Unclaimed {
                            value,
                            first: op,
                            deadline: completed,
                        },
                    );
                }
            },
        }
    }

    let indefinite: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|op| op.is_indefinite() && !op.operation.is_read())
        .collect();
    match_unclaimed(key, initial, &unclaimed, &indefinite)?;
    check_write_counts(key, initial, ops, &writers, &indefinite)
}

/// Every unclaimed version needs its own unknown-outcome write of the value read, invoked
/// before the first read of it completed (and, for a CAS, expecting the version before).
/// Kuhn's augmenting paths: the graphs are small (versions nobody claimed).
fn match_unclaimed(
    key: &str,
    initial: &Register,
    unclaimed: &BTreeMap<u32, Unclaimed<'_>>,
    indefinite: &[&Op],
) -> Result<(), Violation> {
    if unclaimed.is_empty() {
        return Ok(());
    }
    let mut by_value: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (index, op) in indefinite.iter().enumerate() {
        if let Some(value) = op.operation.written_value() {
            by_value.entry(value).or_default().push(index);
        }
    }
    let versions: Vec<(&u32, &Unclaimed<'_>)> = unclaimed.iter().collect();
    let edges: Vec<Vec<usize>> = versions
        .iter()
        .map(|&(&c, u)| {
            by_value
                .get(u.value)
                .map(|candidates| {
                    candidates
                        .iter()
                        .copied()
                        .filter(|&w| {
                            let op = indefinite[w];
                            let fits_cas = match op.operation {
                                Operation::Cas {
                                    expected_version, ..
                                } => {
                                    count_of(initial.version, expected_version).wrapping_add(1) == c
                                }
                                _ => true,
                            };
                            fits_cas && op.invoked_at <= u.deadline
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; indefinite.len()];
    for (version, &(&c, u)) in versions.iter().enumerate() {
        let mut visited = vec![false; indefinite.len()];
        if !augment(version, &edges, &mut owner, &mut visited) {
            return Err(Violation::ValueNeverWritten {
                key: key.into(),
                version: crate::model::version_of(initial.version, c),
                value: u.value.to_vec(),
                read: boxed(u.first),
            });
        }
    }
    Ok(())
}

fn augment(
    version: usize,
    edges: &[Vec<usize>],
    owner: &mut [Option<usize>],
    visited: &mut [bool],
) -> bool {
    for &w in &edges[version] {
        if visited[w] {
            continue;
        }
        visited[w] = true;
        let free = match owner[w] {
            None => true,
            Some(other) => augment(other, edges, owner, visited),
        };
        if free {
            owner[w] = Some(version);
            return true;
        }
    }
    false
}

/// Whoever saw version count `c` (a read, or the write that produced it) completed after `c`
/// writes took effect; each was a successful write claiming a version up to `c` or a write
/// with an unknown outcome invoked before that completion.
fn check_write_counts(
    key: &str,
    initial: &Register,
    ops: &[&Op],
    writers: &BTreeMap<u32, &Op>,
    indefinite: &[&Op],
) -> Result<(), Violation> {
    let claimed: Vec<u32> = writers.keys().copied().collect();
    let mut invoked: Vec<u64> = indefinite.iter().map(|op| op.invoked_at).collect();
    invoked.sort_unstable();
    for &op in ops {
        let (Some((_, version)), Some(completed)) = (observed(op), op.definite_completion()) else {
            continue;
        };
        let c = count_of(initial.version, version);
        let claimed_up_to = claimed.partition_point(|&w| w <= c) as u64;
        let unknown_before = invoked.partition_point(|&t| t <= completed) as u64;
        let possible = claimed_up_to + unknown_before;
        if u64::from(c) > possible {
            return Err(Violation::TooFewWrites {
                key: key.into(),
                version,
                needed: c.into(),
                possible,
                op: boxed(op),
            });
        }
    }
    Ok(())
}

/// What [`in_session_order`] asks of its visitor for one op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Visit {
    /// Check the op against everything folded so far in its session.
    Check,
    /// The op is now before every op checked from here on in its session.
    Fold,
}

/// Runs each session's relevant operations in `order`: every op is checked after all ops
/// before it in its session have been folded. Only ops with a definite outcome take part.
pub(crate) fn in_session_order<'a, E>(
    history: &'a History,
    order: SessionOrder,
    relevant: impl Fn(&Op) -> bool,
    mut visit: impl FnMut(&'a Op, Visit) -> Result<(), E>,
) -> Result<(), E> {
    let mut sessions: BTreeMap<u64, Vec<&'a Op>> = BTreeMap::new();
    for op in history.ops() {
        if op.definite_completion().is_some() && relevant(op) {
            sessions.entry(op.session).or_default().push(op);
        }
    }
    for ops in sessions.values_mut() {
        ops.sort_by_key(|op| (op.invoked_at, op.id));
        // Completed ops not folded yet, earliest completion first.
        let mut waiting: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        for (index, &op) in ops.iter().enumerate() {
            if order == SessionOrder::RealTime {
                while let Some(&Reverse((completed, earlier))) = waiting.peek() {
                    if completed >= op.invoked_at {
                        break;
                    }
                    waiting.pop();
                    visit(ops[earlier], Visit::Fold)?;
                }
            }
            visit(op, Visit::Check)?;
            match (order, op.definite_completion()) {
                (SessionOrder::Fifo, _) => visit(op, Visit::Fold)?,
                (SessionOrder::RealTime, Some(completed)) => {
                    waiting.push(Reverse((completed, index)));
                }
                (SessionOrder::RealTime, None) => {}
            }
        }
    }
    Ok(())
}

fn check_session_versions(
    history: &History,
    initial: &InitialState,
    order: SessionOrder,
) -> Result<(), Violation> {
    // Per (session, key): the highest version count seen and the op that showed it. Keys
    // without an initial state were reported as inconclusive already and are skipped.
    let mut floors: HashMap<(u64, &str), (u32, &Op)> = HashMap::new();
    let count = |op: &Op| {
        let (_, version) = observed(op)?;
        let register = initial.get(op.key())?;
        Some(count_of(register.version, version))
    };
    in_session_order(
        history,
        order,
        |op| count(op).is_some(),
        |op, visit| {
            let Some(c) = count(op) else { return Ok(()) };
            let slot = (op.session, op.key());
            match visit {
                Visit::Fold => {
                    let floor = floors.entry(slot).or_insert((c, op));
                    if c > floor.0 {
                        *floor = (c, op);
                    }
                }
                Visit::Check => {
                    let Some(&(floor, earlier)) = floors.get(&slot) else {
                        return Ok(());
                    };
                    // A read may see the same version again; a write makes a new one.
                    let went_back = if op.operation.is_read() {
                        c < floor
                    } else {
                        c <= floor
                    };
                    if went_back {
                        let version_of = |op: &Op| observed(op).map_or(0, |(_, v)| v);
                        return Err(Violation::VersionWentBack {
                            session: op.session,
                            key: op.key().into(),
                            floor: version_of(earlier),
                            version: version_of(op),
                            earlier: boxed(earlier),
                            later: boxed(op),
                        });
                    }
                }
            }
            Ok(())
        },
    )
}
