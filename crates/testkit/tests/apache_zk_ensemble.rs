//! Runs a three-server Apache ZooKeeper ensemble through [`ApacheZkEnsemble`] when Debian's
//! ZooKeeper is installed (`scripts/install-test-deps.sh`): it elects a leader, elects another
//! when the leader is SIGKILLed, takes the killed server back, and leaves no process behind.
//! Prints `SKIP: <reason>` and passes when ZooKeeper cannot run (fails instead under README's
//! test command, which sets `CORRAL_REQUIRE_APACHE_ZK`).

use std::path::Path;

use corral_testkit::{apache_zk_or_skip, ApacheZkEnsemble, ApacheZkEnsembleOptions};

#[test]
fn apache_zk_ensemble_elects_reelects_and_stops() {
    if !apache_zk_or_skip("apache_zk_ensemble") {
        return;
    }
    let opts = ApacheZkEnsembleOptions::default()
        .with_heap("256m")
        .with_log_level("WARN");
    let mut zk = ApacheZkEnsemble::start(opts).expect("the ensemble starts");
    assert_eq!(zk.server_count(), 3);
    let addrs = zk.addrs();
    assert_eq!(
        zk.connect_string(),
        addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(addrs.iter().all(|a| a.ip().to_string() == "127.0.0.1"));

    // start() returned: one leader, two followers.
    let leader = zk.leader().expect("a leader right after start");
    let modes = zk.modes();
    println!("modes after start: {modes:?}");
    assert_eq!(modes[leader].as_deref(), Some("leader"));
    assert_eq!(
        modes
            .iter()
            .filter(|m| m.as_deref() == Some("follower"))
            .count(),
        2,
        "{modes:?}"
    );
    let pids = zk.pids();
    assert_eq!(pids.len(), 3);
    for pid in &pids {
        assert!(Path::new(&format!("/proc/{pid}")).exists(), "pid {pid}");
    }
    let srvr = zk.four_letter_word(leader, "srvr").unwrap();
    assert!(srvr.contains("Zookeeper version: 3."), "{srvr}");

    // SIGKILL the leader: the other two elect one of themselves.
    let killed_pid = zk.pid(leader).unwrap();
    zk.kill(leader).unwrap();
    assert_eq!(zk.pid(leader), None);
    assert!(!zk.is_running(leader));
    assert!(!Path::new(&format!("/proc/{killed_pid}")).exists());
    let new_leader = zk
        .wait_for_leader()
        .expect("re-election after the leader died");
    println!(
        "leader {leader} killed; new leader {new_leader}; modes {:?}",
        zk.modes()
    );
    assert_ne!(new_leader, leader);
    assert_eq!(zk.mode(leader), None);

    // The killed server comes back as a follower of the new leader.
    let after_restart = zk.restart(leader).expect("the killed server rejoins");
    assert_eq!(after_restart, new_leader);
    assert_eq!(zk.mode(leader).as_deref(), Some("follower"));

    let pids = zk.pids();
    let dir = zk.dir().to_path_buf();
    drop(zk);
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} should be reaped on drop"
        );
    }
    assert!(!dir.exists(), "{} should be removed on drop", dir.display());
}
