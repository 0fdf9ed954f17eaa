//! The harness: an ensemble of real `corral server` processes on 127.0.0.1, each started from
//! its own zoo.cfg (`server.N` lines, `myid`), optionally with every peer link through a
//! test-controlled proxy so that the network between them can be partitioned.
//!
//! With proxies, server `i`'s zoo.cfg names its own quorum port as it is and every other
//! server `j` at the port of the proxy `P(i→j)`, which forwards to `j`'s real quorum port: all
//! the traffic of connections `i` opens to `j` goes through `P(i→j)` (both directions), and
//! isolating `j` means black-holing every `P(x→j)` and `P(j→x)`. The member lists then differ
//! in addresses, so every zoo.cfg sets the same `corral.ensembleId`.
//!
//! Every port is picked free at start; every process and proxy is stopped when the
//! [`Cluster`] is dropped, so tests can run in parallel.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use corral_client::corral_proto::consts::perms;
use corral_client::corral_proto::Acl;
use corral_client::{Client, ConnectOptions};
use corral_testkit::proxy::{Mode, Proxy};
use corral_testkit::CorralProcess;

/// How long an election may take here (election timeouts of 400-800 ms, a loaded machine).
pub const LEADER_WAIT: Duration = Duration::from_secs(30);

/// Every ensemble test's Raft election timeout (ms): failover in about a second.
pub const ELECTION_TIMEOUT_MS: u64 = 400;

pub fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_corral"))
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub participants: usize,
    pub observers: usize,
    /// Route every peer link through its own proxy.
    pub proxied: bool,
}

impl Options {
    /// `participants` servers, every peer link through its own proxy.
    pub fn proxied(participants: usize) -> Options {
        Options {
            participants,
            observers: 0,
            proxied: true,
        }
    }

    /// `participants` servers connected directly.
    pub fn direct(participants: usize) -> Options {
        Options {
            proxied: false,
            ..Options::proxied(participants)
        }
    }
}

pub struct Member {
    pub id: u64,
    pub observer: bool,
    pub client_port: u16,
    cfg: PathBuf,
    process: Option<CorralProcess>,
}

/// A running ensemble. Indexes are 0-based; server ids are index + 1.
pub struct Cluster {
    // Processes first: they die before their proxies and the root directory go.
    pub members: Vec<Member>,
    /// `(from, to)`: the proxy `from` uses to reach `to`.
    proxies: BTreeMap<(usize, usize), Proxy>,
    /// Histories and anything else a test wants to keep after a failure.
    root: tempfile::TempDir,
}

impl Cluster {
    pub fn start(options: Options) -> Cluster {
        let n = options.participants + options.observers;
        let root = tempfile::Builder::new()
            .prefix("corral-ensemble-")
            .tempdir()
            .expect("root dir");
        let picked = distinct_free_ports(3 * n);
        let ports: Vec<(u16, u16, u16)> = picked.chunks(3).map(|p| (p[0], p[1], p[2])).collect();
        let mut proxies = BTreeMap::new();
        if options.proxied {
            // A proxy listens from the start, but the servers' ports are only picked: keep
            // any proxy that landed on one of them aside (so the port is not offered again)
            // and start another.
            let mut clashing = Vec::new();
            for from in 0..n {
                for (to, (_, quorum, _)) in ports.iter().enumerate() {
                    if from != to {
                        let target = SocketAddr::from((Ipv4Addr::LOCALHOST, *quorum));
                        let proxy = loop {
                            let proxy = Proxy::start(target);
                            if !picked.contains(&proxy.port()) {
                                break proxy;
                            }
                            clashing.push(proxy);
                        };
                        proxies.insert((from, to), proxy);
                    }
                }
            }
            drop(clashing);
        }
        let mut members = Vec::new();
        for (i, (client_port, _, _)) in ports.iter().enumerate() {
            let id = i as u64 + 1;
            let observer = i >= options.participants;
            // Inside the root directory, so that keeping the root keeps it.
            let data = root.path().join(format!("data{id}"));
            fs::create_dir(&data).expect("data dir");
            fs::write(data.join("myid"), format!("{id}\n")).expect("myid");
            let servers: String = ports
                .iter()
                .enumerate()
                .map(|(j, (_, quorum, election))| {
                    let port = match proxies.get(&(i, j)) {
                        Some(proxy) => proxy.port(),
                        None => *quorum,
                    };
                    let role = if j >= options.participants {
                        ":observer"
                    } else {
                        ""
                    };
                    format!("server.{}=127.0.0.1:{port}:{election}{role}\n", j + 1)
                })
                .collect();
            let mut text = format!(
                "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\n\
                 clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n\
                 admin.enableServer=false\n\
                 corral.raft.electionTimeoutMs={ELECTION_TIMEOUT_MS}\n{servers}",
                data.display()
            );
            if options.proxied {
                text.push_str("corral.ensembleId=corral-ensemble-test\n");
            }
            if observer {
                text.push_str("peerType=observer\n");
            }
            let cfg = data.join("zoo.cfg");
            fs::write(&cfg, text).expect("zoo.cfg");
            members.push(Member {
                id,
                observer,
                client_port: *client_port,
                cfg,
                process: None,
            });
        }
        let mut cluster = Cluster {
            members,
            proxies,
            root,
        };
        for i in 0..n {
            cluster.launch(i);
        }
        cluster
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The directory a test may write into; see [`Cluster::keep_root`].
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Keeps the root directory (histories, data directories, the servers' logs) after the
    /// test, for a post-mortem; returns its path.
    pub fn keep_root(&mut self) -> PathBuf {
        self.save_logs();
        let kept = std::mem::replace(&mut self.root, tempfile::tempdir().expect("temp dir"));
        kept.keep()
    }

    fn save_logs(&self) {
        for (i, m) in self.members.iter().enumerate() {
            if let Some(process) = &m.process {
                self.save_log(i, process);
            }
        }
    }

    /// Starts server `i` (again, on its data directory) and waits until it answers `ruok`.
    pub fn launch(&mut self, i: usize) {
        let m = &mut self.members[i];
        assert!(m.process.is_none(), "server {} already runs", m.id);
        let args = [
            "server".to_string(),
            "--config".to_string(),
            m.cfg.display().to_string(),
        ];
        let process = CorralProcess::start(&binary(), &args, &[], m.client_port)
            .unwrap_or_else(|e| panic!("server {} starts: {e:#}", m.id));
        m.process = Some(process);
    }

    /// SIGKILL.
    pub fn kill(&mut self, i: usize) {
        let mut process = self.members[i].process.take().expect("running");
        process.kill().expect("SIGKILL");
        self.save_log(i, &process);
    }

    /// Appends a process's log to `server<id>.log` in the root directory (its own directory
    /// goes with it), so a kept root has every run of every server.
    fn save_log(&self, i: usize, process: &CorralProcess) {
        use std::io::Write;
        let Ok(log) = fs::read(process.log_path()) else {
            return;
        };
        let path = self
            .root
            .path()
            .join(format!("server{}.log", self.members[i].id));
        if let Ok(mut file) = fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = file.write_all(&log);
        }
    }

    /// Empties the data directory of stopped server `i`, as a replaced disk would leave it
    /// (its `myid` and `zoo.cfg` stay).
    pub fn wipe_data(&self, i: usize) {
        assert!(!self.is_running(i), "server {} runs", self.members[i].id);
        let dir = self.members[i]
            .cfg
            .parent()
            .expect("data dir")
            .to_path_buf();
        for entry in fs::read_dir(&dir).expect("data dir").flatten() {
            let name = entry.file_name();
            if name == "myid" || name == "zoo.cfg" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                fs::remove_dir_all(&path).expect("remove");
            } else {
                fs::remove_file(&path).expect("remove");
            }
        }
    }

    /// `Zxid:` of `srvr`; `None` if the server does not answer or does not serve.
    pub fn zxid(&self, i: usize) -> Option<String> {
        let process = self.members[i].process.as_ref()?;
        let srvr = process.four_letter_word("srvr").ok()?;
        srvr.lines()
            .find_map(|l| l.strip_prefix("Zxid: ").map(str::to_owned))
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].process.is_some()
    }

    pub fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.members[i].client_port)
    }

    pub fn addrs(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.addr(i)).collect()
    }

    /// `Mode:` of `srvr` (`leader`, `follower`, `observer`), or `not serving` (no leader
    /// known); `None` if the server is not running or does not answer.
    pub fn mode(&self, i: usize) -> Option<String> {
        let process = self.members[i].process.as_ref()?;
        let srvr = process.four_letter_word("srvr").ok()?;
        if srvr.contains("not currently serving") {
            return Some("not serving".to_owned());
        }
        srvr.lines()
            .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
    }

    pub fn modes(&self) -> Vec<Option<String>> {
        (0..self.len()).map(|i| self.mode(i)).collect()
    }

    /// Waits until, among the servers `among`, exactly one leads and the others follow (or
    /// observe, for observers); returns the leader. Blocking: call it through
    /// `tokio::task::block_in_place` from async code.
    pub fn wait_for_leader_among(&self, among: &[usize], within: Duration) -> usize {
        let started = Instant::now();
        loop {
            let modes: Vec<Option<String>> = among.iter().map(|&i| self.mode(i)).collect();
            let leaders: Vec<usize> = among
                .iter()
                .zip(&modes)
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(&i, _)| i)
                .collect();
            let settled = among.iter().zip(&modes).all(|(&i, m)| {
                let expected = if self.members[i].observer {
                    "observer"
                } else {
                    "follower"
                };
                leaders.contains(&i) || m.as_deref() == Some(expected)
            });
            if leaders.len() == 1 && settled {
                return leaders[0];
            }
            assert!(
                started.elapsed() < within,
                "no settled leader among {among:?} after {within:?}: modes {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every running server has a role: one leader, the others following or
    /// observing; returns the leader.
    pub fn wait_for_leader(&self) -> usize {
        let running: Vec<usize> = (0..self.len()).filter(|&i| self.is_running(i)).collect();
        self.wait_for_leader_among(&running, LEADER_WAIT)
    }

    /// The last lines of every running server's log.
    pub fn logs(&self) -> String {
        self.logs_tail(30)
    }

    pub fn logs_tail(&self, lines: usize) -> String {
        self.members
            .iter()
            .filter_map(|m| {
                m.process
                    .as_ref()
                    .map(|p| format!("--- server {}:\n{}", m.id, p.log_tail(lines)))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The proxy server `from` uses to reach server `to`.
    pub fn link(&self, from: usize, to: usize) -> &Proxy {
        self.proxies
            .get(&(from, to))
            .unwrap_or_else(|| panic!("no proxy {from}->{to} (started without proxies?)"))
    }

    /// Black-holes every link to and from server `i` (connections stay open and silent).
    pub fn isolate(&self, i: usize) {
        self.isolate_with(i, Mode::Drop);
    }

    /// Sets every link to and from server `i` to `mode`.
    pub fn isolate_with(&self, i: usize, mode: Mode) {
        for ((from, to), proxy) in &self.proxies {
            if *from == i || *to == i {
                proxy.set_mode(mode);
            }
        }
    }

    /// Every link passes again (connections that lost bytes stay dead: see the proxy).
    pub fn heal(&self) {
        for proxy in self.proxies.values() {
            proxy.set_mode(Mode::Pass);
        }
    }
}

/// Set `CORRAL_ENSEMBLE_KEEP=1` to keep every test's directory (data, servers' logs).
pub const KEEP_ENV: &str = "CORRAL_ENSEMBLE_KEEP";

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_ENV).is_some() {
            let kept = self.keep_root();
            println!("kept {}", kept.display());
        }
    }
}

/// `n` different ports that were free a moment ago (all held while picking, so they differ).
fn distinct_free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// Connects a new session to server `addr`, retrying for up to `within` (a server refuses
/// clients while it knows no leader).
pub async fn connect_within(addr: &str, options: ConnectOptions, within: Duration) -> Client {
    let started = Instant::now();
    loop {
        match Client::connect(addr, options.clone()).await {
            Ok(client) => return client,
            Err(e) => assert!(
                started.elapsed() < within,
                "cannot connect to {addr} within {within:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates the persistent node `path` through server `i` (a new session each attempt),
/// retrying until it is acknowledged; fails after `within`, with the servers' logs. Returns
/// how long it took.
pub async fn create_through(cluster: &Cluster, i: usize, path: &str, within: Duration) -> Duration {
    create_data_through(cluster, i, path, b"", within).await
}

/// [`create_through`] with data; on the connection that created it, the node must be
/// readable at once with that data (the server applied the write before answering).
pub async fn create_data_through(
    cluster: &Cluster,
    i: usize,
    path: &str,
    data: &[u8],
    within: Duration,
) -> Duration {
    use corral_client::corral_proto::consts::CreateMode;
    use corral_client::corral_proto::response::Response;
    use corral_client::corral_proto::ErrorCode;
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < within {
        let options = ConnectOptions {
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            ..ConnectOptions::default()
        };
        match Client::connect(&cluster.addr(i), options).await {
            Ok(client) => {
                let created = tokio::time::timeout(
                    Duration::from_secs(3),
                    client.create(path, data, open_acl(), CreateMode::Persistent),
                )
                .await;
                match created {
                    // NODEEXISTS: an earlier attempt that timed out went through after all.
                    Ok(Ok(reply))
                        if matches!(reply.code(), ErrorCode::Ok | ErrorCode::NodeExists) =>
                    {
                        match client.get_data(path, false).await {
                            Ok(read) => {
                                let Ok(Response::GetData { data: got, .. }) = read.result else {
                                    panic!("{path} not readable on server {}: {read:?}", i + 1);
                                };
                                assert_eq!(got.as_deref(), Some(data), "{path}");
                                return started.elapsed();
                            }
                            Err(e) => last = format!("read back: {e}"),
                        }
                    }
                    other => last = format!("create: {other:?}"),
                }
            }
            Err(e) => last = format!("connect: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no write through server {} acknowledged within {within:?} (last: {last})\n{}",
        i + 1,
        cluster.logs()
    );
}

/// The data of `path` on server `i` after `sync` (`None`: no such node), on a new session,
/// retrying on connection loss for up to `within`.
pub async fn read_through(
    cluster: &Cluster,
    i: usize,
    path: &str,
    within: Duration,
) -> Option<Vec<u8>> {
    use corral_client::corral_proto::response::Response;
    use corral_client::corral_proto::ErrorCode;
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < within {
        let options = ConnectOptions {
            timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            ..ConnectOptions::default()
        };
        let attempt = async {
            let client = Client::connect(&cluster.addr(i), options)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let sync = client.sync(path).await.map_err(|e| format!("sync: {e}"))?;
            if sync.code() != ErrorCode::Ok {
                return Err(format!("sync: {:?}", sync.code()));
            }
            let read = client
                .get_data(path, false)
                .await
                .map_err(|e| format!("getData: {e}"))?;
            match read.result {
                Ok(Response::GetData { data, .. }) => {
                    Ok(Some(data.map(|d| d.to_vec()).unwrap_or_default()))
                }
                Err(ErrorCode::NoNode) => Ok(None),
                other => panic!("getData {path} on server {}: {other:?}", i + 1),
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(data)) => return data,
            Ok(Err(e)) => last = e,
            Err(_) => last = "timed out".to_owned(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "cannot read {path} on server {} within {within:?} (last: {last})\n{}",
        i + 1,
        cluster.logs()
    );
}

/// Runs blocking harness code (process start, `srvr` polling) from an async test.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
