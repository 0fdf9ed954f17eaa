//! `corral dev-cluster`: one command starts a local ensemble, prints its connect string, and
//! stops every server it started on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use corral_testkit::four_letter_word;

/// A base port with the 12 ports after it free (3 servers x client, quorum, election,
/// admin). The
/// bases tried lie below Linux's ephemeral range (32768 and up), where outgoing connections
/// of parallel tests take their local ports.
fn free_port_run() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let seed = std::process::id() as u64 ^ nanos;
    for attempt in 0..200u64 {
        let base =
            20_000 + ((seed.wrapping_mul(6364136223846793005) + attempt * 7919) % 12_000) as u16;
        let all_free = (0..12u16).all(|i| {
            base.checked_add(i).is_some_and(|p| {
                TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, p))).is_ok()
            })
        });
        if all_free {
            return base;
        }
    }
    panic!("no run of 12 free ports");
}

#[test]
fn dev_cluster_starts_an_ensemble_prints_its_connect_string_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_port_run();
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args([
            "dev-cluster",
            "--servers",
            "3",
            "--base-port",
            &base.to_string(),
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("corral dev-cluster starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let connect = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("connect string: ").map(str::to_owned))
        .expect("a connect string line");
    let addrs: Vec<SocketAddr> = connect.split(',').map(|a| a.parse().unwrap()).collect();
    assert_eq!(addrs.len(), 3);
    let modes: Vec<String> = addrs
        .iter()
        .map(|a| {
            let srvr = four_letter_word(*a, "srvr").unwrap();
            srvr.lines()
                .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );

    // SAFETY: signals the child this test started and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "dev-cluster did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    for addr in addrs {
        assert!(
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
            "{addr} still serves after dev-cluster stopped"
        );
    }
}
