//! A three-server Corral ensemble of real processes on 127.0.0.1, started from ordinary
//! zoo.cfg files with `server.N` lines and `myid`: writes from any server, reads everywhere,
//! the leader killed with SIGKILL under an open session, and a restarted server catching up.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use corral_client::corral_proto::consts::{perms, CreateMode};
use corral_client::corral_proto::response::Response;
use corral_client::corral_proto::{Acl, ErrorCode};
use corral_client::{Client, ConnectOptions};
use corral_testkit::{free_port, CorralProcess};

const SERVERS: u64 = 3;
/// How long an election may take here (election timeouts of 400-800 ms, a loaded machine).
const LEADER_WAIT: Duration = Duration::from_secs(30);

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_corral"))
}

fn open() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

struct Member {
    id: u64,
    client_port: u16,
    data: tempfile::TempDir,
    cfg: PathBuf,
    process: Option<CorralProcess>,
}

struct Ensemble {
    members: Vec<Member>,
}

impl Ensemble {
    fn start() -> Ensemble {
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
        let mut members = Vec::new();
        for (i, (client_port, _, _)) in ports.iter().enumerate() {
            let id = i as u64 + 1;
            let data = tempfile::tempdir().expect("data dir");
            fs::write(data.path().join("myid"), format!("{id}\n")).expect("myid");
            let cfg = data.path().join("zoo.cfg");
            let text = format!(
                "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\n\
                 clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n\
                 corral.raft.electionTimeoutMs=400\n{servers}",
                data.path().display()
            );
            fs::write(&cfg, text).expect("zoo.cfg");
            members.push(Member {
                id,
                client_port: *client_port,
                data,
                cfg,
                process: None,
            });
        }
        let mut ensemble = Ensemble { members };
        for i in 0..ensemble.members.len() {
            ensemble.launch(i);
        }
        ensemble
    }

    fn launch(&mut self, i: usize) {
        let m = &mut self.members[i];
        let args = [
            "server".to_string(),
            "--config".to_string(),
            m.cfg.display().to_string(),
        ];
        let process = CorralProcess::start(&binary(), &args, &[], m.client_port)
            .unwrap_or_else(|e| panic!("server {} starts: {e:#}", m.id));
        m.process = Some(process);
        let _ = &m.data;
    }

    fn mode(&self, i: usize) -> Option<String> {
        let process = self.members[i].process.as_ref()?;
        let srvr = process.four_letter_word("srvr").ok()?;
        srvr.lines()
            .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
    }

    /// Waits until exactly one running server leads and the others follow; its index.
    fn wait_for_leader(&self) -> usize {
        let started = Instant::now();
        loop {
            let modes: Vec<Option<String>> =
                (0..self.members.len()).map(|i| self.mode(i)).collect();
            let leaders: Vec<usize> = (0..modes.len())
                .filter(|&i| modes[i].as_deref() == Some("leader"))
                .collect();
            let running = self.members.iter().filter(|m| m.process.is_some()).count();
            let followers = modes
                .iter()
                .filter(|m| m.as_deref() == Some("follower"))
                .count();
            if leaders.len() == 1 && followers + 1 == running {
                return leaders[0];
            }
            assert!(
                started.elapsed() < LEADER_WAIT,
                "no leader after {LEADER_WAIT:?}: modes {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.members[i].client_port)
    }

    fn logs(&self) -> String {
        self.members
            .iter()
            .filter_map(|m| {
                m.process
                    .as_ref()
                    .map(|p| format!("--- server {}:\n{}", m.id, p.log_tail(30)))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn kill(&mut self, i: usize) {
        let mut process = self.members[i].process.take().expect("running");
        process.kill().expect("SIGKILL");
    }
}

async fn connect(addr: &str) -> Client {
    let options = ConnectOptions {
        timeout_ms: 30_000,
        ..ConnectOptions::default()
    };
    Client::connect(addr, options).await.expect("connect")
}

async fn data_after_sync(client: &Client, path: &str) -> Option<Vec<u8>> {
    assert_eq!(client.sync(path).await.unwrap().code(), ErrorCode::Ok);
    match client.get_data(path, false).await.unwrap().result {
        Ok(Response::GetData { data, .. }) => Some(data.map(|d| d.to_vec()).unwrap_or_default()),
        Err(ErrorCode::NoNode) => None,
        other => panic!("getData {path}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_from_any_server_survive_the_leader_being_killed() {
    let mut ensemble = Ensemble::start();
    let leader = ensemble.wait_for_leader();
    let follower = (leader + 1) % 3;

    // A write through a follower is forwarded to the leader and answered by the follower.
    let on_follower = connect(&ensemble.addr(follower)).await;
    let created = on_follower
        .create("/a", b"from-follower", open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(created.code(), ErrorCode::Ok, "{}", ensemble.logs());
    // ...and read back at once on the same server (it applied the write before replying).
    let read = on_follower.get_data("/a", false).await.unwrap();
    assert!(matches!(read.result, Ok(Response::GetData { .. })));
    // Every server has it after sync.
    for i in 0..3 {
        let client = connect(&ensemble.addr(i)).await;
        assert_eq!(
            data_after_sync(&client, "/a").await.as_deref(),
            Some(&b"from-follower"[..]),
            "server {i}"
        );
    }
    // A write on the leader, many writes pipelined through the follower.
    let on_leader = connect(&ensemble.addr(leader)).await;
    on_leader
        .create("/b", b"from-leader", open(), CreateMode::Persistent)
        .await
        .unwrap();
    let writes = (0..100).map(|i| {
        let client = &on_follower;
        async move {
            client
                .create(&format!("/a/{i:03}"), b"", open(), CreateMode::Persistent)
                .await
                .unwrap()
                .code()
        }
    });
    let codes = futures::future::join_all(writes).await;
    assert!(codes.iter().all(|c| *c == ErrorCode::Ok), "{codes:?}");

    // SIGKILL the leader: the two others elect a new one and keep every acknowledged write.
    ensemble.kill(leader);
    let killed_at = Instant::now();
    let new_leader = ensemble.wait_for_leader();
    assert_ne!(new_leader, leader);
    let survivor = connect(&ensemble.addr(new_leader)).await;
    let after = survivor
        .create("/c", b"after-failover", open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(after.code(), ErrorCode::Ok);
    println!(
        "failover: leader killed -> first acknowledged write in {:?}",
        killed_at.elapsed()
    );
    for path in ["/a", "/b", "/c"] {
        assert!(
            data_after_sync(&survivor, path).await.is_some(),
            "{path} lost"
        );
    }
    let children = survivor.get_children("/a", false).await.unwrap();
    let Ok(Response::GetChildren { children }) = children.result else {
        panic!("getChildren /a");
    };
    assert_eq!(children.len(), 100, "acknowledged pipelined writes lost");

    // The killed server restarts on its data and catches up.
    ensemble.launch(leader);
    ensemble.wait_for_leader();
    let started = Instant::now();
    let rejoined = loop {
        if let Ok(client) = Client::connect(&ensemble.addr(leader), ConnectOptions::default()).await
        {
            break client;
        }
        assert!(
            started.elapsed() < LEADER_WAIT,
            "restarted server never serves"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        data_after_sync(&rejoined, "/c").await.as_deref(),
        Some(&b"after-failover"[..])
    );
}
