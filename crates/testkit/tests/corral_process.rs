//! Exercises [`CorralProcess`] against a stand-in server: this very test binary, re-run with
//! `--exact fake_corral_server --ignored` and `CORRAL_TESTKIT_FAKE_SERVER=<mode>` in its
//! environment, answers four-letter words like a Corral server would.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use corral_testkit::{four_letter_word, free_port, CorralProcess};

const MODE_VAR: &str = "CORRAL_TESTKIT_FAKE_SERVER";

/// The stand-in server. Does nothing in a normal test run (the variable is unset).
///
/// Modes: `serve` answers `ruok`/`srvr` on `FAKE_PORT` or on the `clientPort` of the zoo.cfg in
/// `FAKE_CFG`; `exit` prints an error and exits with 3; `silent` listens on nothing;
/// `in_use_once` first fails like a taken port (marker file in the cfg's dataDir), then serves.
/// It exits by itself after 60 s.
#[test]
#[ignore = "stand-in server process for the other tests"]
fn fake_corral_server() {
    let Ok(mode) = std::env::var(MODE_VAR) else {
        return;
    };
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        std::process::exit(0);
    });
    let cfg = std::env::var("FAKE_CFG")
        .map(|p| std::fs::read_to_string(p).expect("FAKE_CFG readable"))
        .unwrap_or_default();
    let cfg_value = |key: &str| {
        cfg.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    };
    let port: u16 = std::env::var("FAKE_PORT")
        .ok()
        .or_else(|| cfg_value("clientPort"))
        .expect("FAKE_PORT or a clientPort")
        .parse()
        .unwrap();
    match mode.as_str() {
        "exit" => {
            eprintln!("boom: fake startup failure");
            std::process::exit(3);
        }
        "silent" => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
        "in_use_once" => {
            let marker = Path::new(&cfg_value("dataDir").unwrap()).join("tried");
            if !marker.exists() {
                std::fs::write(&marker, b"1").unwrap();
                eprintln!("Error: Address already in use (os error 98)");
                std::process::exit(1);
            }
        }
        _ => {}
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    println!("fake corral serving on {port}");
    for conn in listener.incoming() {
        let mut conn = conn.unwrap();
        let mut cmd = [0u8; 4];
        if conn.read_exact(&mut cmd).is_err() {
            continue;
        }
        let answer: &[u8] = match &cmd {
            b"ruok" => b"imok",
            b"srvr" => b"Zookeeper version: fake-corral\nMode: standalone\n",
            _ => b"",
        };
        let _ = conn.write_all(answer);
    }
}

fn fake_args() -> Vec<String> {
    ["--exact", "fake_corral_server", "--ignored", "--nocapture"]
        .map(String::from)
        .to_vec()
}

fn fake_env(mode: &str, port: u16) -> Vec<(String, String)> {
    vec![
        (MODE_VAR.to_string(), mode.to_string()),
        ("FAKE_PORT".to_string(), port.to_string()),
    ]
}

fn exe() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// A `corral`-like executable taking `server --config <cfg>` that runs the stand-in server.
fn fake_corral_binary(dir: &Path, mode: &str) -> PathBuf {
    let path = dir.join("corral");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n\
             [ \"$1\" = server ] && [ \"$2\" = --config ] || {{ echo \"bad args: $*\" >&2; exit 64; }}\n\
             export {MODE_VAR}={mode} FAKE_CFG=\"$3\"\n\
             exec '{}' --exact fake_corral_server --ignored --nocapture\n",
            exe().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn start_waits_for_imok_then_kill_reaps() {
    let port = free_port();
    let mut p = CorralProcess::start(&exe(), &fake_args(), &fake_env("serve", port), port)
        .expect("fake server starts");
    assert_eq!(p.port(), port);
    assert_eq!(p.connect_string(), format!("127.0.0.1:{port}"));
    assert_eq!(four_letter_word(p.addr(), "ruok").unwrap(), "imok");
    assert!(p
        .four_letter_word("srvr")
        .unwrap()
        .contains("Mode: standalone"));
    assert!(p.config_path().is_none());
    assert!(p.is_running());
    let status = p.kill().unwrap();
    assert_eq!(status.signal(), Some(9));
    assert!(!p.is_running());
    assert!(four_letter_word(p.addr(), "ruok").is_err());
    assert!(
        p.log_tail(10).contains("fake corral serving"),
        "{}",
        p.log_tail(10)
    );
}

#[test]
fn terminate_sends_sigterm() {
    let port = free_port();
    let mut p = CorralProcess::start(&exe(), &fake_args(), &fake_env("serve", port), port).unwrap();
    let status = p.terminate().unwrap();
    assert_eq!(status.signal(), Some(15));
}

#[test]
fn drop_kills_and_removes_the_directory() {
    let port = free_port();
    let p = CorralProcess::start(&exe(), &fake_args(), &fake_env("serve", port), port).unwrap();
    let (pid, dir) = (p.pid(), p.dir().to_path_buf());
    assert!(pid_alive(pid));
    drop(p);
    assert!(!pid_alive(pid), "pid {pid} should be reaped");
    assert!(!dir.exists());
}

#[test]
fn standalone_writes_cfg_and_runs_server_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let binary = fake_corral_binary(tmp.path(), "serve");
    let extra = [
        ("tickTime".to_string(), "500".to_string()),
        ("x.y".to_string(), "z".to_string()),
    ];
    let (p, port) = CorralProcess::standalone(&binary, &data, &extra).expect("standalone starts");
    assert_eq!(p.port(), port);
    assert_eq!(p.four_letter_word("ruok").unwrap(), "imok");
    let cfg = std::fs::read_to_string(p.config_path().unwrap()).unwrap();
    assert_eq!(
        cfg,
        format!(
            "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\nx.y=z\n",
            data.display()
        )
    );

    // Restart on the same port with the same data directory.
    drop(p);
    let same = [("clientPort".to_string(), port.to_string())];
    let (p2, port2) = CorralProcess::standalone(&binary, &data, &same).unwrap();
    assert_eq!(port2, port);
    assert_eq!(p2.four_letter_word("ruok").unwrap(), "imok");
}

#[test]
fn standalone_retries_when_the_port_was_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let binary = fake_corral_binary(tmp.path(), "in_use_once");
    let (p, _port) = CorralProcess::standalone(&binary, tmp.path(), &[]).expect("second try works");
    assert_eq!(p.four_letter_word("ruok").unwrap(), "imok");
}

#[test]
fn early_exit_is_reported_with_the_log() {
    let port = free_port();
    let err = CorralProcess::start(&exe(), &fake_args(), &fake_env("exit", port), port)
        .expect_err("must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains("exited early"), "{msg}");
    assert!(msg.contains("exit status: 3"), "{msg}");
    assert!(msg.contains("boom: fake startup failure"), "{msg}");
    remove_kept_dir(&msg);
}

#[test]
fn silent_server_times_out() {
    let port = free_port();
    let started = Instant::now();
    let err = CorralProcess::start_with_timeout(
        &exe(),
        &fake_args(),
        &fake_env("silent", port),
        port,
        Duration::from_millis(800),
    )
    .expect_err("must time out");
    let msg = format!("{err:#}");
    assert!(msg.contains("not ready in time"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10));
    remove_kept_dir(&msg);
}

#[test]
fn missing_binary_is_a_clear_error() {
    let err = CorralProcess::start(Path::new("/nonexistent/corral"), &[], &[], free_port())
        .expect_err("must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains("spawning /nonexistent/corral"), "{msg}");
}

/// Failed starts keep their directory for inspection; tests clean it up.
fn remove_kept_dir(msg: &str) {
    let kept = msg
        .split("log tail of ")
        .nth(1)
        .and_then(|rest| rest.split(" (kept)").next())
        .expect("error names the kept directory");
    assert!(kept.contains("corral-process-"), "{kept}");
    std::fs::remove_dir_all(kept).unwrap();
}
