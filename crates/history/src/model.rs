//! The sequential specification of one znode used as a register, in the form the
//! linearizability search wants: small copyable states and a step function.
//!
//! A state is `(value, count)`: the value is interned (the search hashes states constantly, and
//! values can be large), and `count` is how many writes have been applied since the initial
//! state, so the version is `initial_version + count` with ZooKeeper's 32-bit wrap-around.
//! Counting writes instead of storing versions keeps "versions only go up" true even across the
//! wrap, which is what lets the search prune (see [`ModelOp::pre_count`]).

use std::collections::{HashMap, HashSet};

use crate::history::{Op, Operation, Register, Reply};

/// Index into [`KeyModel::values`].
pub(crate) type ValueId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct State {
    pub value: ValueId,
    /// Writes applied since the initial state.
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// setData without a version; `returned` is the new version when the reply was seen.
    Write {
        value: ValueId,
        returned: Option<i32>,
    },
    /// setData with a version.
    Cas {
        expected: i32,
        value: ValueId,
        returned: Option<i32>,
    },
    /// sync + getData that returned `(value, version)`.
    Read { value: ValueId, version: i32 },
}

/// One operation that takes part in the linearizability search.
#[derive(Debug, Clone)]
pub(crate) struct ModelOp<'a> {
    pub op: &'a Op,
    pub effect: Effect,
    /// Ok ops must be placed; Unknown ops may be placed after their invocation or never.
    pub required: bool,
    /// The latest time the op can take effect: its completion when the outcome is definite,
    /// none (unbounded) for Unknown ops.
    pub deadline: Option<u64>,
    /// For required ops: the write count the register must be at when this op takes effect
    /// (a write returning version v happens at version v-1; a CAS at its expected version; a
    /// read at the version it saw). Counts only go up, so once the register is past this
    /// count the op can never be placed — the search's main pruning rule.
    pub pre_count: Option<u32>,
    /// For unknown-outcome writes and CAS: the group of interchangeable ops it belongs to
    /// (index into [`KeyModel::groups`]).
    pub group: Option<usize>,
}

/// The register of one key and the operations on it that the search considers.
#[derive(Debug)]
pub(crate) struct KeyModel<'a> {
    pub key: &'a str,
    pub initial_version: i32,
    pub values: Vec<&'a [u8]>,
    pub ops: Vec<ModelOp<'a>>,
    /// Groups of interchangeable unknown-outcome ops.
    pub groups: Vec<Group>,
    /// Version counts at which a successful sync-read saw a value: whatever write produces
    /// that count must have written it.
    pub seen_at: HashMap<u32, ValueId>,
    /// CAS groups by the version they expect.
    pub cas_groups: HashMap<i32, Vec<usize>>,
    /// Write groups by value (`None`: the group of values no sync-read returned).
    pub write_groups: HashMap<Option<ValueId>, usize>,
    /// Write groups of read values with more members than reserved versions: the only ones
    /// that may also fill a version nobody read.
    pub surplus_groups: Vec<usize>,
}

/// Unknown-outcome ops that can stand in for each other (see `assign_groups`).
#[derive(Debug, Default)]
pub(crate) struct Group {
    /// Indices into [`KeyModel::ops`], in invocation order.
    pub members: Vec<usize>,
    /// Version counts only this group can produce: a sync-read saw this group's value there
    /// and no successful write claims that version. Empty for groups of unseen values.
    pub reserved: Vec<u32>,
    /// The members' value was never returned by a successful sync-read.
    pub anonymous: bool,
    /// For CAS groups: the version the members expect.
    pub expected: Option<i32>,
}

impl<'a> KeyModel<'a> {
    /// Selects the operations the linearizability check is about: writes, CAS and sync-reads
    /// with a successful or unknown outcome. Plain reads are only sequentially consistent in
    /// ZooKeeper; failed ops did not happen; an unknown read observed nothing.
    pub fn build(key: &'a str, initial: &'a Register, ops: &[&'a Op]) -> Self {
        let mut interner = Interner::default();
        let initial_value = interner.intern(&initial.value);
        debug_assert_eq!(initial_value, 0);
        let mut model_ops = Vec::new();
        for &op in ops {
            let reply = op.reply();
            let required = reply.is_some();
            if !required && !op.is_indefinite() {
                continue; // failed
            }
            let effect = match (&op.operation, reply) {
                (Operation::Read { .. }, _) => continue,
                (Operation::SyncRead { .. }, Some(Reply::Data { value, version })) => {
                    Effect::Read {
                        value: interner.intern(value),
                        version: *version,
                    }
                }
                (Operation::SyncRead { .. }, _) => continue,
                (Operation::Write { value, .. }, reply) => Effect::Write {
                    value: interner.intern(value),
                    returned: written_version(reply),
                },
                (
                    Operation::Cas {
                        expected_version,
                        value,
                        ..
                    },
                    reply,
                ) => Effect::Cas {
                    expected: *expected_version,
                    value: interner.intern(value),
                    returned: written_version(reply),
                },
            };
            let pre_version = match effect {
                Effect::Write { returned, .. } => returned.map(|v| v.wrapping_sub(1)),
                Effect::Cas { expected, .. } if required => Some(expected),
                Effect::Cas { .. } => None,
                Effect::Read { version, .. } => Some(version),
            };
            model_ops.push(ModelOp {
                op,
                effect,
                required,
                deadline: op.definite_completion(),
                pre_count: pre_version.map(|v| count_of(initial.version, v)),
                group: None,
            });
        }
        let mut groups = assign_groups(&mut model_ops);
        let seen_at = reserve(initial.version, &model_ops, &mut groups);
        let mut cas_groups: HashMap<i32, Vec<usize>> = HashMap::new();
        let mut write_groups = HashMap::new();
        let mut surplus_groups = Vec::new();
        for (index, group) in groups.iter().enumerate() {
            if let Some(expected) = group.expected {
                cas_groups.entry(expected).or_default().push(index);
                continue;
            }
            let value = group
                .members
                .first()
                .and_then(|&m| match model_ops[m].effect {
                    Effect::Write { value, .. } => Some(value),
                    _ => None,
                });
            write_groups.insert(value.filter(|_| !group.anonymous), index);
            if !group.anonymous && group.members.len() > group.reserved.len() {
                surplus_groups.push(index);
            }
        }
        KeyModel {
            cas_groups,
            write_groups,
            surplus_groups,
            key,
            initial_version: initial.version,
            values: interner.values,
            ops: model_ops,
            groups,
            seen_at,
        }
    }

    pub fn initial_state(&self) -> State {
        State { value: 0, count: 0 }
    }

    pub fn version(&self, state: State) -> i32 {
        version_of(self.initial_version, state.count)
    }

    pub fn value(&self, state: State) -> &'a [u8] {
        self.values
            .get(state.value as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Whether a write that left `after` can still be part of a linearization, judged by what
    /// successful sync-reads saw: the value at that version must be the one read there, and a
    /// group must keep enough members for the versions only it can produce. `used` is how many
    /// of the op's group are placed, not counting this op. Both are necessary conditions, so
    /// refusing a step on them never loses a linearization.
    pub fn fits_reads(&self, op: &ModelOp<'_>, after: State, used: usize) -> bool {
        if matches!(op.effect, Effect::Read { .. }) {
            return true;
        }
        if self
            .seen_at
            .get(&after.count)
            .is_some_and(|&v| v != after.value)
        {
            return false;
        }
        let Some(group) = op.group.and_then(|g| self.groups.get(g)) else {
            return true;
        };
        if group.reserved.binary_search(&after.count).is_ok() {
            return true;
        }
        let left = group.members.len().saturating_sub(used + 1);
        let still_needed =
            group.reserved.len() - group.reserved.partition_point(|&c| c <= after.count);
        left >= still_needed
    }

    /// The state after `op` takes effect in `state`, or `None` if it cannot take effect there
    /// with the outcome it had.
    pub fn step(&self, state: State, op: &ModelOp<'_>) -> Option<State> {
        let version = self.version(state);
        let next = State {
            value: 0,
            count: state.count.wrapping_add(1),
        };
        match op.effect {
            Effect::Write { value, returned } => {
                if returned.is_some_and(|r| r != version.wrapping_add(1)) {
                    return None;
                }
                Some(State { value, ..next })
            }
            Effect::Cas {
                expected,
                value,
                returned,
            } => {
                // An Unknown CAS that ran and found another version had no effect, which is
                // the same as not placing it at all; so placing it means it succeeded.
                if expected != version || returned.is_some_and(|r| r != version.wrapping_add(1)) {
                    return None;
                }
                Some(State { value, ..next })
            }
            Effect::Read {
                value,
                version: seen,
            } => (value == state.value && seen == version).then_some(state),
        }
    }
}

/// Groups unknown-outcome writes that are interchangeable: same kind (a write, or a CAS on
/// the same expected version) and same value — where values no successful sync-read returned
/// count as all the same, since nothing the search checks can tell them apart. Such ops have
/// no deadline, so once invoked any of them can stand in for another; the search only ever
/// places the earliest-invoked unplaced op of a group, which removes the factorial number of
/// equivalent orders an exhaustive search of a failing history would otherwise walk.
fn assign_groups(ops: &mut [ModelOp<'_>]) -> Vec<Group> {
    let seen: HashSet<ValueId> = ops
        .iter()
        .filter(|op| op.required)
        .filter_map(|op| match op.effect {
            Effect::Read { value, .. } => Some(value),
            _ => None,
        })
        .collect();
    // (expected version for a CAS, value if some read returned it)
    let mut ids: HashMap<(Option<i32>, Option<ValueId>), usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| !ops[i].required).collect();
    order.sort_by_key(|&i| (ops[i].op.invoked_at, i));
    for i in order {
        let (expected, value) = match ops[i].effect {
            Effect::Write { value, .. } => (None, value),
            Effect::Cas {
                expected, value, ..
            } => (Some(expected), value),
            Effect::Read { .. } => continue,
        };
        let value = seen.contains(&value).then_some(value);
        let group = *ids.entry((expected, value)).or_insert_with(|| {
            groups.push(Group {
                anonymous: value.is_none(),
                expected,
                ..Group::default()
            });
            groups.len() - 1
        });
        groups[group].members.push(i);
        ops[i].group = Some(group);
    }
    groups
}

/// Fills each group's reserved versions and returns where sync-reads saw which value.
fn reserve(
    initial_version: i32,
    ops: &[ModelOp<'_>],
    groups: &mut [Group],
) -> HashMap<u32, ValueId> {
    let mut seen_at = HashMap::new();
    // Versions something other than a plain-write group could produce: claimed by a successful
    // write, or (with that value) reachable by an unknown CAS.
    let mut claimed = HashSet::new();
    let mut by_cas = HashSet::new();
    for op in ops {
        match (op.effect, op.pre_count, op.required) {
            // Two reads of one version with different values cannot both be satisfied; keeping
            // either one is still a necessary condition.
            (Effect::Read { value, .. }, Some(count), true) => {
                seen_at.entry(count).or_insert(value);
            }
            (_, Some(count), true) => {
                claimed.insert(count.wrapping_add(1));
            }
            (
                Effect::Cas {
                    expected, value, ..
                },
                _,
                false,
            ) => {
                by_cas.insert((count_of(initial_version, expected).wrapping_add(1), value));
            }
            _ => {}
        }
    }
    for group in groups.iter_mut() {
        let Some(value) = group.members.first().and_then(|&i| match ops[i].effect {
            Effect::Write { value, .. } | Effect::Cas { value, .. } => Some(value),
            Effect::Read { .. } => None,
        }) else {
            continue;
        };
        // A CAS group can only ever produce one version, and the value check already ties it
        // there; only plain-write groups reserve.
        if group.expected.is_some() {
            continue;
        }
        group.reserved = seen_at
            .iter()
            .filter(|&(count, &v)| {
                v == value && !claimed.contains(count) && !by_cas.contains(&(*count, value))
            })
            .map(|(&count, _)| count)
            .collect();
        group.reserved.sort_unstable();
    }
    seen_at
}

fn written_version(reply: Option<&Reply>) -> Option<i32> {
    match reply {
        Some(Reply::Written { version }) => Some(*version),
        _ => None,
    }
}

/// How many writes take `initial` to `version`, modulo 2^32 like the version itself. A version
/// "before" the initial one maps to a huge count no history reaches, which is the right answer:
/// such an op can never be placed.
pub(crate) fn count_of(initial: i32, version: i32) -> u32 {
    // Reinterpreting the wrapped difference as unsigned is the point: it is a count mod 2^32.
    version.wrapping_sub(initial) as u32
}

pub(crate) fn version_of(initial: i32, count: u32) -> i32 {
    // The inverse of `count_of`, also mod 2^32.
    initial.wrapping_add(count as i32)
}

#[derive(Default)]
struct Interner<'a> {
    ids: HashMap<&'a [u8], ValueId>,
    values: Vec<&'a [u8]>,
}

impl<'a> Interner<'a> {
    fn intern(&mut self, value: &'a [u8]) -> ValueId {
        if let Some(id) = self.ids.get(value) {
            return *id;
        }
        // More than 2^32 distinct values cannot come from a history that fits in memory.
        let id = ValueId::try_from(self.values.len()).unwrap_or(ValueId::MAX);
        self.values.push(value);
        self.ids.insert(value, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_survive_version_wrap() {
        assert_eq!(count_of(i32::MAX, i32::MIN), 1);
        assert_eq!(version_of(i32::MAX, 1), i32::MIN);
        assert_eq!(count_of(5, 4), u32::MAX);
        assert_eq!(count_of(0, 7), 7);
    }
}
