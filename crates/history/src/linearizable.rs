//! Check 1: per-key linearizability of writes, CAS and sync-reads.
//!
//! Keys are checked independently. ZooKeeper orders all writes, but linearizability is
//! compositional (a history is linearizable iff each object's sub-history is), so the split is
//! exact for single-key operations and turns one exponential search into several small ones.
//!
//! The search is Wing & Gong's, with Lowe's memoization ("Testing for Linearizability", 2017;
//! the same scheme as Knossos' `wgl` and Porcupine): the history becomes a list of call and
//! return entries in time order; the search repeatedly takes the first call entry whose
//! operation can take effect in the current state, "lifts" it (and its return) out of the list
//! and starts over, and when it meets a return entry whose operation has not been placed, that
//! branch is dead and it backtracks. A set of (placed-ops bitset, state) configurations already
//! explored stops it from exploring the same configuration twice. Entries live in a doubly
//! linked list over arrays, so lifting and undoing it are O(1).
//!
//! Operations with an unknown outcome have no return entry: they may take effect any time after
//! their invocation, and the search succeeds as soon as every operation with a known outcome is
//! placed (unplaced unknown ones never took effect — or took effect after everything observed,
//! which nobody can tell apart).
//!
//! Plain WGL is exponential in the number of concurrent and unknown-outcome operations, and a
//! failing history makes it exhaust every alternative. ZooKeeper's versions remove almost all
//! of the choice. Each rule below only cuts branches that cannot lead to a linearization or
//! that another branch covers, so the answer stays exact:
//! - Versions only go up, one per write, and every successful op says the version it needs
//!   (`ModelOp::pre_count`). A step that takes the register past the version some unplaced
//!   successful op needs is refused. So while some successful op needs the current version
//!   only successful ops can be placed, and at a version gap (every unplaced successful op
//!   needs a later version) only unknown-outcome writes can: the two never compete. Unknown ops
//!   therefore live outside the list and are considered only at gaps (`gap_candidates`).
//! - The value at a version a sync-read saw must be the value read, and a value some sync-read
//!   saw at a version nobody claimed must be kept for it (`KeyModel::fits_reads`).
//! - Interchangeable unknown ops (same value, or values nobody read; same expected version for
//!   CAS) are placed in invocation order only (`model::assign_groups`).
//! - Most placements are the only move worth making from their configuration, so when their
//!   branch dies the configuration is dead as well (see [`Choice`]). With versions this covers
//!   nearly every step, which keeps the search close to linear even on a failing history.
//!
//! The search counts steps (entries scanned, placements tried, placements undone) and gives up
//! with `Inconclusive` past its budget; a linearizable history takes about two steps per
//! operation. The memo holds one bitset (ops on the key / 8 bytes) per placement made above a
//! real choice — none on a choice-free path — and stops growing at 64 MiB.

use std::collections::{BTreeMap, HashMap};

use crate::history::{ops_by_key, History, InitialState, Register};
use crate::model::{Effect, KeyModel, ModelOp, State};
use crate::verdict::{InconclusiveReason, NotLinearizable, Verdict, Violation};

/// How many placed operations a violation lists before the stuck one.
const PLACED_SHOWN: usize = 8;
/// How many unplaced candidates a violation lists.
const UNPLACED_SHOWN: usize = 24;

/// Checks that the writes, CAS and sync-reads on each key are linearizable. `budget` bounds
/// the search steps per key; past it the verdict is `Inconclusive`, never a guess.
pub fn check_linearizable(history: &History, initial: &InitialState, budget: u64) -> Verdict {
    let mut verdict = Verdict::Ok;
    for (key, ops) in ops_by_key(history) {
        let Some(register) = initial.get(key) else {
            verdict = verdict.and(Verdict::Inconclusive {
                reason: InconclusiveReason::NoInitialState { key: key.into() },
            });
            continue;
        };
        let model = KeyModel::build(key, register, &ops);
        match Search::new(&model).run(budget) {
            Verdict::Ok => {}
            v @ Verdict::Violation(_) => return v,
            v @ Verdict::Inconclusive { .. } => verdict = verdict.and(v),
        }
    }
    verdict
}

/// One entry of the time-ordered list: an operation's call or its return.
#[derive(Debug, Clone, Copy)]
struct Entry {
    op: usize,
    /// The matching return entry of a call, if the op has one.
    ret: Option<usize>,
    is_call: bool,
}

/// End of the list.
const NIL: usize = usize::MAX;

/// Entries `0..n` plus a head sentinel at index `n`; `prev`/`next` are the links. A lifted
/// entry keeps its own links, so putting entries back in reverse order of lifting restores the
/// list exactly (dancing links). Only successful ops' entries are linked: unknown-outcome ops
/// are chosen separately, at version gaps.
struct List {
    next: Vec<usize>,
    prev: Vec<usize>,
    head: usize,
}

impl List {
    /// A list of the entries for which `linked` is true, in index order; the others are
    /// never part of it.
    fn new(n: usize, linked: impl Fn(usize) -> bool) -> Self {
        let head = n;
        let mut next = vec![NIL; n + 1];
        let mut prev = vec![NIL; n + 1];
        let mut last = head;
        for e in (0..n).filter(|&e| linked(e)) {
            next[last] = e;
            prev[e] = last;
            last = e;
        }
        List { next, prev, head }
    }

    fn first(&self) -> usize {
        self.next[self.head]
    }

    fn lift(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn unlift(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        if n != NIL {
            self.prev[n] = e;
        }
    }
}

/// The set of placed ops, with an incrementally maintained hash (XOR of a random-looking
/// number per op) so the memo table does not rehash the whole bitset at every step.
struct Placed {
    bits: Vec<u64>,
    hash: u64,
}

impl Placed {
    fn new(n: usize) -> Self {
        Placed {
            bits: vec![0; n.div_ceil(64)],
            hash: 0,
        }
    }

    fn toggle(&mut self, op: usize) {
        if let Some(word) = self.bits.get_mut(op / 64) {
            *word ^= 1 << (op % 64);
        }
        self.hash ^= splitmix64(op as u64);
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Most memory the memo may hold, in 64-bit words (64 MiB).
const MEMO_WORDS: usize = 8 << 20;

/// Configurations already explored: (placed set, state). Keyed by the set's hash and the
/// state; the full bitsets settle collisions, so a hit is never a false one. Past
/// [`MEMO_WORDS`] it stops remembering: a missed hit only costs time (the configuration is
/// explored again), never the answer, and the step budget still bounds the time.
#[derive(Default)]
struct Memo {
    seen: HashMap<(u64, State), Vec<Box<[u64]>>>,
    words: usize,
}

impl Memo {
    /// Records the configuration; false if it was already there.
    fn insert(&mut self, placed: &Placed, state: State) -> bool {
        let full = self.words + placed.bits.len() > MEMO_WORDS;
        let key = (placed.hash, state);
        if let Some(bucket) = self.seen.get(&key) {
            if bucket.iter().any(|bits| **bits == placed.bits[..]) {
                return false;
            }
        }
        if !full {
            self.words += placed.bits.len();
            self.seen
                .entry(key)
                .or_default()
                .push(placed.bits.clone().into_boxed_slice());
        }
        true
    }
}

/// A multiset of the version counts that unplaced successful ops need.
#[derive(Default)]
struct Needs {
    counts: BTreeMap<u32, u32>,
}

impl Needs {
    fn add(&mut self, count: Option<u32>) {
        if let Some(c) = count {
            *self.counts.entry(c).or_default() += 1;
        }
    }

    fn remove(&mut self, count: Option<u32>) {
        if let Some(c) = count {
            if let Some(n) = self.counts.get_mut(&c) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&c);
                }
            }
        }
    }

    /// The lowest version count some unplaced successful op still needs.
    fn lowest(&self) -> Option<u32> {
        self.counts.keys().next().copied()
    }

    /// The lowest version count some unplaced successful op still needs, not counting one
    /// need of `own` (the op being placed).
    fn lowest_excluding(&self, own: Option<u32>) -> Option<u32> {
        let mut counts = self.counts.iter();
        let (&first, &n) = counts.next()?;
        if own == Some(first) && n == 1 {
            counts.next().map(|(&c, _)| c)
        } else {
            Some(first)
        }
    }
}

/// How a placement relates to the other moves from the same configuration X.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// If X plus this op has no linearization, X has none: every other move from X is
    /// impossible or covered by this one. By kind:
    /// - a successful write or CAS: the version rule lets it be placed only when no other
    ///   unplaced successful op needs the current version, and then no unknown op fits either
    ///   (it would skip the version this one needs). It is the only move.
    /// - a sync-read: it changes nothing, so a linearization from X that places it later can
    ///   place it now instead (everything between is a read of the same state).
    /// - an unknown CAS at a gap: it can never take effect at another version, while whatever
    ///   else would fill this version stays available for later. The values the two would
    ///   leave differ only where no sync-read looks (if one looks, both must match it).
    /// - an unknown write of a value nobody read, when no CAS fits: it covers writes of read
    ///   values here, which are better kept for their reads for the same reason.
    /// - an unknown write of the value a sync-read saw at this version, when no CAS fits:
    ///   nothing else fits.
    Only,
    /// One of several moves worth trying: a write of a read value, at a version nobody read,
    /// when neither a CAS nor a write of an unread value can fill it.
    OneOf,
}

/// A placement: which op, how to find the alternatives, and the state before it.
struct Frame {
    op: usize,
    before: State,
    choice: Choice,
    /// For gap placements: the index of this op among the gap's candidates.
    candidate: usize,
}

/// The furthest dead end seen, for the explanation.
struct DeadEnd {
    /// Position of the return entry in time order: larger is further.
    position: usize,
    stuck: usize,
    state: State,
    placed_count: usize,
    /// (op, state after it), oldest first.
    placed: Vec<(usize, State)>,
    /// Unplaced successful ops that placing `stuck` would make impossible.
    blocked_by: Vec<usize>,
    unplaced: Vec<usize>,
    unplaced_more: bool,
}

/// What one round of the search did.
enum Round {
    Placed,
    /// No placement from here: backtrack.
    Dead,
}

struct Search<'m, 'a> {
    model: &'m KeyModel<'a>,
    ops: &'m [ModelOp<'a>],
    entries: Vec<Entry>,
    /// Each op's call entry (its position in time order).
    call_entry: Vec<usize>,
    /// Successful ops by the version count they need.
    by_need: HashMap<u32, Vec<usize>>,
    list: List,
    placed: Placed,
    memo: Memo,
    needs: Needs,
    /// Per group: how many of its ops are placed (always its first ones, in order).
    next_in_group: Vec<usize>,
    stack: Vec<Frame>,
    /// How many frames on the stack are `Choice::OneOf`.
    choices: usize,
    state: State,
    required: usize,
    remaining: usize,
    most_placed: usize,
    dead_end: Option<DeadEnd>,
    steps: u64,
}

impl<'m, 'a> Search<'m, 'a> {
    fn new(model: &'m KeyModel<'a>) -> Self {
        let ops = &model.ops[..];
        let entries = build_entries(model);
        let mut call_entry = vec![0; ops.len()];
        for (position, entry) in entries.iter().enumerate() {
            if entry.is_call {
                call_entry[entry.op] = position;
            }
        }
        let mut needs = Needs::default();
        let mut by_need: HashMap<u32, Vec<usize>> = HashMap::new();
        for (index, op) in ops.iter().enumerate().filter(|(_, op)| op.required) {
            needs.add(op.pre_count);
            if let Some(count) = op.pre_count {
                by_need.entry(count).or_default().push(index);
            }
        }
        let required = ops.iter().filter(|op| op.required).count();
        Search {
            model,
            ops,
            list: List::new(entries.len(), |e| ops[entries[e].op].required),
            entries,
            call_entry,
            by_need,
            placed: Placed::new(ops.len()),
            memo: Memo::default(),
            needs,
            next_in_group: vec![0; model.groups.len()],
            stack: Vec::new(),
            choices: 0,
            state: model.initial_state(),
            required,
            remaining: required,
            most_placed: 0,
            dead_end: None,
            steps: 0,
        }
    }

    fn run(mut self, budget: u64) -> Verdict {
        // Where to resume among a gap's candidates after backtracking to it.
        let mut resume_at = 0;
        loop {
            if self.remaining == 0 {
                return Verdict::Ok;
            }
            if self.steps > budget {
                return Verdict::Inconclusive {
                    reason: InconclusiveReason::BudgetExhausted {
                        key: self.model.key.to_string(),
                        budget,
                        placed: self.most_placed,
                        required: self.required,
                    },
                };
            }
            let at_gap = self
                .needs
                .lowest()
                .is_some_and(|lowest| lowest > self.state.count);
            let round = if at_gap {
                self.fill_gap(resume_at)
            } else {
                self.place_next()
            };
            resume_at = 0;
            if let Round::Dead = round {
                match self.backtrack() {
                    Some(next) => resume_at = next,
                    None => {
                        let explanation = explain(self.model, self.dead_end, self.steps);
                        return Verdict::Violation(Violation::NotLinearizable(Box::new(
                            explanation,
                        )));
                    }
                }
            }
        }
    }

    /// Some successful op needs the current version: place the first one in the list that
    /// can take effect now. Meeting a reply first is a dead end.
    fn place_next(&mut self) -> Round {
        let mut entry = self.list.first();
        while let Some(&e) = self.entries.get(entry) {
            self.steps += 1;
            if !e.is_call {
                self.note_dead_end(entry, e.op);
                return Round::Dead;
            }
            if let Some(after) = self.step(&self.ops[e.op], 0) {
                return self.place(e.op, after, Choice::Only, 0);
            }
            entry = self.list.next[entry];
        }
        // Unreachable while a successful op is unplaced (its return entry is in the list).
        Round::Dead
    }

    /// Every unplaced successful op needs a later version: some unknown-outcome write must
    /// take effect now. Tries the candidates from `from` on.
    fn fill_gap(&mut self, from: usize) -> Round {
        let candidates = self.gap_candidates();
        for (index, &(op, after, choice)) in candidates.iter().enumerate().skip(from) {
            self.steps += 1;
            match self.place(op, after, choice, index) {
                Round::Placed => return Round::Placed,
                Round::Dead if choice == Choice::Only => return Round::Dead,
                Round::Dead => {}
            }
        }
        if candidates.is_empty() {
            // Nothing invoked in time can make the version the next reply needs.
            let mut entry = self.list.first();
            while let Some(&e) = self.entries.get(entry) {
                if !e.is_call {
                    self.note_dead_end(entry, e.op);
                    break;
                }
                entry = self.list.next[entry];
            }
        }
        Round::Dead
    }

    /// The unknown-outcome ops worth trying at the current gap, in order, with the state each
    /// leaves. Only ops invoked before the first reply still in the list qualify (anything
    /// later must come after that reply, whose op needs a later version).
    fn gap_candidates(&mut self) -> Vec<(usize, State, Choice)> {
        let mut first_return = self.list.first();
        while first_return != NIL && self.entries[first_return].is_call {
            self.steps += 1;
            first_return = self.list.next[first_return];
        }
        let model = self.model;
        let canonical = |search: &Self, group: usize| -> Option<(usize, State)> {
            let used = search.next_in_group[group];
            let &member = model.groups.get(group)?.members.get(used)?;
            let callable = first_return == NIL || search.call_entry[member] < first_return;
            if !callable {
                return None;
            }
            search
                .step(&search.ops[member], used)
                .map(|after| (member, after))
        };
        // A CAS that fits covers everything else here (see `Choice::Only`).
        let version = model.version(self.state);
        for &g in model.cas_groups.get(&version).into_iter().flatten() {
            if let Some((op, after)) = canonical(self, g) {
                return vec![(op, after, Choice::Only)];
            }
        }
        let next_count = self.state.count.wrapping_add(1);
        let seen = model.seen_at.get(&next_count).copied();
        if let Some(&g) = model.write_groups.get(&seen) {
            if let Some((op, after)) = canonical(self, g) {
                return vec![(op, after, Choice::Only)];
            }
        }
        if seen.is_some() {
            return Vec::new();
        }
        model
            .surplus_groups
            .iter()
            .filter_map(|&g| canonical(self, g))
            .map(|(op, after)| (op, after, Choice::OneOf))
            .collect()
    }

    /// The state after `op` takes effect now, if it can and every unplaced successful op can
    /// still be placed after it as far as versions and read values tell. `used`: how many ops
    /// of its group are placed.
    fn step(&self, op: &ModelOp<'_>, used: usize) -> Option<State> {
        let after = self.model.step(self.state, op)?;
        let own_need = op.pre_count.filter(|_| op.required);
        if self
            .needs
            .lowest_excluding(own_need)
            .is_some_and(|lowest| lowest < after.count)
        {
            return None;
        }
        self.model.fits_reads(op, after, used).then_some(after)
    }

    fn place(&mut self, index: usize, after: State, choice: Choice, candidate: usize) -> Round {
        let op = &self.ops[index];
        self.placed.toggle(index);
        // A configuration can only be reached again after backtracking into an earlier
        // choice, so only configurations above a choice need remembering; on the usual
        // choice-free path the memo stays empty instead of holding a bitset per op.
        if self.choices > 0 && !self.memo.insert(&self.placed, after) {
            // Explored before from another path, and failed.
            self.placed.toggle(index);
            return Round::Dead;
        }
        if choice == Choice::OneOf {
            self.choices += 1;
        }
        self.stack.push(Frame {
            op: index,
            before: self.state,
            choice,
            candidate,
        });
        self.state = after;
        let call = self.call_entry[index];
        if op.required {
            self.list.lift(call);
            if let Some(r) = self.entries[call].ret {
                self.list.lift(r);
            }
            self.remaining -= 1;
            self.needs.remove(op.pre_count);
            self.most_placed = self.most_placed.max(self.required - self.remaining);
        }
        if let Some(g) = op.group {
            self.next_in_group[g] += 1;
        }
        Round::Placed
    }

    /// Undoes placements until one with alternatives left; returns the candidate index to
    /// resume the gap search from, or `None` when the whole search space is exhausted.
    fn backtrack(&mut self) -> Option<usize> {
        loop {
            let frame = self.stack.pop()?;
            self.steps += 1;
            let op = &self.ops[frame.op];
            let call = self.call_entry[frame.op];
            if op.required {
                if let Some(r) = self.entries[call].ret {
                    self.list.unlift(r);
                }
                self.list.unlift(call);
                self.remaining += 1;
                self.needs.add(op.pre_count);
            }
            if let Some(g) = op.group {
                self.next_in_group[g] -= 1;
            }
            self.placed.toggle(frame.op);
            self.state = frame.before;
            if frame.choice == Choice::OneOf {
                self.choices -= 1;
                return Some(frame.candidate + 1);
            }
        }
    }

    fn is_placed(&self, op: usize) -> bool {
        self.placed
            .bits
            .get(op / 64)
            .is_some_and(|word| word & (1 << (op % 64)) != 0)
    }

    /// Records the dead end at return entry `entry` of op `stuck` if it is the furthest yet.
    fn note_dead_end(&mut self, entry: usize, stuck: usize) {
        if self.dead_end.as_ref().is_some_and(|d| d.position >= entry) {
            return;
        }
        let stack = &self.stack;
        let start = stack.len().saturating_sub(PLACED_SHOWN);
        let placed = (start..stack.len())
            .map(|i| {
                let after = stack.get(i + 1).map_or(self.state, |next| next.before);
                (stack[i].op, after)
            })
            .collect();
        // If the stuck op could take effect here, a rule refused it because of other ops:
        // name those it would make impossible (they need an earlier version, or read another
        // value at the version it would make), the other half of the conflict.
        let mut blocked_by = Vec::new();
        if let Some(after) = self.model.step(self.state, &self.ops[stuck]) {
            // The unplaced needs are few; `by_need` finds their ops without a pass over all.
            blocked_by = self
                .needs
                .counts
                .range(..=after.count)
                .flat_map(|(count, _)| self.by_need.get(count).into_iter().flatten())
                .copied()
                .filter(|&i| {
                    let op = &self.ops[i];
                    let conflicts = op.pre_count.is_some_and(|c| c < after.count)
                        || matches!(op.effect, Effect::Read { value, .. } if value != after.value);
                    i != stuck && !self.is_placed(i) && conflicts
                })
                .take(UNPLACED_SHOWN)
                .collect();
        }
        // Calls before this return in the list are the successful ops that were candidates
        // (as many as ops run concurrently); then the unknown-outcome ones invoked before it,
        // latest first, since those are the ones near the conflict.
        let mut unplaced = Vec::new();
        let mut e = self.list.first();
        while e != entry && e != NIL {
            let candidate = self.entries[e];
            if candidate.is_call && candidate.op != stuck && !blocked_by.contains(&candidate.op) {
                unplaced.push(candidate.op);
            }
            e = self.list.next[e];
        }
        let unknown = self.entries[..entry.min(self.entries.len())]
            .iter()
            .rev()
            .filter(|c| c.is_call && !self.ops[c.op].required && !self.is_placed(c.op))
            .map(|c| c.op);
        unplaced.extend(unknown.take(UNPLACED_SHOWN + 1));
        let unplaced_more = unplaced.len() > UNPLACED_SHOWN;
        unplaced.truncate(UNPLACED_SHOWN);
        self.dead_end = Some(DeadEnd {
            position: entry,
            stuck,
            state: self.state,
            placed_count: stack.len(),
            placed,
            blocked_by,
            unplaced,
            unplaced_more,
        });
    }
}

/// Call and return entries in time order. At equal times calls come first, so ops whose
/// times touch count as concurrent: the checker never assumes an order the timestamps do not
/// prove.
fn build_entries(model: &KeyModel<'_>) -> Vec<Entry> {
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(model.ops.len() * 2);
    for (index, op) in model.ops.iter().enumerate() {
        events.push((op.op.invoked_at, false, index));
        if let Some(deadline) = op.deadline {
            events.push((deadline, true, index));
        }
    }
    events.sort_unstable();
    let mut return_position = vec![None; model.ops.len()];
    for (position, &(_, is_return, op)) in events.iter().enumerate() {
        if is_return {
            return_position[op] = Some(position);
        }
    }
    events
        .iter()
        .map(|&(_, is_return, op)| Entry {
            op,
            ret: if is_return { None } else { return_position[op] },
            is_call: !is_return,
        })
        .collect()
}

fn explain(model: &KeyModel<'_>, dead_end: Option<DeadEnd>, steps: u64) -> NotLinearizable {
    let register = |state: State| Register {
        value: model.value(state).to_vec(),
        version: model.version(state),
    };
    // The search only fails after meeting a dead end; without one, name the first op that
    // had to be placed.
    let d = dead_end.unwrap_or_else(|| DeadEnd {
        position: 0,
        stuck: model.ops.iter().position(|op| op.required).unwrap_or(0),
        state: model.initial_state(),
        placed_count: 0,
        placed: Vec::new(),
        blocked_by: Vec::new(),
        unplaced: Vec::new(),
        unplaced_more: false,
    });
    let op = |index: usize| model.ops[index].op.clone();
    NotLinearizable {
        key: model.key.to_string(),
        stuck: op(d.stuck),
        needed_version: model
            .ops
            .get(d.stuck)
            .and_then(|op| op.pre_count)
            .map(|count| crate::model::version_of(model.initial_version, count)),
        state: register(d.state),
        placed_count: d.placed_count,
        placed: d
            .placed
            .iter()
            .map(|&(i, s)| (op(i), register(s)))
            .collect(),
        blocked_by: d.blocked_by.iter().map(|&i| op(i)).collect(),
        unplaced: d.unplaced.iter().map(|&i| op(i)).collect(),
        unplaced_more: d.unplaced_more,
        steps,
    }
}
