//! The ensemble commands of a three-server Corral ensemble, each server with its AdminServer:
//! `leader`, `voting_view`, `zabstate`, `observers` with ZooKeeper 3.9's fields
//! (`Commands.java`; the ensemble reference §6.4) and values that agree across the servers.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use corral_testkit::{free_port, CorralProcess};
use serde_json::Value;

use crate::http::get;

const SERVERS: usize = 3;

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn ensemble_commands_have_zookeepers_fields() {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<(u16, u16, u16, u16)> = (0..SERVERS)
        .map(|_| (free_port(), free_port(), free_port(), free_port()))
        .collect();
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, (_, quorum, election, _))| {
            format!("server.{}=127.0.0.1:{quorum}:{election}\n", i + 1)
        })
        .collect();
    let mut processes: Vec<CorralProcess> = Vec::new();
    let mut admins: Vec<SocketAddr> = Vec::new();
    for (i, (client_port, _, _, admin_port)) in ports.iter().enumerate() {
        let data = dir.path().join(format!("server-{}", i + 1));
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("myid"), format!("{}\n", i + 1)).unwrap();
        let cfg = format!(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\n\
             clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
             admin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n{servers}",
            data.display()
        );
        let path = data.join("zoo.cfg");
        fs::write(&path, cfg).unwrap();
        let args = [
            "server".to_owned(),
            "--config".to_owned(),
            path.display().to_string(),
        ];
        let binary = Path::new(env!("CARGO_BIN_EXE_corral"));
        processes.push(CorralProcess::start(binary, &args, &[], *client_port).unwrap());
        admins.push(SocketAddr::from(([127, 0, 0, 1], *admin_port)));
    }
    // Until a leader is known every server says so in `leader`.
    let deadline = Instant::now() + Duration::from_secs(30);
    let leaders = loop {
        let views: Vec<Value> = admins
            .iter()
            .map(|a| get(*a, "/commands/leader").json())
            .collect();
        let ids: Vec<i64> = views
            .iter()
            .map(|v| v["leader_id"].as_i64().unwrap_or(-1))
            .collect();
        if ids.iter().all(|id| *id > 0 && *id == ids[0]) {
            break views;
        }
        assert!(Instant::now() < deadline, "no agreed leader: {views:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for view in &leaders {
        assert_eq!(
            keys(view),
            ["command", "error", "is_leader", "leader_id", "leader_ip"]
        );
        assert_eq!(view["leader_ip"], "127.0.0.1");
    }
    assert_eq!(
        leaders.iter().filter(|v| v["is_leader"] == true).count(),
        1,
        "{leaders:?}"
    );
    for (i, admin) in admins.iter().enumerate() {
        let voting = get(*admin, "/commands/voting_view").json();
        let config = voting["current_config"].as_object().unwrap();
        assert_eq!(config.len(), SERVERS, "{voting}");
        let me = &config[&(i + 1).to_string()];
        assert_eq!(
            keys(me),
            [
                "client_address",
                "election_addresses",
                "learner_type",
                "server_addresses"
            ]
        );
        assert_eq!(me["learner_type"], "participant");
        assert_eq!(
            me["server_addresses"][0],
            format!("127.0.0.1:{}", ports[i].1)
        );

        let zab = get(*admin, "/commands/zabstate").json();
        assert_eq!(
            keys(&zab),
            [
                "client_address",
                "command",
                "election_address",
                "error",
                "is_leader",
                "last_zxid",
                "myid",
                "quorum_address",
                "voting",
                "zab_counter",
                "zab_epoch",
                "zabstate"
            ]
        );
        assert_eq!(zab["myid"], (i + 1) as u64);
        assert_eq!(zab["voting"], true);
        assert_eq!(zab["zabstate"], "broadcast");
        assert!(zab["last_zxid"].as_str().unwrap().starts_with("0x"));

        let observers = get(*admin, "/commands/observers").json();
        assert_eq!(
            keys(&observers),
            ["command", "error", "observers", "synced_observers"]
        );
        assert_eq!(observers["synced_observers"], 0);

        let stats = get(*admin, "/commands/server_stats").json();
        let is_leader = leaders[i]["is_leader"] == true;
        assert_eq!(
            stats.get("proposal_stats").is_some(),
            is_leader,
            "proposal_stats on the leader only: {stats}"
        );
        let mode = stats["server_stats"]["server_state"].as_str().unwrap();
        assert_eq!(mode, if is_leader { "leader" } else { "follower" });
    }
}

/// A member that knows no leader (the other two never start) is not serving: the commands
/// ZooKeeper marks serverRequired answer its not-serving error with 200; the others answer.
/// One member of a three-server configuration whose peers never start, with its AdminServer
/// on `admin_port`; its client port.
fn lone_member(dir: &Path, admin_port: u16) -> (CorralProcess, u16) {
    let client_port = free_port();
    let servers: String = (1..=SERVERS)
        .map(|id| format!("server.{id}=127.0.0.1:{}:{}\n", free_port(), free_port()))
        .collect();
    let data = dir.join("server-1");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("myid"), "1\n").unwrap();
    let cfg = format!(
        "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\n\
         clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n{servers}",
        data.display()
    );
    let path = data.join("zoo.cfg");
    fs::write(&path, cfg).unwrap();
    let args = [
        "server".to_owned(),
        "--config".to_owned(),
        path.display().to_string(),
    ];
    let binary = Path::new(env!("CARGO_BIN_EXE_corral"));
    let process = CorralProcess::start(binary, &args, &[], client_port).unwrap();
    (process, client_port)
}

#[test]
fn a_member_without_a_leader_answers_as_not_serving() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    let _member = lone_member(dir.path(), admin_port);
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    for name in [
        "server_stats",
        "srvr",
        "leader",
        "configuration",
        "ruok",
        "dump",
    ] {
        let reply = get(admin, &format!("/commands/{name}"));
        assert_eq!(reply.status, 200, "{name}");
        let json = reply.json();
        assert_eq!(
            json["error"], "This ZooKeeper instance is not currently serving requests",
            "{name}: {json}"
        );
        assert_eq!(json["command"], name, "the name asked for");
    }
    let zab = get(admin, "/commands/zabstate").json();
    assert_eq!(zab["zabstate"], "election", "{zab}");
    assert_eq!(zab["error"], Value::Null);
    for name in [
        "environment",
        "get_trace_mask",
        "monitor",
        "system_properties",
    ] {
        let json = get(admin, &format!("/commands/{name}")).json();
        assert_eq!(json["error"], Value::Null, "{name}: {json}");
    }
}

/// An ensemble member whose AdminServer port is taken starts without it (ZooKeeper's
/// `QuorumPeer` logs "Problem starting AdminServer" and goes on).
#[test]
fn a_member_starts_without_its_admin_server_when_the_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin_port = taken.local_addr().unwrap().port();
    let (mut member, _) = lone_member(dir.path(), admin_port);
    assert!(member.is_running());
    let log = member.log_tail(200);
    assert!(log.contains("Problem starting AdminServer"), "{log}");
}
