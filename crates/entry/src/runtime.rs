//! openraft's async runtime for Corral: tokio, as openraft's own `TokioRuntime`, except for the
//! random numbers openraft draws (election timeouts, the first tick's phase).
//!
//! Why: `TokioRuntime::thread_rng` is tokio's unseeded thread RNG, so two runs of the same
//! simulated ensemble elect different leaders at different times. Here every draw comes from a
//! [`SmallRng`] seeded from a **thread-local** seed source: seeded from the operating system's
//! entropy the first time a thread draws (production: as random as before), or set for the
//! calling thread by [`seed_thread_rng`] (the simulation, which runs a whole ensemble on one
//! thread). A thread-local rather than a task-local: openraft draws from tasks it spawns
//! itself, and a task-local seed would be missing there (or panic) unless every spawn carried
//! it along.
//!
//! Everything else (spawning, timers, channels, mutexes) delegates to openraft's tokio runtime.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use openraft::{AsyncRuntime, OptionalSend};
use openraft_rt_tokio::TokioRuntime;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

thread_local! {
    /// The next seed handed to a `thread_rng()` caller on this thread; `None` until the first
    /// draw (then seeded from entropy) or until [`seed_thread_rng`].
    static NEXT_SEED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Makes every later random draw openraft does *on this thread* a function of `seed` (and of
/// the order of the draws). For deterministic simulation; a server never calls it.
pub fn seed_thread_rng(seed: u64) {
    NEXT_SEED.with(|next| next.set(Some(seed)));
}

/// SplitMix64's step: a bijection on u64 with good avalanche, so consecutive seeds give
/// unrelated generators.
fn splitmix64(state: u64) -> u64 {
    let z = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed for this draw; the thread's source moves on.
fn take_seed() -> u64 {
    NEXT_SEED.with(|next| {
        let seed = next.get().unwrap_or_else(|| rand::rng().next_u64());
        next.set(Some(splitmix64(seed)));
        seed
    })
}

/// openraft's tokio runtime with Corral's random numbers (see the module doc).
pub struct CorralRuntime {
    inner: TokioRuntime,
}

impl fmt::Debug for CorralRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorralRuntime").finish_non_exhaustive()
    }
}

type Tokio = TokioRuntime;

impl AsyncRuntime for CorralRuntime {
    type JoinError = <Tokio as AsyncRuntime>::JoinError;
    type JoinHandle<T: OptionalSend + 'static> = <Tokio as AsyncRuntime>::JoinHandle<T>;
    type Sleep = <Tokio as AsyncRuntime>::Sleep;
    type Instant = <Tokio as AsyncRuntime>::Instant;
    type TimeoutError = <Tokio as AsyncRuntime>::TimeoutError;
    type Timeout<R, T: Future<Output = R> + OptionalSend> = <Tokio as AsyncRuntime>::Timeout<R, T>;
    type ThreadLocalRng = SmallRng;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        Tokio::spawn(future)
    }

    fn sleep(duration: Duration) -> Self::Sleep {
        Tokio::sleep(duration)
    }

    fn sleep_until(deadline: Self::Instant) -> Self::Sleep {
        Tokio::sleep_until(deadline)
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(
        duration: Duration,
        future: F,
    ) -> Self::Timeout<R, F> {
        Tokio::timeout(duration, future)
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(
        deadline: Self::Instant,
        future: F,
    ) -> Self::Timeout<R, F> {
        Tokio::timeout_at(deadline, future)
    }

    fn is_panic(join_error: &Self::JoinError) -> bool {
        Tokio::is_panic(join_error)
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        SmallRng::seed_from_u64(take_seed())
    }

    type Mpsc = <Tokio as AsyncRuntime>::Mpsc;
    type Watch = <Tokio as AsyncRuntime>::Watch;
    type Oneshot = <Tokio as AsyncRuntime>::Oneshot;
    type Mutex<T: OptionalSend + 'static> = <Tokio as AsyncRuntime>::Mutex<T>;

    fn new(threads: usize) -> Self {
        CorralRuntime {
            inner: Tokio::new(threads),
        }
    }

    fn block_on<F, T>(&mut self, future: F) -> T
    where
        F: Future<Output = T>,
    {
        self.inner.block_on(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn draws() -> Vec<u64> {
        (0..4)
            .map(|_| CorralRuntime::thread_rng().random_range(0..1_000_000u64))
            .collect()
    }

    #[test]
    fn a_seeded_thread_draws_the_same_numbers_again() {
        seed_thread_rng(42);
        let first = draws();
        seed_thread_rng(42);
        assert_eq!(draws(), first);
        seed_thread_rng(43);
        assert_ne!(draws(), first);
        assert_eq!(
            first.len(),
            first
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            "consecutive draws differ"
        );
    }

    #[test]
    fn an_unseeded_thread_draws_from_entropy() {
        let a = std::thread::spawn(draws).join().unwrap();
        let b = std::thread::spawn(draws).join().unwrap();
        assert_ne!(a, b);
    }
}
