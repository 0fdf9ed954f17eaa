//! A simulated ZooKeeper register service that produces histories known to be correct: it
//! applies every operation at a chosen instant between invocation and completion (so it knows
//! the true linearization), serves plain reads from any state no older than what the session
//! has seen, and gives some operations an unknown outcome — applied before the client gave up,
//! applied after, or never.

use std::collections::HashMap;

use corral_history::{History, InitialState, Op, OpId, Operation, Outcome, Register};

#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub keys: usize,
    pub sessions: usize,
    pub ops: usize,
    /// Chance (per mille) that an operation's outcome is unknown to the client.
    pub unknown_per_mille: u64,
    /// Chance (per mille) that a write reuses one of three shared values instead of a fresh
    /// one, so equal values from different writes are exercised.
    pub repeat_per_mille: u64,
    pub seed: u64,
}

/// splitmix64: enough randomness for a simulation, and reproducible from one seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

struct Key {
    name: String,
    initial_version: i32,
    /// Value and zxid of each version, by write count.
    versions: Vec<(Vec<u8>, i64)>,
}

impl Key {
    fn count(&self) -> u32 {
        (self.versions.len() - 1) as u32
    }

    fn version(&self, count: u32) -> i32 {
        self.initial_version.wrapping_add(count as i32)
    }
}

struct InFlight {
    id: OpId,
    key: usize,
    operation: Operation,
    unknown: bool,
    /// Set once applied: the outcome, the count it saw or made, its zxid.
    applied: Option<(Outcome, Option<u32>, i64)>,
}

#[derive(Default)]
struct Session {
    in_flight: Option<InFlight>,
    /// Highest version count this session saw per key (from definite replies).
    floor: HashMap<usize, u32>,
    zxid: i64,
}

struct Sim {
    rng: Rng,
    keys: Vec<Key>,
    sessions: Vec<Session>,
    history: History,
    zxid: i64,
    now: u64,
    /// Unknown-outcome writes the client gave up on before they applied: may apply later.
    limbo: Vec<(usize, Operation)>,
    values: u64,
}

pub fn simulate(config: Config) -> (History, InitialState) {
    let mut rng = Rng::new(config.seed);
    let keys = (0..config.keys.max(1))
        .map(|k| {
            // Some keys start near the top of the version range, to cross the wrap.
            let initial_version = match rng.below(4) {
                0 => i32::MAX - 3,
                1 => 7,
                _ => 0,
            };
            Key {
                name: format!("/k{k}"),
                initial_version,
                versions: vec![(format!("init{k}").into_bytes(), 0)],
            }
        })
        .collect();
    let mut sim = Sim {
        rng,
        keys,
        sessions: (0..config.sessions.max(1))
            .map(|_| Session::default())
            .collect(),
        history: History::new(),
        zxid: 1,
        now: 0,
        limbo: Vec::new(),
        values: 0,
    };
    let mut issued = 0;
    while issued < config.ops {
        sim.now += sim.rng.below(2);
        if !sim.limbo.is_empty() && sim.rng.chance(50) {
            let index = sim.rng.below(sim.limbo.len() as u64) as usize;
            let (key, operation) = sim.limbo.swap_remove(index);
            if sim.rng.chance(500) {
                sim.apply(key, &operation);
            }
            continue;
        }
        let s = sim.rng.below(sim.sessions.len() as u64) as usize;
        if sim.sessions[s].in_flight.is_none() {
            sim.invoke(s, &config);
            issued += 1;
        } else {
            sim.advance(s);
        }
    }
    // Finish some of what is outstanding; the rest stays pending.
    for s in 0..sim.sessions.len() {
        while sim.sessions[s].in_flight.is_some() && sim.rng.chance(600) {
            sim.now += 1;
            sim.advance(s);
        }
    }
    let initial = sim
        .keys
        .iter()
        .map(|k| {
            (
                k.name.clone(),
                Register::new(k.versions[0].0.clone(), k.initial_version),
            )
        })
        .collect();
    (sim.history, initial)
}

impl Sim {
    fn invoke(&mut self, s: usize, config: &Config) {
        let key = self.rng.below(self.keys.len() as u64) as usize;
        let name = self.keys[key].name.clone();
        let value = if self.rng.chance(config.repeat_per_mille) {
            format!("dup{}", self.rng.below(3)).into_bytes()
        } else {
            self.values += 1;
            format!("v{}", self.values).into_bytes()
        };
        let operation = match self.rng.below(20) {
            0..=4 => Operation::Read { key: name },
            5..=8 => Operation::SyncRead { key: name },
            9..=14 => Operation::Write { key: name, value },
            _ => {
                let k = &self.keys[key];
                let expected_version = match self.rng.below(4) {
                    0 | 1 => k.version(k.count()),
                    2 => k.version(self.sessions[s].floor.get(&key).copied().unwrap_or(0)),
                    _ => k
                        .version(k.count())
                        .wrapping_add(self.rng.below(3) as i32 - 1),
                };
                Operation::Cas {
                    key: name,
                    expected_version,
                    value,
                }
            }
        };
        let id = self.history.invoke(s as u64, operation.clone(), self.now);
        let unknown = self.rng.chance(config.unknown_per_mille);
        self.sessions[s].in_flight = Some(InFlight {
            id,
            key,
            operation,
            unknown,
            applied: None,
        });
    }

    /// Moves session `s`'s outstanding operation one step: apply it, or complete it.
    fn advance(&mut self, s: usize) {
        let Some(mut flight) = self.sessions[s].in_flight.take() else {
            return;
        };
        if flight.applied.is_none() {
            if flight.unknown && self.rng.chance(600) {
                // The client gives up first; the write may still apply later, or never.
                if !flight.operation.is_read() && self.rng.chance(500) {
                    self.limbo.push((flight.key, flight.operation.clone()));
                }
                self.complete(s, flight.id, Outcome::Unknown, None);
                return;
            }
            flight.applied = Some(self.apply_for(s, flight.key, &flight.operation));
            self.sessions[s].in_flight = Some(flight);
            return;
        }
        let Some((outcome, count, zxid)) = flight.applied.take() else {
            return;
        };
        if flight.unknown {
            self.complete(s, flight.id, Outcome::Unknown, None);
            return;
        }
        let session = &mut self.sessions[s];
        if let Some(c) = count.filter(|_| matches!(outcome, Outcome::Ok(_))) {
            let floor = session.floor.entry(flight.key).or_insert(0);
            *floor = (*floor).max(c);
        }
        session.zxid = session.zxid.max(zxid);
        self.complete(s, flight.id, outcome, Some(zxid));
    }

    fn complete(&mut self, s: usize, id: OpId, outcome: Outcome, zxid: Option<i64>) {
        let result = match zxid {
            Some(z) => self.history.complete_with_zxid(id, outcome, self.now, z),
            None => self.history.complete(id, outcome, self.now),
        };
        result.expect("the simulator records well-formed histories");
        self.sessions[s].in_flight = None;
    }

    /// Applies a write on behalf of nobody (a limbo op).
    fn apply(&mut self, key: usize, operation: &Operation) {
        let k = &self.keys[key];
        let applies = match operation {
            Operation::Write { .. } => true,
            Operation::Cas {
                expected_version, ..
            } => *expected_version == k.version(k.count()),
            _ => false,
        };
        if let (true, Some(value)) = (applies, operation.written_value()) {
            self.zxid += 1;
            let value = value.to_vec();
            self.keys[key].versions.push((value, self.zxid));
        }
    }

    fn apply_for(
        &mut self,
        s: usize,
        key: usize,
        operation: &Operation,
    ) -> (Outcome, Option<u32>, i64) {
        let session_zxid = self.sessions[s].zxid;
        let k = &self.keys[key];
        match operation {
            Operation::Read { .. } => {
                let floor = self.sessions[s].floor.get(&key).copied().unwrap_or(0);
                let span = u64::from(k.count() - floor) + 1;
                let c = floor + self.rng.below(span) as u32;
                let (value, written_at) = &k.versions[c as usize];
                (
                    Outcome::data(value.clone(), k.version(c)),
                    Some(c),
                    session_zxid.max(*written_at),
                )
            }
            Operation::SyncRead { .. } => {
                let c = k.count();
                let value = k.versions[c as usize].0.clone();
                (Outcome::data(value, k.version(c)), Some(c), self.zxid)
            }
            Operation::Write { .. } | Operation::Cas { .. } => {
                let before = k.count();
                self.apply(key, operation);
                let k = &self.keys[key];
                if k.count() == before {
                    (Outcome::Failed, None, self.zxid)
                } else {
                    (
                        Outcome::written(k.version(k.count())),
                        Some(k.count()),
                        self.zxid,
                    )
                }
            }
        }
    }
}

/// A copy of `history` with each op passed through `change` (which may alter the operation
/// and the completion).
pub fn rebuild(history: &History, mut change: impl FnMut(&Op) -> Op) -> History {
    let mut out = History::new();
    for op in history.ops() {
        let op = change(op);
        let id = out.invoke(op.session, op.operation.clone(), op.invoked_at);
        if let Some(c) = op.completion {
            let result = match c.zxid {
                Some(z) => out.complete_with_zxid(id, c.outcome, c.at, z),
                None => out.complete(id, c.outcome, c.at),
            };
            result.expect("a changed history is still well formed");
        }
    }
    out
}
