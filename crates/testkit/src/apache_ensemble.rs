//! Several real Apache ZooKeeper servers (Debian's 3.8 jars) as one ensemble on 127.0.0.1.
//!
//! Each server has its own directory (`server.<id>/` with `zoo.cfg`, `data/myid`, its log4j
//! configuration and its `stdout.log`/`stderr.log`) inside one temporary directory; every zoo.cfg
//! lists all servers as `server.<id>=127.0.0.1:<quorum>:<election>`. See
//! `shared/reference/running-apache-zookeeper.md` for the classpath and the zoo.cfg keys.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::apache::{apache_zk_classpath, ApacheZkOptions};
use crate::process::{keep_dir, tail, Managed};
use crate::{cfg_override, four_letter_word_with_timeout, render_cfg};

/// How many times [`ApacheZkEnsemble::start`] tries new ports when one was taken meanwhile.
const BIND_ATTEMPTS: usize = 3;

/// Bound on one `srvr` probe while waiting for a leader (a JVM under load answers slowly, but a
/// probe must not hold the wait for long).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Options for [`ApacheZkEnsemble::start`]: the ensemble's shape and quorum timers, plus the
/// options every server's JVM and zoo.cfg get ([`ApacheZkOptions`]: `tickTime`, heap, system
/// properties, JVM flags, extra zoo.cfg entries, log level, `java`).
#[derive(Clone, Debug)]
pub struct ApacheZkEnsembleOptions {
    /// Number of servers (default 3; at least 1).
    pub servers: usize,
    /// `initLimit` in ticks (default 10).
    pub init_limit: u32,
    /// `syncLimit` in ticks (default 5).
    pub sync_limit: u32,
    /// Per-server options. `start_timeout` bounds the wait for a leader and followers (at
    /// start, and for one server at [`ApacheZkEnsemble::restart`]); `extra_cfg` may not set
    /// `clientPort`, `dataDir` or `server.N` (the ensemble assigns those).
    pub server: ApacheZkOptions,
}

impl Default for ApacheZkEnsembleOptions {
    fn default() -> Self {
        Self {
            servers: 3,
            init_limit: 10,
            sync_limit: 5,
            server: ApacheZkOptions::default(),
        }
    }
}

impl ApacheZkEnsembleOptions {
    /// Sets the number of servers.
    pub fn with_servers(mut self, servers: usize) -> Self {
        self.servers = servers;
        self
    }

    /// Sets every server's heap limit, e.g. `"256m"`.
    pub fn with_heap(mut self, heap: impl Into<String>) -> Self {
        self.server.heap = heap.into();
        self
    }

    /// Sets `tickTime` in milliseconds.
    pub fn with_tick_time_ms(mut self, ms: u32) -> Self {
        self.server.tick_time_ms = ms;
        self
    }

    /// Sets `initLimit` and `syncLimit` (in ticks).
    pub fn with_limits(mut self, init_limit: u32, sync_limit: u32) -> Self {
        self.init_limit = init_limit;
        self.sync_limit = sync_limit;
        self
    }

    /// Adds or overrides a zoo.cfg entry on every server.
    pub fn with_cfg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.server.extra_cfg.push((key.into(), value.into()));
        self
    }

    /// Adds a `-Dkey=value` JVM system property on every server.
    pub fn with_system_property(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.server
            .system_properties
            .push((key.into(), value.into()));
        self
    }

    /// Sets the log4j level (`INFO`, `WARN`, ...); `WARN` for benchmarks.
    pub fn with_log_level(mut self, level: impl Into<String>) -> Self {
        self.server.log_level = level.into();
        self
    }

    /// Sets how long to wait for a leader and followers.
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.server.start_timeout = timeout;
        self
    }
}

/// One server of the ensemble.
#[derive(Debug)]
struct Member {
    id: u64,
    client_port: u16,
    quorum_port: u16,
    election_port: u16,
    dir: PathBuf,
    /// `None` after [`ApacheZkEnsemble::kill`] until [`ApacheZkEnsemble::restart`].
    process: Option<Managed>,
}

/// A running Apache ZooKeeper ensemble on 127.0.0.1: servers `0..server_count()` (myid
/// `index + 1`). Every server is killed (SIGKILL) and reaped on drop, and the temporary directory
/// removed.
///
/// ```no_run
/// use corral_testkit::{ApacheZkEnsemble, ApacheZkEnsembleOptions};
///
/// let mut zk = ApacheZkEnsemble::start(ApacheZkEnsembleOptions::default()).unwrap();
/// let leader = zk.wait_for_leader().unwrap();
/// println!("connect to {}", zk.connect_string());
/// zk.kill(leader).unwrap();
/// let new_leader = zk.wait_for_leader().unwrap();
/// assert_ne!(leader, new_leader);
/// zk.restart(leader).unwrap();
/// ```
#[derive(Debug)]
pub struct ApacheZkEnsemble {
    // Field order matters: the processes die before their directory is removed.
    members: Vec<Member>,
    opts: ApacheZkEnsembleOptions,
    classpath: String,
    dir: tempfile::TempDir,
}

impl ApacheZkEnsemble {
    /// Writes every server's zoo.cfg and `myid` into a fresh temporary directory, starts the
    /// servers (`java ... QuorumPeerMain zoo.cfg`) and waits until `srvr` reports exactly one
    /// `Mode: leader` and every other server `Mode: follower`.
    ///
    /// Ports (client, quorum, election per server) are free ones; when a server fails because one
    /// was taken before it bound it, the whole start is retried with new ports. On failure the
    /// error names every server's mode and includes the tail of each server's log; the directory
    /// is kept.
    pub fn start(opts: ApacheZkEnsembleOptions) -> anyhow::Result<ApacheZkEnsemble> {
        if opts.servers == 0 {
            bail!("an ensemble needs at least one server");
        }
        for key in ["clientPort", "dataDir", "clientPortAddress"] {
            if cfg_override(&opts.server.extra_cfg, key).is_some() {
                bail!("extra_cfg may not set {key}: the ensemble assigns it per server");
            }
        }
        if let Some((key, _)) = opts
            .server
            .extra_cfg
            .iter()
            .find(|(k, _)| k.starts_with("server."))
        {
            bail!("extra_cfg may not set {key}: the ensemble lists its own servers");
        }
        java_works(&opts.server.java).map_err(|e| anyhow!("cannot start Apache ZooKeeper: {e}"))?;
        let classpath =
            apache_zk_classpath().map_err(|e| anyhow!("cannot start Apache ZooKeeper: {e}"))?;
        let mut attempt = 1;
        loop {
            let mut ensemble = Self::write_configs(&opts, &classpath)?;
            let started = match ensemble.launch_all() {
                Ok(()) => ensemble.wait_for_leader().map(|_| ()),
                Err(err) => Err(err),
            };
            let Err(err) = started else {
                return Ok(ensemble);
            };
            let port_taken = ensemble.port_was_taken();
            let dir_note = ensemble.abandon(!port_taken);
            if port_taken && attempt < BIND_ATTEMPTS {
                attempt += 1;
                continue;
            }
            bail!("Apache ZooKeeper ensemble did not start ({dir_note}): {err:#}");
        }
    }

    /// Picks ports and writes each server's directory; starts nothing.
    fn write_configs(
        opts: &ApacheZkEnsembleOptions,
        classpath: &str,
    ) -> anyhow::Result<ApacheZkEnsemble> {
        let dir = tempfile::Builder::new()
            .prefix("corral-apache-zk-ensemble-")
            .tempdir()
            .context("creating a temporary directory for an Apache ZooKeeper ensemble")?;
        // Hold every chosen port's listener until all are chosen, so that no two coincide.
        let mut held = Vec::new();
        let mut port = || -> anyhow::Result<u16> {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .context("finding a free port")?;
            let port = listener.local_addr()?.port();
            held.push(listener);
            Ok(port)
        };
        let mut members = Vec::with_capacity(opts.servers);
        for i in 0..opts.servers {
            members.push(Member {
                id: i as u64 + 1,
                client_port: port()?,
                quorum_port: port()?,
                election_port: port()?,
                dir: dir.path().join(format!("server.{}", i + 1)),
                process: None,
            });
        }
        drop(held);
        let servers: Vec<(String, String)> = members
            .iter()
            .map(|m| {
                (
                    format!("server.{}", m.id),
                    format!("127.0.0.1:{}:{}", m.quorum_port, m.election_port),
                )
            })
            .collect();
        for m in &members {
            let data = m.dir.join("data");
            fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            fs::write(data.join("myid"), format!("{}\n", m.id))
                .with_context(|| format!("writing {}/myid", data.display()))?;
            let mut defaults = vec![
                ("tickTime".to_string(), opts.server.tick_time_ms.to_string()),
                ("initLimit".to_string(), opts.init_limit.to_string()),
                ("syncLimit".to_string(), opts.sync_limit.to_string()),
                ("dataDir".to_string(), data.display().to_string()),
                ("clientPort".to_string(), m.client_port.to_string()),
                ("clientPortAddress".to_string(), "127.0.0.1".to_string()),
                ("maxClientCnxns".to_string(), "0".to_string()),
                ("4lw.commands.whitelist".to_string(), "*".to_string()),
                ("admin.enableServer".to_string(), "false".to_string()),
            ];
            defaults.extend(servers.iter().cloned());
            let cfg = m.dir.join("zoo.cfg");
            fs::write(&cfg, render_cfg(defaults, &opts.server.extra_cfg))
                .with_context(|| format!("writing {}", cfg.display()))?;
            let log4j = m.dir.join("log4j.properties");
            fs::write(&log4j, log4j_properties(&opts.server.log_level))
                .with_context(|| format!("writing {}", log4j.display()))?;
        }
        Ok(ApacheZkEnsemble {
            members,
            opts: opts.clone(),
            classpath: classpath.to_string(),
            dir,
        })
    }

    fn launch_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.members.len() {
            self.launch(i)?;
        }
        Ok(())
    }

    /// Spawns server `i` on its zoo.cfg (appending to its logs); does not wait.
    fn launch(&mut self, i: usize) -> anyhow::Result<()> {
        let opts = &self.opts.server;
        let m = &self.members[i];
        let open = |name: &str| {
            let path = m.dir.join(name);
            File::options()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))
        };
        let (stdout, stderr) = (open("stdout.log")?, open("stderr.log")?);
        let mut cmd = Command::new(&opts.java);
        cmd.arg(format!("-Xmx{}", opts.heap))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                m.dir.join("log4j.properties").display()
            ))
            .arg("-Dzookeeper.admin.enableServer=false");
        if opts.extended_types {
            cmd.arg("-Dzookeeper.extendedTypesEnabled=true");
        }
        if let Some(digest) = &opts.super_digest {
            cmd.arg(format!(
                "-Dzookeeper.DigestAuthenticationProvider.superDigest={digest}"
            ));
        }
        for (k, v) in &opts.system_properties {
            cmd.arg(format!("-D{k}={v}"));
        }
        cmd.args(&opts.jvm_flags)
            .arg("-cp")
            .arg(&self.classpath)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(m.dir.join("zoo.cfg"))
            .current_dir(&m.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let process = Managed::spawn(cmd)
            .with_context(|| format!("spawning `{}` for server {}", opts.java.display(), m.id))?;
        self.members[i].process = Some(process);
        Ok(())
    }

    /// Whether a server's log says that one of its ports was taken.
    fn port_was_taken(&self) -> bool {
        (0..self.members.len()).any(|i| {
            let log = self.log_tail(i, 200);
            log.contains("Address already in use") || log.contains("BindException")
        })
    }

    /// Kills every server; keeps the directory (returning a note naming it) or removes it.
    fn abandon(mut self, keep: bool) -> String {
        for m in &mut self.members {
            if let Some(mut p) = m.process.take() {
                let _ = p.kill();
            }
        }
        let ApacheZkEnsemble { members, dir, .. } = self;
        drop(members);
        if keep {
            format!("directory kept: {}", keep_dir(dir).display())
        } else {
            format!("{} removed; a port was taken", dir.path().display())
        }
    }

    /// How many servers the ensemble has (running or not).
    pub fn server_count(&self) -> usize {
        self.members.len()
    }

    /// Server `i`'s myid (`i + 1`).
    pub fn id(&self, i: usize) -> u64 {
        self.members[i].id
    }

    /// Server `i`'s client address, `127.0.0.1:<port>`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.members[i].client_port))
    }

    /// Every server's client address, in server order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        (0..self.members.len()).map(|i| self.addr(i)).collect()
    }

    /// The connect string for clients: `127.0.0.1:<port>,127.0.0.1:<port>,...`.
    pub fn connect_string(&self) -> String {
        self.addrs()
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Server `i`'s quorum and election ports (`server.N=127.0.0.1:<quorum>:<election>`).
    pub fn peer_ports(&self, i: usize) -> (u16, u16) {
        (self.members[i].quorum_port, self.members[i].election_port)
    }

    /// Server `i`'s process id, `None` while it is killed.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].process.as_ref().map(Managed::pid)
    }

    /// The process ids of the servers that have a process, in server order.
    pub fn pids(&self) -> Vec<u32> {
        (0..self.members.len())
            .filter_map(|i| self.pid(i))
            .collect()
    }

    /// Whether server `i`'s process is running.
    pub fn is_running(&mut self, i: usize) -> bool {
        match self.members[i].process.as_mut() {
            Some(p) => matches!(p.try_status(), Ok(None)),
            None => false,
        }
    }

    /// The ensemble's temporary directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Server `i`'s directory: `zoo.cfg`, `data/` (with `myid`), `stdout.log`, `stderr.log`.
    pub fn server_dir(&self, i: usize) -> &Path {
        &self.members[i].dir
    }

    /// Server `i`'s `dataDir`.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.members[i].dir.join("data")
    }

    /// Server `i`'s zoo.cfg.
    pub fn config_path(&self, i: usize) -> PathBuf {
        self.members[i].dir.join("zoo.cfg")
    }

    /// Server `i`'s stdout, which holds its log4j log.
    pub fn stdout_path(&self, i: usize) -> PathBuf {
        self.members[i].dir.join("stdout.log")
    }

    /// The last `lines` lines of server `i`'s stdout and of its stderr.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let dir = &self.members[i].dir;
        format!(
            "[stdout]\n{}\n[stderr]\n{}",
            tail(&dir.join("stdout.log"), lines),
            tail(&dir.join("stderr.log"), lines)
        )
    }

    /// The last `lines` lines of every server's logs, each under a header.
    pub fn logs(&self, lines: usize) -> String {
        (0..self.members.len())
            .map(|i| {
                format!(
                    "--- server.{} (pid {:?}) ---\n{}",
                    self.id(i),
                    self.pid(i),
                    self.log_tail(i, lines)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends a four-letter word to server `i` (see [`crate::four_letter_word`]).
    pub fn four_letter_word(&self, i: usize, cmd: &str) -> std::io::Result<String> {
        crate::four_letter_word(self.addr(i), cmd)
    }

    /// What `srvr` on server `i` says after `Mode: ` (`leader`, `follower`, `observer`,
    /// `standalone`), or `None` when the server does not answer or does not serve (during an
    /// election ZooKeeper answers "This ZooKeeper instance is not currently serving requests").
    pub fn mode(&self, i: usize) -> Option<String> {
        self.members[i].process.as_ref()?;
        let srvr = four_letter_word_with_timeout(self.addr(i), "srvr", PROBE_TIMEOUT).ok()?;
        srvr.lines()
            .find_map(|l| l.strip_prefix("Mode: ").map(|m| m.trim().to_string()))
    }

    /// Every server's [`mode`](Self::mode), in server order.
    pub fn modes(&self) -> Vec<Option<String>> {
        (0..self.members.len()).map(|i| self.mode(i)).collect()
    }

    /// The index of the leader if, right now, exactly one running server says `leader` and every
    /// other running server says `follower`.
    pub fn leader(&mut self) -> Option<usize> {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.is_running(i))
            .collect();
        let mut leader = None;
        for &i in &running {
            match self.mode(i).as_deref() {
                Some("leader") if leader.is_none() => leader = Some(i),
                Some("follower") => {}
                _ => return None,
            }
        }
        leader
    }

    /// Waits (up to the options' `start_timeout`) until exactly one running server leads and
    /// every other running server follows; returns the leader's index. Fails early when a server
    /// that should run has exited, and on timeout, with every server's mode and log tail.
    pub fn wait_for_leader(&mut self) -> anyhow::Result<usize> {
        let timeout = self.opts.server.start_timeout;
        let started = Instant::now();
        loop {
            for i in 0..self.members.len() {
                if let Some(p) = self.members[i].process.as_mut() {
                    if let Ok(Some(status)) = p.try_status() {
                        bail!(
                            "server.{} exited ({status})\n{}",
                            self.members[i].id,
                            self.logs(40)
                        );
                    }
                }
            }
            if let Some(leader) = self.leader() {
                return Ok(leader);
            }
            if started.elapsed() >= timeout {
                bail!(
                    "no leader with {} followers within {timeout:?}: modes {:?}\n{}",
                    self.members
                        .iter()
                        .filter(|m| m.process.is_some())
                        .count()
                        .saturating_sub(1),
                    self.modes(),
                    self.logs(40)
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills server `i` with SIGKILL (a crash, as far as the others can tell) and reaps it. Its
    /// directory stays, for [`restart`](Self::restart). Harmless when it is already killed.
    pub fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        let id = self.members[i].id;
        if let Some(mut p) = self.members[i].process.take() {
            p.kill()
                .with_context(|| format!("killing server.{id} (pid {})", p.pid()))?;
        }
        Ok(())
    }

    /// Starts server `i` again on its configuration and data (after [`kill`](Self::kill)) and
    /// waits until it has rejoined: one leader, every running server leading or following.
    /// Returns the leader's index.
    pub fn restart(&mut self, i: usize) -> anyhow::Result<usize> {
        if self.is_running(i) {
            bail!("server.{} is running; kill it first", self.members[i].id);
        }
        self.members[i].process = None;
        self.launch(i)?;
        self.wait_for_leader()
    }
}

/// Whether `java -version` runs (a reason fit for an error message otherwise).
fn java_works(java: &Path) -> Result<(), String> {
    match Command::new(java)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{} -version` failed ({status})", java.display())),
        Err(e) => Err(format!(
            "cannot run `{}` ({e}); run scripts/install-test-deps.sh to install a JRE",
            java.display()
        )),
    }
}

fn log4j_properties(level: &str) -> String {
    format!(
        "log4j.rootLogger={level}, CONSOLE\n\
         log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.CONSOLE.layout.ConversionPattern=%d{{ISO8601}} %-5p [%t:%C{{1}}@%L] - %m%n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_list_every_server() {
        let opts = ApacheZkEnsembleOptions::default().with_cfg("snapCount", "1000");
        let ensemble = ApacheZkEnsemble::write_configs(&opts, "unused.jar").unwrap();
        assert_eq!(ensemble.server_count(), 3);
        let mut ports: Vec<u16> = (0..3)
            .flat_map(|i| {
                let (q, e) = ensemble.peer_ports(i);
                [ensemble.addr(i).port(), q, e]
            })
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 9, "ports must all differ: {ports:?}");
        for i in 0..3 {
            let cfg = fs::read_to_string(ensemble.config_path(i)).unwrap();
            for j in 0..3 {
                let (q, e) = ensemble.peer_ports(j);
                assert!(cfg.contains(&format!("server.{}=127.0.0.1:{q}:{e}\n", j + 1)));
            }
            for line in [
                "tickTime=2000\n",
                "initLimit=10\n",
                "syncLimit=5\n",
                "4lw.commands.whitelist=*\n",
                "snapCount=1000\n",
            ] {
                assert!(cfg.contains(line), "{line:?} missing from\n{cfg}");
            }
            assert!(cfg.contains(&format!("clientPort={}\n", ensemble.addr(i).port())));
            let myid = fs::read_to_string(ensemble.data_dir(i).join("myid")).unwrap();
            assert_eq!(myid.trim(), (i + 1).to_string());
        }
        assert_eq!(ensemble.connect_string().split(',').count(), 3);
        assert_eq!(ensemble.pids(), Vec::<u32>::new());
    }

    #[test]
    fn assigned_keys_are_refused() {
        for key in ["clientPort", "dataDir", "server.4"] {
            let err =
                ApacheZkEnsemble::start(ApacheZkEnsembleOptions::default().with_cfg(key, "1"))
                    .unwrap_err();
            assert!(format!("{err}").contains(key), "{err}");
        }
    }
}
