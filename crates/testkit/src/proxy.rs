//! A test-controlled TCP proxy on 127.0.0.1, for network faults between real processes.
//!
//! [`Proxy::start`] listens on a free port and forwards every accepted connection to its
//! target, both directions. [`Proxy::set_mode`] changes what happens to the bytes:
//!
//! * [`Mode::Pass`]: forwarded (after [`Proxy::set_delay`], if any).
//! * [`Mode::Drop`]: a black hole. Bytes read in either direction are discarded, connections
//!   stay open and silent, a close (FIN) is not passed on either, and a connection accepted
//!   meanwhile is never connected to the target. Nobody learns anything except by timing out.
//! * [`Mode::OneWay`]: only bytes flowing in the given [`Direction`] pass; the other
//!   direction is a black hole as above.
//! * [`Mode::Hold`]: a partition TCP survives. Nothing is read or forwarded, so bytes wait in
//!   the kernel's buffers (a writer blocks once those fill) and connections accepted meanwhile
//!   are not connected to the target yet; when the mode changes everything held is delivered,
//!   late but whole, as retransmission would deliver it.
//! * [`Mode::Reset`]: every open connection is closed with a TCP reset, and new connections
//!   are accepted and reset at once (a refused connection, as far as a client can tell).
//!
//! TCP never loses bytes in the middle of a stream, so a direction of a connection that has
//! discarded bytes stays a black hole for the rest of that connection's life, even after the
//! mode goes back to `Pass`: healing a partition is seen by the endpoints as silent dead
//! connections plus working new ones (the nasty case real networks produce when middleboxes
//! forget a connection), never as a stream with a hole in it. A connection that discarded
//! nothing carries on.
//!
//! Each proxy runs a single-threaded tokio runtime on a thread of its own; dropping the
//! [`Proxy`] stops that runtime, which closes the listener and every connection, and joins the
//! thread. Nothing outlives the handle, and proxies share nothing, so tests may run in
//! parallel.
//!
//! ```no_run
//! use corral_testkit::proxy::{Mode, Proxy};
//! # let server: std::net::SocketAddr = "127.0.0.1:2888".parse().unwrap();
//! let link = Proxy::start(server);
//! // ... point the client at link.addr() ...
//! link.set_mode(Mode::Drop); // partition
//! link.set_mode(Mode::Pass); // heal: new connections work, poisoned ones stay silent
//! ```

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How long a proxy waits for its target to accept a connection before giving up on it
/// (and resetting the client's connection).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Bytes read at a time from either side.
const CHUNK_BYTES: usize = 16 * 1024;

/// Which way bytes flow through a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the side that connected to the proxy towards the target.
    ToTarget,
    /// From the target back to the side that connected.
    FromTarget,
}

/// What the proxy does with connections and bytes (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Forward both directions.
    #[default]
    Pass,
    /// Discard both directions; keep connections open and silent.
    Drop,
    /// Reset every connection, and every new one as soon as it is accepted.
    Reset,
    /// Forward only the given direction; discard the other.
    OneWay(Direction),
    /// Read nothing and forward nothing until the mode changes; lose nothing.
    Hold,
}

impl Mode {
    fn passes(self, direction: Direction) -> bool {
        match self {
            Mode::Pass => true,
            Mode::Drop | Mode::Reset | Mode::Hold => false,
            Mode::OneWay(d) => d == direction,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    mode: Mode,
    delay: Duration,
}

/// Counters of one proxy, for tests and diagnostics.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    open: AtomicUsize,
    forwarded: AtomicU64,
    discarded: AtomicU64,
}

/// A snapshot of a proxy's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStats {
    /// Connections accepted since the start.
    pub accepted: u64,
    /// Connections currently open (accepted and not yet closed by the proxy).
    pub open: usize,
    /// Bytes forwarded, both directions.
    pub forwarded: u64,
    /// Bytes read and discarded, both directions.
    pub discarded: u64,
}

/// A running proxy; stops (closing every connection) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    settings: watch::Sender<Settings>,
    counters: Arc<Counters>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("target", &self.target)
            .field("mode", &self.mode())
            .finish()
    }
}

impl Proxy {
    /// Starts a proxy to `target` on a free port of 127.0.0.1, in [`Mode::Pass`].
    ///
    /// # Panics
    ///
    /// This is a test helper: it panics when it cannot bind a port or start its thread (see
    /// [`Proxy::try_start`]).
    pub fn start(target: SocketAddr) -> Proxy {
        Proxy::try_start(target).unwrap_or_else(|e| panic!("proxy to {target}: {e}"))
    }

    /// Like [`Proxy::start`], returning the error instead of panicking.
    pub fn try_start(target: SocketAddr) -> io::Result<Proxy> {
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (settings, settings_rx) = watch::channel(Settings {
            mode: Mode::Pass,
            delay: Duration::ZERO,
        });
        let counters = Arc::new(Counters::default());
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let thread_counters = counters.clone();
        let thread = thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            eprintln!("proxy {addr}: cannot register its listener: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        () = accept_loop(listener, target, settings_rx, thread_counters) => {}
                        _ = shutdown_rx => {}
                    }
                });
                // Dropping the runtime here drops every connection task and with it every
                // socket, before the thread (and so `Proxy::drop`) finishes.
                drop(runtime);
            })?;
        Ok(Proxy {
            addr,
            target,
            settings,
            counters,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where connections are forwarded.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.settings.borrow().mode
    }

    /// Changes the mode; takes effect for the next bytes read on every connection (`Reset`
    /// closes open connections at once).
    pub fn set_mode(&self, mode: Mode) {
        self.settings.send_modify(|s| s.mode = mode);
    }

    /// Holds every forwarded chunk for `delay` before writing it (a latency, not a bandwidth
    /// limit: chunks read meanwhile are delayed in parallel). Zero (the default) forwards at
    /// once.
    pub fn set_delay(&self, delay: Duration) {
        self.settings.send_modify(|s| s.delay = delay);
    }

    /// The current delay.
    pub fn delay(&self) -> Duration {
        self.settings.borrow().delay
    }

    /// The proxy's counters.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            accepted: self.counters.accepted.load(Ordering::Relaxed),
            open: self.counters.open.load(Ordering::Relaxed),
            forwarded: self.counters.forwarded.load(Ordering::Relaxed),
            discarded: self.counters.discarded.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    settings: watch::Receiver<Settings>,
    counters: Arc<Counters>,
) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of file descriptors or similar: try again shortly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = client.set_nodelay(true);
        tokio::spawn(connection(
            client,
            target,
            settings.clone(),
            counters.clone(),
        ));
    }
}

/// Counts an open connection for as long as it lives.
struct OpenGuard(Arc<Counters>);

impl OpenGuard {
    fn new(counters: &Arc<Counters>) -> OpenGuard {
        counters.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(counters.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Closes `stream` with a TCP reset instead of a FIN.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Returns once the mode is not [`Mode::Hold`].
async fn wait_unless_held(settings: &mut watch::Receiver<Settings>) {
    if settings.wait_for(|s| s.mode != Mode::Hold).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn wait_for_reset(settings: &mut watch::Receiver<Settings>) {
    if settings.wait_for(|s| s.mode == Mode::Reset).await.is_err() {
        // The proxy is gone; the runtime is about to drop this task.
        std::future::pending::<()>().await;
    }
}

async fn connection(
    mut client: TcpStream,
    target: SocketAddr,
    mut settings: watch::Receiver<Settings>,
    counters: Arc<Counters>,
) {
    let _open = OpenGuard::new(&counters);
    // A connection accepted during a held partition waits (like a SYN being retransmitted).
    wait_unless_held(&mut settings).await;
    let mode = settings.borrow().mode;
    match mode {
        Mode::Reset => return reset(client),
        Mode::Drop => {
            // Born in a black hole: the target never hears of it, the client hears nothing.
            let (mut read, _write) = client.split();
            let swallow = async {
                let mut buf = vec![0u8; CHUNK_BYTES];
                while let Ok(n @ 1..) = read.read(&mut buf).await {
                    counters.discarded.fetch_add(n as u64, Ordering::Relaxed);
                }
                // EOF or error: keep the socket open (its FIN went nowhere) until reset or
                // the proxy stops.
                std::future::pending::<()>().await;
            };
            tokio::select! {
                () = swallow => {}
                () = wait_for_reset(&mut settings) => {}
            }
            return reset(client);
        }
        Mode::Pass | Mode::OneWay(_) | Mode::Hold => {}
    }
    let mut upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await
    {
        Ok(Ok(upstream)) => upstream,
        _ => return reset(client),
    };
    let _ = upstream.set_nodelay(true);
    let reset_both = {
        let (client_read, client_write) = client.split();
        let (upstream_read, upstream_write) = upstream.split();
        let to_target = pump(
            client_read,
            upstream_write,
            Direction::ToTarget,
            settings.clone(),
            &counters,
        );
        let from_target = pump(
            upstream_read,
            client_write,
            Direction::FromTarget,
            settings.clone(),
            &counters,
        );
        tokio::select! {
            result = async { tokio::try_join!(to_target, from_target) } => result.is_err(),
            () = wait_for_reset(&mut settings) => true,
        }
    };
    if reset_both {
        reset(client);
        reset(upstream);
    }
}

/// What the reader hands the writer of one direction.
enum Chunk {
    Bytes(Instant, Vec<u8>),
    /// The reader saw EOF: shut down the write side once everything before it is written.
    Eof(Instant),
}

/// Forwards one direction of a connection. Returns `Ok` when the reader saw EOF and the writer
/// passed it on (or swallowed it), `Err` when either side failed (the caller then resets the
/// whole connection).
async fn pump(
    mut read: ReadHalf<'_>,
    mut write: WriteHalf<'_>,
    direction: Direction,
    mut settings: watch::Receiver<Settings>,
    counters: &Counters,
) -> io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Chunk>();
    let reader = async move {
        let mut poisoned = false;
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            wait_unless_held(&mut settings).await;
            let n = read.read(&mut buf).await?;
            // Bytes read just as a hold began are in flight: they are delivered after it.
            wait_unless_held(&mut settings).await;
            let Settings { mode, delay } = *settings.borrow();
            let due = Instant::now() + delay;
            if n == 0 {
                if poisoned || !mode.passes(direction) {
                    // A FIN into a black hole is lost like any byte; the other direction
                    // may carry on.
                    drop(tx);
                    return std::future::pending::<io::Result<()>>().await;
                }
                let _ = tx.send(Chunk::Eof(due));
                return Ok::<(), io::Error>(());
            }
            if !poisoned && mode.passes(direction) {
                counters.forwarded.fetch_add(n as u64, Ordering::Relaxed);
                let _ = tx.send(Chunk::Bytes(due, buf[..n].to_vec()));
            } else {
                poisoned = true;
                counters.discarded.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    };
    let writer = async move {
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Chunk::Bytes(due, bytes) => {
                    tokio::time::sleep_until(due).await;
                    write.write_all(&bytes).await?;
                }
                Chunk::Eof(due) => {
                    tokio::time::sleep_until(due).await;
                    write.shutdown().await?;
                    return Ok(());
                }
            }
        }
        // The reader went silent for good (a swallowed EOF): nothing more to write, but
        // returning would let `try_join!` finish the connection; wait for the other side.
        std::future::pending::<io::Result<()>>().await
    };
    tokio::try_join!(reader, writer).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    const SHORT: Duration = Duration::from_millis(300);

    /// An echo server on a free port, a thread per connection. std cannot interrupt a blocking
    /// accept, so it lives until the test process ends; each test has its own.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(proxy: &Proxy) -> TcpStream {
        let stream = TcpStream::connect(proxy.addr()).unwrap();
        stream.set_read_timeout(Some(SHORT)).unwrap();
        stream
    }

    /// Sends `msg` and reads the echo; `None` if nothing came back within [`SHORT`].
    fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> Option<Vec<u8>> {
        stream.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        let mut filled = 0;
        while filled < msg.len() {
            match stream.read(&mut got[filled..]) {
                Ok(0) => return None,
                Ok(n) => filled += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None
                }
                Err(e) => panic!("read: {e}"),
            }
        }
        Some(got)
    }

    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reads until EOF or error: true when the connection was closed or reset, false when it
    /// stayed silent for the read timeout.
    fn is_closed(stream: &mut TcpStream) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => return e.kind() == ErrorKind::ConnectionReset,
            }
        }
    }

    #[test]
    fn passes_both_directions() {
        let proxy = Proxy::start(echo_server());
        let mut a = connect(&proxy);
        let mut b = connect(&proxy);
        assert_eq!(round_trip(&mut a, b"hello").as_deref(), Some(&b"hello"[..]));
        assert_eq!(round_trip(&mut b, b"world").as_deref(), Some(&b"world"[..]));
        let big = vec![7u8; 200_000];
        assert_eq!(round_trip(&mut a, &big), Some(big));
        let stats = proxy.stats();
        assert_eq!(stats.accepted, 2);
        assert_eq!(stats.discarded, 0);
        assert_eq!(stats.forwarded, 2 * (5 + 5 + 200_000));
    }

    #[test]
    fn drop_blackholes_and_poisons_only_connections_that_lost_bytes() {
        let proxy = Proxy::start(echo_server());
        let mut used = connect(&proxy);
        let mut idle = connect(&proxy);
        assert!(round_trip(&mut used, b"a").is_some());
        assert!(round_trip(&mut idle, b"b").is_some());
        proxy.set_mode(Mode::Drop);
        // Silent, but open (no EOF, no reset).
        assert_eq!(round_trip(&mut used, b"lost"), None);
        let mut born_dead = connect(&proxy);
        assert_eq!(round_trip(&mut born_dead, b"x"), None);
        proxy.set_mode(Mode::Pass);
        // The stream that lost bytes stays dead; the idle one and new ones work.
        assert_eq!(round_trip(&mut used, b"again"), None);
        assert_eq!(round_trip(&mut born_dead, b"again"), None);
        assert_eq!(round_trip(&mut idle, b"ok").as_deref(), Some(&b"ok"[..]));
        let mut fresh = connect(&proxy);
        assert_eq!(round_trip(&mut fresh, b"new").as_deref(), Some(&b"new"[..]));
        // "lost" and "x" at least.
        assert!(proxy.stats().discarded >= 5);
        assert_eq!(proxy.stats().open, 4);
    }

    #[test]
    fn hold_delivers_everything_late() {
        let proxy = Proxy::start(echo_server());
        let mut open = connect(&proxy);
        assert!(round_trip(&mut open, b"a").is_some());
        proxy.set_mode(Mode::Hold);
        assert_eq!(round_trip(&mut open, b"held"), None);
        let mut new = connect(&proxy);
        assert_eq!(round_trip(&mut new, b"waits"), None);
        proxy.set_mode(Mode::Pass);
        for (stream, msg) in [(&mut open, &b"held"[..]), (&mut new, &b"waits"[..])] {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut got = vec![0u8; msg.len()];
            stream.read_exact(&mut got).unwrap();
            assert_eq!(got, msg);
        }
        assert_eq!(round_trip(&mut open, b"b").as_deref(), Some(&b"b"[..]));
        assert_eq!(proxy.stats().discarded, 0);
    }

    #[test]
    fn one_way_passes_only_its_direction() {
        // A sink that counts what it receives and sends a greeting per connection on demand.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let target = listener.local_addr().unwrap();
        let proxy = Proxy::start(target);
        proxy.set_mode(Mode::OneWay(Direction::ToTarget));
        let mut client = connect(&proxy);
        let (mut server, _) = listener.accept().unwrap();
        server.set_read_timeout(Some(SHORT)).unwrap();
        client.write_all(b"up").unwrap();
        let mut buf = [0u8; 2];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"up");
        server.write_all(b"down").unwrap();
        let mut down = [0u8; 4];
        assert!(
            client.read(&mut down).is_err(),
            "FromTarget must be dropped"
        );

        proxy.set_mode(Mode::OneWay(Direction::FromTarget));
        let mut client = connect(&proxy);
        let (mut server, _) = listener.accept().unwrap();
        server.set_read_timeout(Some(SHORT)).unwrap();
        server.write_all(b"down").unwrap();
        client.read_exact(&mut down).unwrap();
        assert_eq!(&down, b"down");
        client.write_all(b"up").unwrap();
        assert!(server.read(&mut buf).is_err(), "ToTarget must be dropped");
    }

    #[test]
    fn reset_closes_open_connections_and_refuses_new_ones() {
        let proxy = Proxy::start(echo_server());
        let mut open = connect(&proxy);
        assert!(round_trip(&mut open, b"a").is_some());
        proxy.set_mode(Mode::Drop);
        let mut silent = connect(&proxy);
        proxy.set_mode(Mode::Reset);
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(is_closed(&mut open));
        assert!(is_closed(&mut silent));
        let mut refused = TcpStream::connect(proxy.addr()).unwrap();
        refused
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(is_closed(&mut refused));
        wait_until("no open connections", || proxy.stats().open == 0);
        proxy.set_mode(Mode::Pass);
        let mut again = connect(&proxy);
        assert!(round_trip(&mut again, b"b").is_some());
    }

    #[test]
    fn delay_holds_bytes() {
        let proxy = Proxy::start(echo_server());
        proxy.set_delay(Duration::from_millis(150));
        let mut stream = connect(&proxy);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let started = Instant::now();
        assert!(round_trip(&mut stream, b"slow").is_some());
        // Delayed on the way there and on the way back.
        assert!(started.elapsed() >= Duration::from_millis(300));
        proxy.set_delay(Duration::ZERO);
        assert_eq!(proxy.delay(), Duration::ZERO);
    }

    #[test]
    fn eof_is_passed_on_and_target_down_resets() {
        let proxy = Proxy::start(echo_server());
        let mut stream = connect(&proxy);
        assert!(round_trip(&mut stream, b"x").is_some());
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        // The echo server sees EOF and closes; the proxy passes that back.
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(is_closed(&mut stream));
        wait_until("the connection to be released", || proxy.stats().open == 0);

        let nowhere = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let target = nowhere.local_addr().unwrap();
        drop(nowhere);
        let proxy = Proxy::start(target);
        let mut stream = TcpStream::connect(proxy.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(is_closed(&mut stream));
    }

    #[test]
    fn drop_stops_the_thread_and_closes_everything() {
        let proxy = Proxy::start(echo_server());
        let mut stream = connect(&proxy);
        assert!(round_trip(&mut stream, b"x").is_some());
        drop(proxy);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(is_closed(&mut stream));
    }
}
