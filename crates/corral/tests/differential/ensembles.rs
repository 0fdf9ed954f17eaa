//! The generated sequences against two three-server ensembles, Apache ZooKeeper's and
//! Corral's, each client connected to a follower (so every write is forwarded to the leader
//! and every read is the follower's own): the same replies, errors, watch events and Stat
//! fields (up to zxids and times) as with standalone servers.
//!
//! Settings as in `servers` (short tick, extended types, the super digest, no fsync, no
//! reaping during a run), with election timeouts long enough that a loaded machine does not
//! trigger elections in the middle of a sequence.

use std::fs;
use std::path::{Path, PathBuf};

use corral_testkit::{
    four_letter_word, free_port, ApacheZkEnsemble, ApacheZkEnsembleOptions, CorralProcess,
};

use crate::servers::{
    apache_options, super_digest, Targets, MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS,
    REAPER_INTERVAL_MS, TICK_MS,
};

const SERVERS: usize = 3;
/// ZooKeeper's limits in ticks: with a 100 ms tick, 2 s before a silent peer counts as gone.
const INIT_LIMIT_TICKS: u32 = 20;
const SYNC_LIMIT_TICKS: u32 = 20;
/// Corral's election timeout (the tick-derived one would be 250 ms).
const CORRAL_ELECTION_TIMEOUT_MS: u32 = 1000;

/// Both ensembles; dropping it stops every server.
pub struct Ensembles {
    _zk: ApacheZkEnsemble,
    _corral: Vec<CorralProcess>,
    _data: tempfile::TempDir,
    /// A follower of each.
    pub targets: Targets,
}

pub fn start() -> Result<Ensembles, String> {
    let zk_thread = std::thread::spawn(start_zookeeper);
    let data = tempfile::Builder::new()
        .prefix("corral-differential-ensemble-")
        .tempdir()
        .map_err(|e| format!("temporary data dir: {e}"))?;
    let corral = start_corral(data.path());
    let zk = zk_thread
        .join()
        .map_err(|_| "the Apache ZooKeeper start thread panicked".to_owned())?;
    let (mut zk, corral) = (zk?, corral?);
    let zk_leader = zk.wait_for_leader().map_err(|e| format!("{e:#}"))?;
    let zk_follower = (zk_leader + 1) % zk.server_count();
    let corral_follower = corral_follower(&corral)?;
    let targets = Targets {
        zk: zk.addr(zk_follower).to_string(),
        corral: corral[corral_follower].connect_string(),
    };
    eprintln!(
        "differential (ensembles): Apache ZooKeeper follower {}, Corral follower {}",
        targets.zk, targets.corral
    );
    Ok(Ensembles {
        _zk: zk,
        _corral: corral,
        _data: data,
        targets,
    })
}

fn start_zookeeper() -> Result<ApacheZkEnsemble, String> {
    let server = apache_options();
    let options = ApacheZkEnsembleOptions {
        servers: SERVERS,
        init_limit: INIT_LIMIT_TICKS,
        sync_limit: SYNC_LIMIT_TICKS,
        server,
    };
    ApacheZkEnsemble::start(options).map_err(|e| format!("{e:#}"))
}

fn start_corral(dir: &Path) -> Result<Vec<CorralProcess>, String> {
    let ports: Vec<(u16, u16, u16)> = (0..SERVERS)
        .map(|_| (free_port(), free_port(), free_port()))
        .collect();
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, (_, quorum, election))| {
            format!("server.{}=127.0.0.1:{quorum}:{election}\n", i + 1)
        })
        .collect();
    let mut processes = Vec::new();
    for (i, (client_port, _, _)) in ports.iter().enumerate() {
        let data = dir.join(format!("server-{}", i + 1));
        fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        fs::write(data.join("myid"), format!("{}\n", i + 1)).map_err(|e| e.to_string())?;
        let cfg = config(&data, *client_port, &servers);
        let path: PathBuf = data.join("zoo.cfg");
        fs::write(&path, cfg).map_err(|e| e.to_string())?;
        let args = [
            "server".to_owned(),
            "--config".to_owned(),
            path.display().to_string(),
        ];
        let binary = Path::new(env!("CARGO_BIN_EXE_corral"));
        let process = CorralProcess::start(binary, &args, &[], *client_port)
            .map_err(|e| format!("Corral server {}: {e:#}", i + 1))?;
        processes.push(process);
    }
    Ok(processes)
}

fn config(data: &Path, client_port: u16, servers: &str) -> String {
    format!(
        "tickTime={TICK_MS}\ninitLimit={INIT_LIMIT_TICKS}\nsyncLimit={SYNC_LIMIT_TICKS}\n\
         dataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\n\
         4lw.commands.whitelist=*\nmaxClientCnxns=0\nminSessionTimeout={MIN_SESSION_TIMEOUT_MS}\n\
         maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}\nforceSync=no\nextendedTypesEnabled=true\n\
         DigestAuthenticationProvider.superDigest={}\n\
         znode.container.checkIntervalMs={REAPER_INTERVAL_MS}\n\
         corral.raft.electionTimeoutMs={CORRAL_ELECTION_TIMEOUT_MS}\n{servers}",
        data.display(),
        super_digest()
    )
}

/// The index of a Corral server that follows, once the ensemble has a leader.
fn corral_follower(processes: &[CorralProcess]) -> Result<usize, String> {
    let started = std::time::Instant::now();
    loop {
        let modes: Vec<Option<String>> = processes
            .iter()
            .map(|p| {
                let srvr = four_letter_word(p.addr(), "srvr").ok()?;
                srvr.lines()
                    .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
            })
            .collect();
        let leaders = modes
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count();
        if let (1, Some(i)) = (
            leaders,
            modes.iter().position(|m| m.as_deref() == Some("follower")),
        ) {
            return Ok(i);
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            return Err(format!("no Corral leader after 60 s: {modes:?}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
