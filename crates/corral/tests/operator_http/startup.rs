//! Start-up refusals, as ZooKeeper's: a standalone server whose AdminServer port is taken
//! stops (`ZooKeeperServerMain`: "Unable to start AdminServer, exiting abnormally"), so does
//! any server whose metrics provider cannot start or is an unknown class.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `corral server` on a zoo.cfg with `extra` lines; its exit status and output.
fn run_to_exit(extra: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = corral_testkit::free_port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n{extra}",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let out_path = dir.path().join("out.log");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["server", "--config"])
        .arg(&cfg)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, std::fs::read_to_string(&out_path).unwrap())
}

#[test]
fn admin_port_in_use_stops_a_standalone_server() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (status, out) = run_to_exit(&format!(
        "admin.serverAddress=127.0.0.1\nadmin.serverPort={port}\n"
    ));
    assert!(
        matches!(status, Some(code) if code != 0),
        "{status:?}\n{out}"
    );
    assert!(out.contains("Problem starting AdminServer"), "{out}");
}

#[test]
fn metrics_port_in_use_stops_the_server() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (status, out) = run_to_exit(&format!(
        "admin.enableServer=false\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={port}\n"
    ));
    assert!(
        matches!(status, Some(code) if code != 0),
        "{status:?}\n{out}"
    );
    assert!(out.contains("/metrics"), "{out}");
}

#[test]
fn an_unknown_metrics_provider_class_stops_the_server() {
    let (status, out) =
        run_to_exit("admin.enableServer=false\nmetricsProvider.className=com.example.Nope\n");
    assert!(
        matches!(status, Some(code) if code != 0),
        "{status:?}\n{out}"
    );
    assert!(out.contains("com.example.Nope"), "{out}");
}
