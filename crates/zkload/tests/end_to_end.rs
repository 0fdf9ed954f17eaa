//! `zkload` the binary against a real `corral server` process on a free port: every op runs
//! for about 2 s with no failed request, the report is valid JSON with the server's CPU per
//! op, everything the run made is gone afterwards; and a run that cannot connect exits 1.
//!
//! The `corral` binary belongs to another package, so Cargo does not hand it to this test:
//! it is `$CORRAL_BIN` if set, else the one `cargo test --workspace` built next to this test's
//! own directory, else built here with `cargo build -p corral` (once; later runs find it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use corral_testkit::{free_port, CorralProcess};
use serde_json::Value;

fn zkload(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkload"))
        .args(args)
        .output()
        .expect("zkload runs")
}

fn corral_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CORRAL_BIN") {
        return PathBuf::from(path);
    }
    // <target>/<profile>/deps/<this test> -> <target>/<profile>/corral
    let exe = std::env::current_exe().expect("the test's own path");
    if let Some(sibling) = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("corral"))
    {
        if sibling.is_file() {
            return sibling;
        }
    }
    build_corral()
}

/// `cargo build -p corral` in this test's profile; the executable Cargo reports.
fn build_corral() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "-p",
        "corral",
        "--bin",
        "corral",
        "--message-format=json",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p corral failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "corral")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the corral executable")
}

fn node_count(server: &CorralProcess) -> u64 {
    let srvr = server.four_letter_word("srvr").expect("srvr answers");
    srvr.lines()
        .find_map(|l| l.strip_prefix("Node count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no node count in {srvr:?}"))
}

#[test]
fn every_op_runs_cleanly_against_corral_and_leaves_nothing_behind() {
    let data = tempfile::tempdir().expect("a data directory");
    let (server, port) =
        CorralProcess::standalone(&corral_binary(), data.path(), &[]).expect("corral starts");
    let nodes_before = node_count(&server);

    let args: Vec<String> = [
        "--connect",
        &format!("127.0.0.1:{port}"),
        "--sessions",
        "4",
        "--in-flight",
        "4",
        "--op",
        "create,set,get,mixed",
        "--keys",
        "50",
        "--warmup-secs",
        "0.2",
        "--secs",
        "2",
        "--pid",
        &server.pid().to_string(),
        "--json",
    ]
    .map(String::from)
    .to_vec();
    let out = zkload(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "zkload failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");

    let results = report["results"].as_array().expect("results");
    let ops: Vec<&str> = results.iter().map(|r| r["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["create", "set", "get", "mixed"]);
    for r in results {
        assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert_eq!(r["sessions_stopped"], 0, "{r}");
        assert!(r["latency"]["p50_us"].as_u64().unwrap() > 0, "{r}");
        assert!(r["latency"]["p50_us"].as_u64() <= r["latency"]["p999_us"].as_u64());
        assert!(r["cpu"]["server_us_per_op"].is_number(), "{r}");
    }
    let cleanup = &report["cleanup"];
    assert_eq!(cleanup["failed"], 0, "{cleanup}");
    let created = results[0]["ops"].as_u64().unwrap();
    assert!(cleanup["deleted"].as_u64().unwrap() > created, "{cleanup}");
    assert_eq!(
        node_count(&server),
        nodes_before,
        "the run left nodes behind"
    );
}

#[test]
fn a_run_that_cannot_connect_exits_non_zero() {
    let args: Vec<String> = [
        "--connect",
        &format!("127.0.0.1:{}", free_port()),
        "--connect-timeout-secs",
        "1",
        "--op",
        "get",
    ]
    .map(String::from)
    .to_vec();
    let out = zkload(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("connect"), "{stderr}");
    assert!(out.stdout.is_empty());
}
