//! The transport without sockets: servers of one process talk through a [`MemoryNet`], with
//! faults a test (the deterministic simulation) switches on and off. Everything that can
//! vary (loss, delay, duplication) is drawn from the net's seeded generator, and time is
//! tokio's, so on a paused current-thread runtime a seed replays exactly.
//!
//! Servers [`MemoryNet::attach`] (or, for one incarnation of a server, [`MemoryNet::endpoint`]
//! then [`MemoryEndpoint::attach`]) their [`crate::InboundHandler`] and [`crate::SnapshotIo`];
//! openraft gets [`MemoryNetwork`] (a `RaftNetworkFactory`), the server's own messages an
//! [`AppLink`] over the net. What each kind of traffic does under faults, as TCP would:
//!
//! - **Raft RPCs and app requests**: the request and the reply each cross the link once. A cut
//!   link (partition, isolation, one-way block) or a lost message (loss probability) makes the
//!   message vanish, and the caller times out (openraft's `soft_ttl`, or the request's own
//!   timeout): `Timeout`. A server that is not attached refuses at once (`Unreachable`, like a
//!   refused TCP connect); one that goes down while handling a call resets it (`Network`). The
//!   remote handler's error is `Unreachable`, as over TCP. Append and vote requests may be
//!   delivered twice (duplication probability); the second answer is dropped.
//! - **Snapshots**: the sender's bytes (read through its `SnapshotIo`) cross as one message
//!   within [`MemoryNetConfig::snapshot_timeout`], and are written into the receiver's sink
//!   before the handler installs them.
//! - **Ordered streams** ([`AppStream`]): opening one over a cut link fails after
//!   [`MemoryNetConfig::connect_timeout`], to a server that is not attached at once. Messages
//!   are delayed (in order) but never lost or duplicated; over a link cut while the stream is
//!   open they wait, and the stream breaks if the link stays cut for
//!   [`MemoryNetConfig::stream_idle_timeout`] (the sender is told; what it had sent may still
//!   arrive within [`MemoryNetConfig::stream_linger`], as an abandoned TCP socket's data does).
//!   It breaks at once when the receiver goes down or its handler refuses a message.
//!
//! A server taken down ([`MemoryNet::detach`], a crash) sends nothing more: its calls in flight
//! fail, its streams end, its later calls are refused, and every server it could reach is told
//! that its connections closed (`InboundHandler::raft_connection_closed`). A new incarnation of the same id
//! (a restart) is a different endpoint: what the old one still tries to send goes nowhere.
//!
//! Files: `faults.rs` (the fault model and seeded generator, pure), `inbound.rs` (the
//! type-erased handler), `raft.rs` (openraft's network), `app.rs` (app requests and streams).

mod app;
mod faults;
mod inbound;
mod raft;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use openraft::RaftTypeConfig;
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::app::AppLink;
use crate::config::{
    CONNECT_TIMEOUT_DEFAULT, FRAME_BYTES_MAX_DEFAULT, SNAPSHOT_IDLE_TIMEOUT_DEFAULT,
    STREAM_IDLE_TIMEOUT_DEFAULT, STREAM_QUEUE_MAX_DEFAULT,
};
use crate::handler::InboundHandler;
use crate::snapshot::SnapshotIo;
use faults::{Faults, Leg, SimRng};
use inbound::{Attached, BoxFut, Inbound};

pub use raft::{MemoryClient, MemoryNetwork};

/// Timeouts and limits of a [`MemoryNet`]; the defaults are the TCP transport's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryNetConfig {
    /// Opening a stream over a cut link fails after this long (TCP's connect timeout).
    pub connect_timeout: Duration,
    /// A snapshot must be sent and installed within this long.
    pub snapshot_timeout: Duration,
    /// A stream whose link stays cut this long breaks.
    pub stream_idle_timeout: Duration,
    /// What a sender had written to a stream it gave up (stalled) may still reach the receiver
    /// this long after, if the link heals meanwhile: TCP keeps sending an abandoned socket's
    /// data. Zero drops it at once.
    pub stream_linger: Duration,
    /// Largest message on a stream (as `PeerConfig::frame_bytes_max`).
    pub frame_bytes_max: usize,
    /// Messages a stream queues before `send` waits.
    pub stream_queue_max: usize,
}

impl Default for MemoryNetConfig {
    fn default() -> Self {
        MemoryNetConfig {
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            snapshot_timeout: SNAPSHOT_IDLE_TIMEOUT_DEFAULT,
            stream_idle_timeout: STREAM_IDLE_TIMEOUT_DEFAULT,
            stream_linger: STREAM_IDLE_TIMEOUT_DEFAULT,
            frame_bytes_max: FRAME_BYTES_MAX_DEFAULT,
            stream_queue_max: STREAM_QUEUE_MAX_DEFAULT,
        }
    }
}

/// What the net did with the messages it carried (for a simulation's trace).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages (requests, replies, stream messages) that arrived.
    pub delivered: u64,
    /// Messages that vanished on a cut link.
    pub cut: u64,
    /// Messages lost by chance.
    pub lost: u64,
    /// Requests delivered a second time.
    pub duplicated: u64,
    /// Calls refused because the target was not attached.
    pub refused: u64,
}

/// One simulated network, shared by every server of a cluster. Cheap to clone.
pub struct MemoryNet<C: RaftTypeConfig> {
    shared: Arc<Shared<C>>,
}

impl<C: RaftTypeConfig> Clone for MemoryNet<C> {
    fn clone(&self) -> Self {
        MemoryNet {
            shared: self.shared.clone(),
        }
    }
}

impl<C: RaftTypeConfig> fmt::Debug for MemoryNet<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("MemoryNet")
            .field("servers", &state.servers.keys().collect::<Vec<_>>())
            .field("faults", &state.faults.describe())
            .finish()
    }
}

struct Shared<C: RaftTypeConfig> {
    config: MemoryNetConfig,
    state: Mutex<State<C>>,
    /// Bumped whenever a link or a server changes, so stalled streams look again.
    topology: watch::Sender<u64>,
}

struct State<C: RaftTypeConfig> {
    rng: SimRng,
    faults: Faults,
    /// The current incarnation of each server id that ever had one.
    servers: BTreeMap<u64, Arc<Incarnation<C>>>,
    stats: NetStats,
}

/// One life of a server: from [`MemoryNet::endpoint`] until it is detached or replaced.
pub(crate) struct Incarnation<C: RaftTypeConfig> {
    id: u64,
    /// Cancelled when this incarnation goes down (detached, or replaced by a restart).
    down: CancellationToken,
    inbound: Mutex<Option<Arc<dyn Inbound<C>>>>,
}

/// Who sends: one incarnation (a server's own handles), or whichever incarnation of an id is
/// current (handles made by id, for tests).
pub(crate) enum Sender<C: RaftTypeConfig> {
    Current(u64),
    Endpoint(Arc<Incarnation<C>>),
}

impl<C: RaftTypeConfig> Clone for Sender<C> {
    fn clone(&self) -> Self {
        match self {
            Sender::Current(id) => Sender::Current(*id),
            Sender::Endpoint(inc) => Sender::Endpoint(inc.clone()),
        }
    }
}

impl<C: RaftTypeConfig> Sender<C> {
    pub(crate) fn id(&self) -> u64 {
        match self {
            Sender::Current(id) => *id,
            Sender::Endpoint(inc) => inc.id,
        }
    }
}

/// A server a call can reach: its current incarnation and its handler.
type Route<C> = (Arc<Incarnation<C>>, Arc<dyn Inbound<C>>);

/// Why a call over the net failed (mapped onto openraft's or the peer crate's errors).
#[derive(Debug)]
pub(crate) enum CallError {
    /// The target is not attached, or the sender is down: nothing was sent.
    Refused(String),
    /// No answer within the budget (a cut link, a lost message, a slow handler).
    Timeout(Duration),
    /// The target went down while the call was in flight.
    Reset(String),
    /// The target's handler answered with an error.
    Remote(String),
}

/// One incarnation of a server on a [`MemoryNet`]: what a server's composition root holds.
/// Its handles ([`MemoryEndpoint::network`], [`MemoryEndpoint::app_link`]) send as this
/// incarnation only: once it is detached or replaced, they reach nobody.
pub struct MemoryEndpoint<C: RaftTypeConfig> {
    net: MemoryNet<C>,
    incarnation: Arc<Incarnation<C>>,
}

impl<C: RaftTypeConfig> Clone for MemoryEndpoint<C> {
    fn clone(&self) -> Self {
        MemoryEndpoint {
            net: self.net.clone(),
            incarnation: self.incarnation.clone(),
        }
    }
}

impl<C: RaftTypeConfig> MemoryEndpoint<C> {
    /// The server's id.
    pub fn id(&self) -> u64 {
        self.incarnation.id
    }

    /// Starts serving: calls to this server's id reach `handler`; received snapshots go
    /// through `snapshots`, which also reads this server's snapshots to send them.
    pub fn attach<H, S>(&self, handler: Arc<H>, snapshots: Arc<S>)
    where
        H: InboundHandler<C, SnapshotData = S::Data>,
        S: SnapshotIo<C>,
    {
        if self.incarnation.down.is_cancelled() {
            return;
        }
        let inbound: Arc<dyn Inbound<C>> = Arc::new(Attached { handler, snapshots });
        *self.incarnation.inbound.lock() = Some(inbound);
        self.net.changed();
    }

    /// Takes this incarnation down (if it is still up): as [`MemoryNet::detach`], but never
    /// touches a later incarnation of the same id.
    pub fn detach(&self) {
        self.net.take_down(&self.incarnation);
    }

    /// Whether this incarnation was detached or replaced.
    pub fn is_down(&self) -> bool {
        self.incarnation.down.is_cancelled()
    }

    /// openraft's network for this incarnation.
    pub fn network<D>(&self) -> MemoryNetwork<C, D> {
        MemoryNetwork::new(self.net.clone(), Sender::Endpoint(self.incarnation.clone()))
    }

    /// The link for this incarnation's own messages to server `target`.
    pub fn app_link(&self, target: u64) -> AppLink {
        AppLink::memory(Arc::new(app::MemoryLink {
            net: self.net.clone(),
            from: Sender::Endpoint(self.incarnation.clone()),
            target,
        }))
    }
}

impl<C: RaftTypeConfig> MemoryNet<C> {
    /// An empty net with the TCP transport's timeouts; every random draw comes from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_config(seed, MemoryNetConfig::default())
    }

    pub fn with_config(seed: u64, config: MemoryNetConfig) -> Self {
        MemoryNet {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State {
                    rng: SimRng::new(seed),
                    faults: Faults::default(),
                    servers: BTreeMap::new(),
                    stats: NetStats::default(),
                }),
                topology: watch::channel(0).0,
            }),
        }
    }

    pub fn config(&self) -> &MemoryNetConfig {
        &self.shared.config
    }

    /// A new incarnation of server `id`, not attached yet (it may already send). A previous
    /// incarnation of `id` goes down: a restarted server's old calls and streams end.
    pub fn endpoint(&self, id: u64) -> MemoryEndpoint<C> {
        let incarnation = Arc::new(Incarnation {
            id,
            down: CancellationToken::new(),
            inbound: Mutex::new(None),
        });
        let previous = {
            let mut state = self.shared.state.lock();
            state.servers.insert(id, incarnation.clone())
        };
        if let Some(previous) = previous {
            self.take_down(&previous);
        }
        self.changed();
        MemoryEndpoint {
            net: self.clone(),
            incarnation,
        }
    }

    /// Attaches a new incarnation of server `id` (see [`MemoryEndpoint::attach`]).
    pub fn attach<H, S>(&self, id: u64, handler: Arc<H>, snapshots: Arc<S>) -> MemoryEndpoint<C>
    where
        H: InboundHandler<C, SnapshotData = S::Data>,
        S: SnapshotIo<C>,
    {
        let endpoint = self.endpoint(id);
        endpoint.attach(handler, snapshots);
        endpoint
    }

    /// Takes server `id` down, as a crash does: calls in flight to it fail, its streams break,
    /// it sends nothing more, and calls to it are refused until a new incarnation attaches.
    pub fn detach(&self, id: u64) {
        let current = self.shared.state.lock().servers.get(&id).cloned();
        if let Some(incarnation) = current {
            self.take_down(&incarnation);
        }
    }

    /// Whether server `id` is attached and up.
    pub fn is_attached(&self, id: u64) -> bool {
        self.route(id).is_some()
    }

    /// openraft's network for server `me` (whichever incarnation of it is current when it
    /// sends). A server should use [`MemoryEndpoint::network`].
    pub fn network<D>(&self, me: u64) -> MemoryNetwork<C, D> {
        MemoryNetwork::new(self.clone(), Sender::Current(me))
    }

    /// The link for server `me`'s own messages to `target` (see [`MemoryNet::network`]).
    pub fn app_link(&self, me: u64, target: u64) -> AppLink {
        AppLink::memory(Arc::new(app::MemoryLink {
            net: self.clone(),
            from: Sender::Current(me),
            target,
        }))
    }

    /// Cuts every link between servers of different groups (a server in no group is cut from
    /// everyone). Replaces the previous partition.
    pub fn partition(&self, groups: &[&[u64]]) {
        self.shared.state.lock().faults.partition(groups);
        self.changed();
    }

    /// Cuts every link of server `id`, both ways.
    pub fn isolate(&self, id: u64) {
        self.shared.state.lock().faults.isolate(id);
        self.changed();
    }

    /// Drops everything `from` sends to `to` (one way).
    pub fn block(&self, from: u64, to: u64) {
        self.shared.state.lock().faults.block(from, to);
        self.changed();
    }

    pub fn unblock(&self, from: u64, to: u64) {
        self.shared.state.lock().faults.unblock(from, to);
        self.changed();
    }

    /// Mends every link (partitions, isolation, blocks); loss, delay and duplication stay.
    pub fn heal(&self) {
        self.shared.state.lock().faults.heal();
        self.changed();
    }

    /// Each request or reply (not stream messages) is lost with probability `p`.
    pub fn set_loss(&self, p: f64) {
        self.shared.state.lock().faults.loss = p;
    }

    /// Each message takes between `min` and `max` (uniform) to arrive.
    pub fn set_delay(&self, min: Duration, max: Duration) {
        let mut state = self.shared.state.lock();
        state.faults.delay_min = min;
        state.faults.delay_max = max.max(min);
    }

    /// Each append or vote request is delivered twice with probability `p`.
    pub fn set_duplication(&self, p: f64) {
        self.shared.state.lock().faults.duplication = p;
    }

    /// Whether `from` reaches `to` now.
    pub fn link_up(&self, from: u64, to: u64) -> bool {
        self.shared.state.lock().faults.link_up(from, to)
    }

    /// The faults in effect, in one line.
    pub fn describe_faults(&self) -> String {
        self.shared.state.lock().faults.describe()
    }

    pub fn stats(&self) -> NetStats {
        self.shared.state.lock().stats
    }

    fn changed(&self) {
        self.shared.topology.send_modify(|n| *n += 1);
    }

    /// Takes `incarnation` down, and tells every server it could reach that its connections
    /// closed (a process that dies closes its sockets; a partition hides that).
    fn take_down(&self, incarnation: &Arc<Incarnation<C>>) {
        if incarnation.down.is_cancelled() {
            return;
        }
        incarnation.down.cancel();
        incarnation.inbound.lock().take();
        let id = incarnation.id;
        let told: Vec<Arc<dyn Inbound<C>>> = {
            let state = self.shared.state.lock();
            state
                .servers
                .values()
                .filter(|other| other.id != id && !other.down.is_cancelled())
                .filter(|other| state.faults.link_up(id, other.id))
                .filter_map(|other| other.inbound.lock().clone())
                .collect()
        };
        for inbound in told {
            inbound.raft_connection_closed(id);
        }
        self.changed();
    }

    /// The sender's id if it may send: an endpoint that is up, or an id whose current
    /// incarnation (if any) is up.
    fn sender_up(&self, from: &Sender<C>) -> Option<u64> {
        match from {
            Sender::Endpoint(inc) => (!inc.down.is_cancelled()).then_some(inc.id),
            Sender::Current(id) => {
                let state = self.shared.state.lock();
                match state.servers.get(id) {
                    Some(inc) if inc.down.is_cancelled() => None,
                    _ => Some(*id),
                }
            }
        }
    }

    /// The target's current incarnation and handler, if it is attached and up.
    fn route(&self, to: u64) -> Option<Route<C>> {
        let incarnation = self.shared.state.lock().servers.get(&to).cloned()?;
        if incarnation.down.is_cancelled() {
            return None;
        }
        let inbound = incarnation.inbound.lock().clone()?;
        Some((incarnation, inbound))
    }

    /// The fate of one message (counted in the stats).
    fn leg(&self, from: u64, to: u64, lossy: bool) -> Leg {
        let mut state = self.shared.state.lock();
        let state = &mut *state;
        let leg = state.faults.leg(&mut state.rng, from, to, lossy);
        match leg {
            Leg::Cut => state.stats.cut += 1,
            Leg::Lost => state.stats.lost += 1,
            Leg::Deliver(_) => {}
        }
        leg
    }

    fn duplicate(&self) -> bool {
        let mut state = self.shared.state.lock();
        let state = &mut *state;
        let duplicate = state.faults.duplicate(&mut state.rng);
        if duplicate {
            state.stats.duplicated += 1;
        }
        duplicate
    }

    fn delivered(&self) {
        self.shared.state.lock().stats.delivered += 1;
    }

    /// A delay for a duplicate's second delivery.
    fn extra_delay(&self) -> Duration {
        let mut state = self.shared.state.lock();
        let state = &mut *state;
        let max = state.faults.delay_max.max(Duration::from_millis(1));
        state.rng.duration(Duration::ZERO, max)
    }

    /// Sends `request` from `from` to `to` and waits for the answer, at most `budget` (see the
    /// module doc for what faults do). `handle` runs the request on the target's handler.
    /// A `duplicable` request may be delivered twice.
    pub(crate) async fn call<Req, T, F>(
        &self,
        from: &Sender<C>,
        to: u64,
        budget: Duration,
        duplicable: bool,
        request: Req,
        handle: F,
    ) -> Result<T, CallError>
    where
        Req: Clone + Send + 'static,
        T: Send + 'static,
        F: Fn(Arc<dyn Inbound<C>>, Req) -> BoxFut<'static, Result<T, String>>
            + Clone
            + Send
            + 'static,
    {
        let deadline = tokio::time::Instant::now() + budget;
        let Some(from_id) = self.sender_up(from) else {
            return Err(CallError::Refused(format!("server {} is down", from.id())));
        };
        let Some((target, inbound)) = self.route(to) else {
            self.shared.state.lock().stats.refused += 1;
            return Err(CallError::Refused(format!("server {to} is not attached")));
        };
        if duplicable && self.duplicate() {
            let trip = Trip {
                net: self.clone(),
                from: from.clone(),
                from_id,
                target: target.clone(),
                inbound: inbound.clone(),
            };
            let extra = self.extra_delay();
            let (request, handle) = (request.clone(), handle.clone());
            tokio::spawn(async move {
                tokio::time::sleep(extra).await;
                trip.run(request, handle, None).await;
            });
        }
        let (answer, answered) = oneshot::channel();
        let trip = Trip {
            net: self.clone(),
            from: from.clone(),
            from_id,
            target,
            inbound,
        };
        tokio::spawn(trip.run(request, handle, Some(answer)));
        match tokio::time::timeout_at(deadline, answered).await {
            Ok(Ok(result)) => result,
            // The message or its answer vanished: the caller hears nothing until its timeout.
            Ok(Err(_)) => {
                tokio::time::sleep_until(deadline).await;
                Err(CallError::Timeout(budget))
            }
            Err(_) => Err(CallError::Timeout(budget)),
        }
    }
}

/// One delivery of a request and its answer, as a task of its own: like a request on a
/// socket, it goes on (and the target handles it) even if the caller gives up.
struct Trip<C: RaftTypeConfig> {
    net: MemoryNet<C>,
    from: Sender<C>,
    from_id: u64,
    target: Arc<Incarnation<C>>,
    inbound: Arc<dyn Inbound<C>>,
}

type Answer<T> = oneshot::Sender<Result<T, CallError>>;

impl<C: RaftTypeConfig> Trip<C> {
    async fn run<Req, T, F>(self, request: Req, handle: F, answer: Option<Answer<T>>)
    where
        F: Fn(Arc<dyn Inbound<C>>, Req) -> BoxFut<'static, Result<T, String>>,
    {
        let to = self.target.id;
        let Leg::Deliver(delay) = self.net.leg(self.from_id, to, true) else {
            return;
        };
        tokio::time::sleep(delay).await;
        if self.target.down.is_cancelled() {
            reply(
                answer,
                Err(CallError::Reset(format!("server {to} went down"))),
            );
            return;
        }
        if !self.net.link_up(self.from_id, to) {
            self.net.shared.state.lock().stats.cut += 1;
            return;
        }
        self.net.delivered();
        let result = tokio::select! {
            biased;
            () = self.target.down.cancelled() => {
                reply(answer, Err(CallError::Reset(format!("server {to} went down"))));
                return;
            }
            result = handle(self.inbound.clone(), request) => result,
        };
        let Some(answer) = answer else { return };
        let Leg::Deliver(delay) = self.net.leg(to, self.from_id, true) else {
            return;
        };
        tokio::time::sleep(delay).await;
        if self.net.sender_up(&self.from).is_none() || !self.net.link_up(to, self.from_id) {
            return;
        }
        self.net.delivered();
        let _ = answer.send(result.map_err(CallError::Remote));
    }
}

fn reply<T>(answer: Option<Answer<T>>, result: Result<T, CallError>) {
    if let Some(answer) = answer {
        let _ = answer.send(result);
    }
}
