//! `corral dev-cluster --servers 3`: a local ensemble on loopback ports in one command, for
//! trying clients against an ensemble and for development. It writes an ordinary zoo.cfg and
//! `myid` per server under one directory, starts each server as its own `corral server`
//! process (the binary that runs this command), prints the connect string, and stops them all
//! on Ctrl-C or SIGTERM. Restarting with the same directory keeps the data.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Servers an ensemble may have here (ZooKeeper's server ids fit in a byte).
const SERVERS_MAX: u16 = 9;
/// How long the servers may take to elect a leader before the command gives up.
const LEADER_WAIT: Duration = Duration::from_secs(60);
/// Ports per server: client, quorum, election.
const PORTS_PER_SERVER: u16 = 4;

#[derive(clap::Args)]
pub struct DevClusterArgs {
    /// Servers in the ensemble (voters; 3 or 5 are the usual sizes).
    #[arg(long, default_value_t = 3)]
    servers: u16,
    /// Observers besides the voters.
    #[arg(long, default_value_t = 0)]
    observers: u16,
    /// Directory holding each server's data, zoo.cfg and log (`<dir>/server-N/`).
    #[arg(long, default_value = "corral-dev-cluster")]
    dir: PathBuf,
    /// First port: server N uses base+4(N-1) for clients, then +1 quorum, +2 election, +3 its
    /// AdminServer (on 127.0.0.1).
    #[arg(long, default_value_t = 12181)]
    base_port: u16,
}

struct Member {
    id: u16,
    observer: bool,
    client_port: u16,
    quorum_port: u16,
    election_port: u16,
    admin_port: u16,
}

pub fn run(args: DevClusterArgs) -> anyhow::Result<()> {
    let members = plan(&args)?;
    let binary = std::env::current_exe().context("cannot find the corral binary")?;
    let mut children = Vec::new();
    for member in &members {
        let dir = args.dir.join(format!("server-{}", member.id));
        write_config(&dir, member, &members)?;
        children.push(spawn(&binary, &dir)?);
    }
    let connect: Vec<String> = members
        .iter()
        .map(|m| format!("127.0.0.1:{}", m.client_port))
        .collect();
    let outcome = wait_and_serve(&members, &connect.join(","), &args.dir);
    for child in &mut children {
        stop(child);
    }
    outcome
}

fn plan(args: &DevClusterArgs) -> anyhow::Result<Vec<Member>> {
    let total = args.servers + args.observers;
    if args.servers == 0 || total > SERVERS_MAX {
        bail!("--servers must be 1..={SERVERS_MAX} voters, with observers {SERVERS_MAX} servers at most");
    }
    let last = u32::from(args.base_port) + u32::from(total * PORTS_PER_SERVER);
    if last > u32::from(u16::MAX) {
        bail!(
            "--base-port {} leaves no room for {total} servers",
            args.base_port
        );
    }
    let members: Vec<Member> = (1..=total)
        .map(|id| {
            let first = args.base_port + (id - 1) * PORTS_PER_SERVER;
            Member {
                id,
                observer: id > args.servers,
                client_port: first,
                quorum_port: first + 1,
                election_port: first + 2,
                admin_port: first + 3,
            }
        })
        .collect();
    for member in &members {
        for port in [
            member.client_port,
            member.quorum_port,
            member.election_port,
            member.admin_port,
        ] {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            TcpListener::bind(addr)
                .with_context(|| format!("port {port} is taken (choose another --base-port)"))?;
        }
    }
    Ok(members)
}

fn write_config(dir: &Path, me: &Member, members: &[Member]) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let data_dir = fs::canonicalize(dir)?;
    fs::write(data_dir.join("myid"), format!("{}\n", me.id))?;
    let mut cfg = format!(
        "# written by corral dev-cluster\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n\
         dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort={}\n",
        data_dir.display(),
        me.client_port,
        me.admin_port
    );
    for m in members {
        let role = if m.observer { ":observer" } else { "" };
        cfg.push_str(&format!(
            "server.{}=127.0.0.1:{}:{}{role}\n",
            m.id, m.quorum_port, m.election_port
        ));
    }
    fs::write(data_dir.join("zoo.cfg"), cfg)?;
    Ok(())
}

fn spawn(binary: &Path, dir: &Path) -> anyhow::Result<Child> {
    let log = fs::File::create(dir.join("server.log"))?;
    Command::new(binary)
        .arg("server")
        .arg("--config")
        .arg(dir.join("zoo.cfg"))
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

/// Waits for a leader, prints the connect string, then serves until a signal.
fn wait_and_serve(members: &[Member], connect: &str, dir: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let leader = wait_for_leader(members).await?;
        println!(
            "ensemble of {} servers is up; leader: server {leader}",
            members.len()
        );
        println!("connect string: {connect}");
        println!(
            "data and logs: {}/server-N/ (Ctrl-C stops every server)",
            dir.display()
        );
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot watch SIGINT")?,
            () = terminated() => {}
        }
        println!("stopping the ensemble");
        Ok(())
    })
}

async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

async fn wait_for_leader(members: &[Member]) -> anyhow::Result<u16> {
    let started = Instant::now();
    while started.elapsed() < LEADER_WAIT {
        for member in members {
            let mode = mode_of(member.client_port).await;
            if mode.as_deref() == Some("leader") {
                return Ok(member.id);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("no leader after {LEADER_WAIT:?}; see the server.log files")
}

/// The `Mode:` line of the server's `srvr` answer.
async fn mode_of(port: u16) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream.write_all(b"srvr").await.ok()?;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut text))
        .await
        .ok()?
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
}

/// SIGTERM, then SIGKILL if the server has not exited after a grace period.
fn stop(child: &mut Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: signals a child process this command started and has not reaped yet.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
