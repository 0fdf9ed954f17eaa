//! Drives one session through one phase (warm-up or measurement) of one op: keeps
//! `in_flight` requests outstanding on it until the deadline, then waits for the last replies.
//!
//! `zookeeper-client` writes a request to the session's queue when its method is called and
//! only the reply is awaited, so several futures alive at once are requests pipelined on one
//! connection, sent in call order. Each is timed from its first poll (when it is sent) to its
//! reply.
//!
//! A terminal failure (session expired or closed) ends the session's phase: every later
//! request would fail at once, and a tight loop of instant failures would only drown the
//! report. It is still counted, and the session is counted as stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zookeeper_client as zk;

use crate::args::Op;
use crate::layout::Layout;
use crate::session::Session;
use crate::stats::{is_terminal, Tally};

/// What every session of a phase shares.
#[derive(Debug)]
pub struct Plan {
    pub op: Op,
    pub layout: Layout,
    pub keys: usize,
    pub value: Vec<u8>,
    pub read_ratio: f64,
    pub in_flight: usize,
    pub seed: u64,
}

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Create(String),
    Set(String),
    Get(String),
}

const CREATE: zk::CreateOptions<'static> =
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());

/// Sends `request` on `client` and times it to its reply.
async fn send(
    client: &zk::Client,
    request: Request,
    value: &[u8],
) -> (Duration, Result<(), zk::Error>) {
    let started = Instant::now();
    let result = match &request {
        Request::Create(path) => client.create(path, value, &CREATE).await.map(drop),
        Request::Set(path) => client.set_data(path, value, None).await.map(drop),
        Request::Get(path) => client.get_data(path).await.map(drop),
    };
    (started.elapsed(), result)
}

/// The next request of session `index`, whose create counter is `next_create`.
fn next_request(index: usize, next_create: &mut u64, plan: &Plan, rng: &mut StdRng) -> Request {
    let op = match plan.op {
        Op::Mixed if rng.gen_bool(plan.read_ratio) => Op::Get,
        Op::Mixed => Op::Set,
        op => op,
    };
    if op == Op::Create {
        let node = *next_create;
        *next_create += 1;
        return Request::Create(plan.layout.created(index, node));
    }
    // Validation guarantees keys for the ops that use them.
    let key = plan.layout.key(rng.gen_range(0..plan.keys.max(1)));
    match op {
        Op::Set => Request::Set(key),
        _ => Request::Get(key),
    }
}

/// Runs `session` until `deadline` and returns it with what it measured.
pub async fn drive(mut session: Session, plan: Arc<Plan>, deadline: Instant) -> (Session, Tally) {
    let mut rng = StdRng::seed_from_u64(
        plan.seed ^ (session.index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let client = session.client.clone();
    let mut tally = Tally::default();
    let mut running = FuturesUnordered::new();
    let mut stopped = false;
    loop {
        while !stopped && running.len() < plan.in_flight && Instant::now() < deadline {
            let request = next_request(session.index, &mut session.next_create, &plan, &mut rng);
            running.push(send(&client, request, &plan.value));
        }
        let Some((latency, result)) = running.next().await else {
            break;
        };
        if let Err(err) = &result {
            if is_terminal(err) && !stopped {
                stopped = true;
                tally.sessions_stopped += 1;
            }
        }
        tally.record(latency, &result);
    }
    (session, tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(op: Op, read_ratio: f64) -> Plan {
        Plan {
            op,
            layout: Layout::new(Some("/r")),
            keys: 10,
            value: Vec::new(),
            read_ratio,
            in_flight: 1,
            seed: 1,
        }
    }

    #[test]
    fn mixed_follows_the_read_ratio_over_the_keys() {
        let plan = plan(Op::Mixed, 0.75);
        let (mut rng, mut next_create) = (StdRng::seed_from_u64(3), 0);
        let mut gets = 0;
        for _ in 0..4000 {
            match next_request(0, &mut next_create, &plan, &mut rng) {
                Request::Get(path) if path.starts_with("/r/keys/k") => gets += 1,
                Request::Set(path) if path.starts_with("/r/keys/k") => {}
                other => panic!("{other:?}"),
            }
        }
        assert!((2800..3200).contains(&gets), "{gets} reads of 4000");
        assert_eq!(next_create, 0);
    }

    #[test]
    fn create_makes_fresh_paths_under_the_session_parent() {
        let plan = plan(Op::Create, 0.0);
        let (mut rng, mut next_create) = (StdRng::seed_from_u64(3), 5);
        let paths: Vec<Request> = (0..2)
            .map(|_| next_request(2, &mut next_create, &plan, &mut rng))
            .collect();
        assert_eq!(
            paths,
            [
                Request::Create("/r/create/s2/n5".into()),
                Request::Create("/r/create/s2/n6".into())
            ]
        );
        assert_eq!(next_create, 7);
    }
}
