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
    /// The leader of each.
    pub leaders: Targets,
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
    let (corral_leader, corral_follower) = corral_roles(&corral)?;
    let targets = Targets {
        zk: zk.addr(zk_follower).to_string(),
        corral: corral[corral_follower].connect_string(),
    };
    let leaders = Targets {
        zk: zk.addr(zk_leader).to_string(),
        corral: corral[corral_leader].connect_string(),
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
        leaders,
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
         admin.enableServer=false\n\
         maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}\nforceSync=no\nextendedTypesEnabled=true\n\
         DigestAuthenticationProvider.superDigest={}\n\
         znode.container.checkIntervalMs={REAPER_INTERVAL_MS}\n\
         corral.raft.electionTimeoutMs={CORRAL_ELECTION_TIMEOUT_MS}\n{servers}",
        data.display(),
        super_digest()
    )
}

/// The indexes of the Corral leader and of a follower, once the ensemble has a leader.
fn corral_roles(processes: &[CorralProcess]) -> Result<(usize, usize), String> {
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
        let leader = modes.iter().position(|m| m.as_deref() == Some("leader"));
        let follower = modes.iter().position(|m| m.as_deref() == Some("follower"));
        if let (1, Some(leader), Some(follower)) = (leaders, leader, follower) {
            return Ok((leader, follower));
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            return Err(format!("no Corral leader after 60 s: {modes:?}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The `mntr` keys ZooKeeper's ensemble servers add (reference `zookeeper-ensemble.md` §6.2).
const ENSEMBLE_MNTR_KEYS: &[&str] = &[
    "zk_server_state",
    "zk_peer_state",
    "zk_quorum_size",
    "zk_learners",
    "zk_synced_followers",
    "zk_synced_non_voting_followers",
    "zk_synced_observers",
    "zk_pending_syncs",
    "zk_leader_uptime",
    "zk_last_proposal_size",
    "zk_min_proposal_size",
    "zk_max_proposal_size",
];

/// The answer to `cmd` of the server at `addr` (`host:port`).
fn ask(addr: &str, cmd: &str) -> Result<String, String> {
    let socket: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| format!("{addr} is not an address: {e}"))?;
    four_letter_word(socket, cmd).map_err(|e| format!("{cmd} at {addr}: {e:#}"))
}

/// `mntr`'s ensemble keys of the server at `addr`.
fn ensemble_mntr(addr: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let text = ask(addr, "mntr")?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(key, _)| ENSEMBLE_MNTR_KEYS.contains(key))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect())
}

/// What each line of `srvr` is (the text before its colon), in order.
fn srvr_shape(addr: &str) -> Result<Vec<String>, String> {
    let text = ask(addr, "srvr")?;
    Ok(text
        .lines()
        .map(|line| line.split(':').next().unwrap_or("").to_owned())
        .collect())
}

/// The operator's view of both ensembles after the sequences: the same `mntr` ensemble keys
/// with the same values where they do not depend on timing or encoding (sizes and uptime are
/// checked for sense), and `srvr` answers of the same shape, on the leader and a follower.
pub fn compare_operator_view(ensembles: &Ensembles) -> Result<(), String> {
    let pairs = [
        ("leader", &ensembles.leaders),
        ("follower", &ensembles.targets),
    ];
    for (role, targets) in pairs {
        let zk = ensemble_mntr(&targets.zk)?;
        let corral = ensemble_mntr(&targets.corral)?;
        eprintln!("{role} mntr ensemble keys: ZooKeeper {zk:?}, Corral {corral:?}");
        let least = if role == "leader" { 12 } else { 3 };
        if zk.len() < least {
            return Err(format!(
                "{role}: ZooKeeper's mntr lacks ensemble keys: {zk:?}"
            ));
        }
        let zk_keys: Vec<&String> = zk.keys().collect();
        let corral_keys: Vec<&String> = corral.keys().collect();
        if zk_keys != corral_keys {
            return Err(format!(
                "{role} mntr ensemble keys differ: ZooKeeper {zk_keys:?}, Corral {corral_keys:?}"
            ));
        }
        for (key, zk_value) in &zk {
            let corral_value = &corral[key];
            let sized = key.ends_with("_proposal_size") || key == "zk_leader_uptime";
            if sized {
                let number = |v: &str| v.parse::<i64>().ok().filter(|n| *n > 0);
                if number(zk_value).is_some() != number(corral_value).is_some() {
                    return Err(format!(
                        "{role} {key}: ZooKeeper {zk_value}, Corral {corral_value}"
                    ));
                }
            } else if zk_value != corral_value {
                return Err(format!(
                    "{role} {key}: ZooKeeper {zk_value}, Corral {corral_value}"
                ));
            }
        }
        let (zk_srvr, corral_srvr) = (srvr_shape(&targets.zk)?, srvr_shape(&targets.corral)?);
        if zk_srvr != corral_srvr {
            return Err(format!(
                "{role} srvr lines differ: ZooKeeper {zk_srvr:?}, Corral {corral_srvr:?}"
            ));
        }
    }
    Ok(())
}
