//! The fault model of a [`super::MemoryNet`], pure: which links are cut (partitions, isolated
//! servers, one-way blocks), and the seeded random draws for loss, delay and duplication.
//! No clock and no I/O: the net asks it what happens to each message.

use std::collections::BTreeSet;
use std::time::Duration;

/// SplitMix64: a tiny seeded generator (the net must not depend on a crate whose stream may
/// change between versions: a seed has to replay exactly).
#[derive(Debug, Clone)]
pub(crate) struct SimRng {
    state: u64,
}

impl SimRng {
    pub(crate) fn new(seed: u64) -> SimRng {
        SimRng { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = self.state;
        let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p`; draws nothing when `p` is at most 0 or at least 1.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits as a fraction in [0, 1).
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    /// Uniform in `[min, max]` at microsecond resolution; `min` when the range is empty.
    pub(crate) fn duration(&mut self, min: Duration, max: Duration) -> Duration {
        if max <= min {
            return min;
        }
        let span = (max - min).as_micros() as u64;
        min + Duration::from_micros(self.next_u64() % (span + 1))
    }
}

/// What happens to one message on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leg {
    /// The link is cut (partition, isolation, one-way block): the message vanishes.
    Cut,
    /// Lost by chance: the message vanishes.
    Lost,
    /// Arrives after this delay (the link is checked again on arrival).
    Deliver(Duration),
}

/// The net's faults. Servers not named by a partition are in a group of their own.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// `None`: everyone reaches everyone. `Some(groups)`: only servers of one group.
    partition: Option<Vec<BTreeSet<u64>>>,
    isolated: BTreeSet<u64>,
    /// One-way blocks `(from, to)`.
    blocked: BTreeSet<(u64, u64)>,
    pub(crate) loss: f64,
    pub(crate) duplication: f64,
    pub(crate) delay_min: Duration,
    pub(crate) delay_max: Duration,
}

impl Faults {
    pub(crate) fn partition(&mut self, groups: &[&[u64]]) {
        self.partition = Some(groups.iter().map(|g| g.iter().copied().collect()).collect());
    }

    pub(crate) fn isolate(&mut self, id: u64) {
        self.isolated.insert(id);
    }

    pub(crate) fn block(&mut self, from: u64, to: u64) {
        self.blocked.insert((from, to));
    }

    pub(crate) fn unblock(&mut self, from: u64, to: u64) {
        self.blocked.remove(&(from, to));
    }

    /// Every link is whole again (loss, delay and duplication stay as set).
    pub(crate) fn heal(&mut self) {
        self.partition = None;
        self.isolated.clear();
        self.blocked.clear();
    }

    /// Whether a message from `from` can reach `to` now.
    pub(crate) fn link_up(&self, from: u64, to: u64) -> bool {
        if from == to {
            return true;
        }
        if self.isolated.contains(&from) || self.isolated.contains(&to) {
            return false;
        }
        if self.blocked.contains(&(from, to)) {
            return false;
        }
        match &self.partition {
            None => true,
            Some(groups) => groups.iter().any(|g| g.contains(&from) && g.contains(&to)),
        }
    }

    /// Decides the fate of one message from `from` to `to`; `lossy` is false for messages of
    /// an ordered stream (TCP retransmits: a stream loses nothing short of breaking).
    pub(crate) fn leg(&self, rng: &mut SimRng, from: u64, to: u64, lossy: bool) -> Leg {
        if !self.link_up(from, to) {
            return Leg::Cut;
        }
        if lossy && rng.chance(self.loss) {
            return Leg::Lost;
        }
        Leg::Deliver(rng.duration(self.delay_min, self.delay_max))
    }

    /// Whether to deliver this request twice.
    pub(crate) fn duplicate(&self, rng: &mut SimRng) -> bool {
        rng.chance(self.duplication)
    }

    /// A one-line description, for traces.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(groups) = &self.partition {
            let groups: Vec<String> = groups.iter().map(|g| format!("{g:?}")).collect();
            parts.push(format!("partition {}", groups.join("|")));
        }
        if !self.isolated.is_empty() {
            parts.push(format!("isolated {:?}", self.isolated));
        }
        if !self.blocked.is_empty() {
            let blocks: Vec<String> = self
                .blocked
                .iter()
                .map(|(f, t)| format!("{f}->{t}"))
                .collect();
            parts.push(format!("blocked {}", blocks.join(",")));
        }
        if self.loss > 0.0 {
            parts.push(format!("loss {:.2}", self.loss));
        }
        if self.duplication > 0.0 {
            parts.push(format!("dup {:.2}", self.duplication));
        }
        if self.delay_max > Duration::ZERO {
            parts.push(format!("delay {:?}..{:?}", self.delay_min, self.delay_max));
        }
        if parts.is_empty() {
            "no faults".to_string()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_isolation_and_blocks_cut_links() {
        let mut faults = Faults::default();
        assert!(faults.link_up(1, 2));
        faults.partition(&[&[1, 2], &[3]]);
        assert!(faults.link_up(1, 2) && faults.link_up(2, 1));
        assert!(!faults.link_up(1, 3) && !faults.link_up(3, 2));
        assert!(!faults.link_up(4, 1), "unnamed servers are alone");
        assert!(faults.link_up(3, 3));
        faults.heal();
        faults.isolate(2);
        assert!(!faults.link_up(1, 2) && !faults.link_up(2, 3));
        assert!(faults.link_up(1, 3));
        faults.heal();
        faults.block(1, 2);
        assert!(!faults.link_up(1, 2));
        assert!(faults.link_up(2, 1), "a block is one-way");
        faults.unblock(1, 2);
        assert!(faults.link_up(1, 2));
    }

    #[test]
    fn draws_replay_from_the_seed() {
        let draw = |seed| {
            let mut rng = SimRng::new(seed);
            let faults = Faults {
                loss: 0.3,
                delay_min: Duration::from_millis(1),
                delay_max: Duration::from_millis(9),
                ..Faults::default()
            };
            (0..50)
                .map(|_| faults.leg(&mut rng, 1, 2, true))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let legs = draw(7);
        assert!(legs.contains(&Leg::Lost));
        assert!(legs.iter().all(|leg| match leg {
            Leg::Deliver(d) => *d >= Duration::from_millis(1) && *d <= Duration::from_millis(9),
            Leg::Lost => true,
            Leg::Cut => false,
        }));
    }

    #[test]
    fn streams_are_never_lossy() {
        let mut rng = SimRng::new(1);
        let faults = Faults {
            loss: 1.0,
            ..Faults::default()
        };
        assert_eq!(faults.leg(&mut rng, 1, 2, true), Leg::Lost);
        assert_eq!(
            faults.leg(&mut rng, 1, 2, false),
            Leg::Deliver(Duration::ZERO)
        );
    }
}
