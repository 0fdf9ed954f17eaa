//! Drives one session through one workload: keeps `in_flight` requests outstanding on it,
//! records each reply's latency, and stops issuing at the deadline or when the shared request
//! budget is spent. One task per session, so sessions spread over the runtime's threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use corral_client::corral_proto::records::{CreateRequest, PathWatchRequest, SetDataRequest};
use corral_client::corral_proto::request::Request;
use corral_client::corral_proto::Acl;
use corral_client::Client;
use futures::stream::{FuturesUnordered, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::args::Workload;
use crate::layout::Layout;
use crate::stats::SessionOutcome;

/// One session of a target, carried from workload to workload.
#[derive(Debug)]
pub struct Session {
    pub index: usize,
    pub client: Client,
    /// Index of the next node the create workload makes under this session's parent.
    pub next_create: u64,
    /// Indexes whose create was answered with an error (nothing to delete there).
    pub failed_creates: Vec<u64>,
}

/// What every session of one workload run shares.
#[derive(Debug)]
pub struct Plan {
    pub workload: Workload,
    pub layout: Layout,
    pub keys: Arc<Vec<String>>,
    pub value: Bytes,
    pub acl: Vec<Acl>,
    pub read_ratio: f64,
    pub in_flight: usize,
    pub seed: u64,
}

/// When to stop issuing requests.
#[derive(Debug, Clone)]
pub struct Stop {
    pub deadline: Option<Instant>,
    /// Requests left to issue across all sessions.
    pub budget: Option<Arc<AtomicU64>>,
}

impl Stop {
    fn may_issue(&self) -> bool {
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return false;
        }
        match &self.budget {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// What a request was, to account for its reply.
enum Issued {
    Create(u64),
    Other,
}

pub async fn drive(mut session: Session, plan: Arc<Plan>, stop: Stop) -> (Session, SessionOutcome) {
    let mut rng = StdRng::seed_from_u64(
        plan.seed ^ (session.index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let mut outcome = SessionOutcome::default();
    let mut running = FuturesUnordered::new();
    let mut broken = false;
    loop {
        while !broken && running.len() < plan.in_flight && stop.may_issue() {
            let (issued, request) = next_request(&mut session, &plan, &mut rng);
            let client = session.client.clone();
            running.push(async move {
                let started = Instant::now();
                let reply = client.request(request).await;
                (issued, started.elapsed(), reply)
            });
        }
        let Some((issued, latency, reply)) = running.next().await else {
            break;
        };
        match reply {
            Ok(reply) => {
                let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                let code = reply.code();
                outcome.record(latency_us, code);
                if let (Issued::Create(index), false) = (issued, code.is_ok()) {
                    session.failed_creates.push(index);
                }
            }
            Err(err) => {
                broken = true;
                outcome.failure.get_or_insert_with(|| err.to_string());
            }
        }
    }
    (session, outcome)
}

fn next_request(session: &mut Session, plan: &Plan, rng: &mut StdRng) -> (Issued, Request) {
    let workload = match plan.workload {
        Workload::Mixed if rng.gen_bool(plan.read_ratio) => Workload::Get,
        Workload::Mixed => Workload::Set,
        other => other,
    };
    if workload == Workload::Create {
        let index = session.next_create;
        session.next_create += 1;
        let request = Request::Create(CreateRequest {
            path: plan.layout.created(session.index, index),
            data: Some(plan.value.clone()),
            acl: plan.acl.clone(),
            flags: 0,
        });
        return (Issued::Create(index), request);
    }
    // Validation guarantees keys for these workloads; the root is a harmless fallback.
    let path = plan
        .keys
        .get(rng.gen_range(0..plan.keys.len().max(1)))
        .cloned()
        .unwrap_or_else(|| plan.layout.root.clone());
    let request = match workload {
        Workload::Set => Request::SetData(SetDataRequest {
            path,
            data: Some(plan.value.clone()),
            version: -1,
        }),
        Workload::Get => Request::GetData(PathWatchRequest { path, watch: false }),
        _ => Request::Exists(PathWatchRequest { path, watch: false }),
    };
    (Issued::Other, request)
}
