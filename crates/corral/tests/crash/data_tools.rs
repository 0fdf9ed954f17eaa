//! `corral data inspect` and `corral data dump`, run as processes on directories a real
//! server wrote: known data printed as expected (Stat, ACL, UTF-8 / hex / null data,
//! sessions, `--path`, `--at-snapshot`, `--json`), a torn tail reported and left in place,
//! leftover temporary files noted, and damage reported with its file and byte offset and a
//! non-zero exit: a flipped byte in a snapshot (dump falls back to the previous snapshot, as
//! the server does), in a segment that is not the last, and in the raft state file. Neither
//! tool may change a byte of the directory.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use corral_client::Client;
use corral_proto::consts::{perms, CreateMode};
use corral_proto::records::CreateRequest;
use corral_proto::request::Request;
use corral_proto::Acl;
use serde_json::Value;

use crate::offline::parse_dump;
use crate::support::{call, connect, corral_data, Node};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

async fn create(client: &Client, path: &str, data: &[u8], acl: Vec<Acl>, mode: CreateMode) {
    let reply = call(
        &format!("create {path}"),
        client.create(path, data, acl, mode),
    )
    .await
    .unwrap();
    assert_eq!(reply.code(), corral_proto::ErrorCode::Ok, "create {path}");
}

/// A started server whose small workloads span several snapshots and log segments.
fn many_files_node() -> Node {
    let mut node = Node::new(
        &[
            ("snapCount", "20"),
            ("preAllocSize", "4"),
            ("corral.logSegmentBytes", "4096"),
        ],
        false,
    );
    node.start().unwrap();
    node
}

/// Creates `parent` and `count` persistent children `{parent}/{prefix}{i}` holding `data(i)`.
async fn create_children(
    client: &Client,
    parent: &str,
    prefix: &str,
    count: usize,
    data: impl Fn(usize) -> String,
) {
    create(client, parent, b"", open_acl(), CreateMode::Persistent).await;
    for i in 0..count {
        create(
            client,
            &format!("{parent}/{prefix}{i}"),
            data(i).as_bytes(),
            open_acl(),
            CreateMode::Persistent,
        )
        .await;
    }
}

/// Every file under `dir`: relative path → (length, modification time, content hash).
fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let meta = std::fs::metadata(&path).unwrap();
            let mut hasher = DefaultHasher::new();
            std::fs::read(&path).unwrap().hash(&mut hasher);
            out.insert(
                path.strip_prefix(dir).unwrap().to_path_buf(),
                (meta.len(), meta.modified().unwrap(), hasher.finish()),
            );
        }
    }
    out
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn inspect_json(dir: &str) -> (bool, Value) {
    let output = corral_data(&["inspect", dir, "--json"]);
    let value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("inspect --json: {e}: {}", stdout(&output)));
    (output.status.success(), value)
}

fn dump_nodes(dir: &str, extra: &[&str]) -> (Value, BTreeMap<String, crate::offline::Dumped>) {
    let mut args = vec!["dump", dir, "--json"];
    args.extend_from_slice(extra);
    let output = corral_data(&args);
    assert!(
        output.status.success(),
        "dump {extra:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_dump(&output.stdout).unwrap()
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn inspect_and_dump_known_data() {
    let rt = runtime();
    let mut node = many_files_node();
    let addr = node.addr();
    let (session, client) = rt.block_on(async {
        let client = connect(&addr).await.unwrap();
        create(
            &client,
            "/tools",
            b"top",
            open_acl(),
            CreateMode::Persistent,
        )
        .await;
        create(
            &client,
            "/tools/text",
            b"v0",
            open_acl(),
            CreateMode::Persistent,
        )
        .await;
        for (version, data) in [(0, "v1"), (1, "v2"), (2, "hello\nworld")] {
            let reply = call(
                "set",
                client.set_data("/tools/text", data.as_bytes(), version),
            )
            .await
            .unwrap();
            assert_eq!(reply.code(), corral_proto::ErrorCode::Ok);
        }
        create(
            &client,
            "/tools/bin",
            &[0, 0xff, 0x10],
            open_acl(),
            CreateMode::Persistent,
        )
        .await;
        let reply = call(
            "create null",
            client.request(Request::Create(CreateRequest {
                path: "/tools/null".into(),
                data: None,
                acl: open_acl(),
                flags: 0,
            })),
        )
        .await
        .unwrap();
        assert_eq!(reply.code(), corral_proto::ErrorCode::Ok);
        let read_only = vec![Acl::new(perms::READ, "world", "anyone")];
        create(&client, "/tools/ro", b"", read_only, CreateMode::Persistent).await;
        create(
            &client,
            "/tools/eph",
            b"mine",
            open_acl(),
            CreateMode::Ephemeral,
        )
        .await;
        for i in 0..40 {
            let data = format!("s{i}");
            create(
                &client,
                "/tools/seq-",
                data.as_bytes(),
                open_acl(),
                CreateMode::PersistentSequential,
            )
            .await;
        }
        create(
            &client,
            "/tools/after",
            b"last",
            open_acl(),
            CreateMode::Persistent,
        )
        .await;
        (client.session_id(), client)
    });
    // The session stays open: the kill leaves it (and its ephemeral) in the log.
    node.kill();
    drop(client);
    let dir = node.data_dir().display().to_string();
    let before = fingerprint(&node.data_dir());

    // inspect, text and JSON.
    let output = corral_data(&["inspect", &dir]);
    let text = stdout(&output);
    assert!(output.status.success(), "inspect failed:\n{text}");
    assert!(text.contains("OK (checksums verified"), "{text}");
    assert!(text.contains("log-0000"), "{text}");
    assert!(text.contains("raft state: vote"), "{text}");
    assert!(text.contains("verdict: OK"), "{text}");
    let (ok, report) = inspect_json(&dir);
    assert!(ok);
    assert_eq!(report["verdict"], "ok");
    let segments = report["segments"].as_array().unwrap();
    assert!(
        segments.len() > 1,
        "4 KiB segments should have rolled over: {report:#}"
    );
    let snapshot_index = report["newest_valid_snapshot"]["index"].as_u64().unwrap();
    assert!(snapshot_index > 0);

    // dump, text.
    let output = corral_data(&["dump", &dir]);
    let text = stdout(&output);
    assert!(output.status.success());
    assert!(text.contains("/tools/text\n"), "{text}");
    assert!(text.contains("dataVersion=3"), "{text}");
    assert!(text.contains("  data: \"hello\\nworld\"\n"), "{text}");
    assert!(text.contains("  data (hex): 00ff10\n"), "{text}");
    assert!(text.contains("/tools/null\n"), "{text}");
    assert!(text.contains("  data: null\n"), "{text}");
    assert!(text.contains("  acl: world:anyone:r\n"), "{text}");
    assert!(text.contains("  acl: world:anyone:cdrwa\n"), "{text}");
    assert!(
        text.contains(&format!("ephemeralOwner=0x{session:x}")),
        "{text}"
    );
    assert!(text.contains(&format!("0x{session:x} timeout=")), "{text}");

    // dump --json with --path, and --at-snapshot.
    let (_, seq) = dump_nodes(&dir, &["--path", "/tools/seq-"]);
    let datas: BTreeSet<String> = seq.values().filter_map(|n| n.data.clone()).collect();
    assert_eq!(seq.len(), 40);
    assert_eq!(datas, (0..40).map(|i| format!("s{i}")).collect());
    let (full, full_nodes) = dump_nodes(&dir, &["--path", "/tools"]);
    let (at_snapshot, snapshot_nodes) = dump_nodes(&dir, &["--path", "/tools", "--at-snapshot"]);
    assert_eq!(at_snapshot["source"]["snapshot"]["index"], snapshot_index);
    assert!(at_snapshot["source"]["log"].is_null());
    let created_by_snapshot: BTreeSet<&String> = full["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["stat"]["czxid"].as_u64().unwrap() <= snapshot_index)
        .map(|n| full_nodes.keys().find(|p| **p == n["path"]).unwrap())
        .collect();
    assert_eq!(
        snapshot_nodes.keys().collect::<BTreeSet<_>>(),
        created_by_snapshot,
        "--at-snapshot shows the nodes created up to the snapshot's index"
    );
    assert!(
        !snapshot_nodes.contains_key("/tools/after"),
        "the last create is in the log only"
    );
    assert_eq!(full_nodes["/tools/after"].data.as_deref(), Some("last"));
    assert_eq!(
        fingerprint(&node.data_dir()),
        before,
        "inspect/dump changed the directory"
    );

    // A torn tail (a partial record after the data of the last segment) and a leftover
    // snapshot temp file: reported, not corruption, and left in place.
    // The last segment (a kill may itself have left a torn tail there: `data_bytes` is where
    // its valid records end either way).
    let last = segments.last().expect("a segment");
    let last_path = PathBuf::from(last["file"].as_str().unwrap());
    let torn_at = last["data_bytes"].as_u64().unwrap();
    let mut bytes = std::fs::read(&last_path).unwrap();
    let mut partial = 200u32.to_le_bytes().to_vec();
    partial.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    partial.extend_from_slice(&[0xab; 10]);
    let end = torn_at as usize + partial.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[torn_at as usize..end].copy_from_slice(&partial);
    std::fs::write(&last_path, bytes).unwrap();
    let tmp = node
        .data_dir()
        .join("corral-snapshots/snapshot-00000000000000000099-1-0.tmp");
    std::fs::write(&tmp, b"half a snapshot").unwrap();
    let damaged = fingerprint(&node.data_dir());
    let output = corral_data(&["inspect", &dir]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "a torn tail is not corruption:\n{text}"
    );
    assert!(
        text.contains(&format!("torn tail at byte offset {torn_at}")),
        "{text}"
    );
    assert!(text.contains("leftover temporary file"), "{text}");
    let (_, torn_nodes) = dump_nodes(&dir, &["--path", "/tools"]);
    assert_eq!(torn_nodes, full_nodes, "the torn tail holds no entry");
    assert_eq!(
        fingerprint(&node.data_dir()),
        damaged,
        "the tools repaired something"
    );

    // The server repairs both and serves the same data.
    node.start().unwrap();
    assert!(node.log().contains("torn tail"), "{}", node.log_tail(20));
    assert!(!tmp.exists(), "the server removes leftover temporary files");
    let addr = node.addr();
    rt.block_on(async {
        let client = connect(&addr).await.unwrap();
        let reply = call("get", client.get_data("/tools/after", false))
            .await
            .unwrap();
        assert_eq!(reply.code(), corral_proto::ErrorCode::Ok);
        let _ = client.close().await;
    });
    node.terminate().unwrap();
}

#[test]
fn inspect_reports_corruption() {
    let rt = runtime();
    let mut node = many_files_node();
    let addr = node.addr();
    rt.block_on(async {
        let client = connect(&addr).await.unwrap();
        create_children(&client, "/c", "n", 150, |i| {
            format!("node {i} {}", "x".repeat(i % 50))
        })
        .await;
        let _ = client.close().await;
    });
    node.terminate().unwrap();
    let base = node.data_dir().to_path_buf();
    let dir = base.display().to_string();
    let (ok, report) = inspect_json(&dir);
    assert!(ok, "{report:#}");
    let (_, baseline) = dump_nodes(&dir, &["--path", "/c"]);
    assert_eq!(baseline.len(), 151);

    // Copies for the segment and state-file damage.
    let scratch = tempfile::tempdir().unwrap();
    let seg_dir = scratch.path().join("segment");
    let state_dir = scratch.path().join("state");
    copy_dir(&base, &seg_dir);
    copy_dir(&base, &state_dir);

    // 1. A flipped byte inside the newest snapshot's first frame.
    let snapshots = report["snapshots"].as_array().unwrap();
    assert!(snapshots.len() >= 2, "{report:#}");
    let newest = snapshots.last().unwrap();
    let newest_path = PathBuf::from(newest["file"].as_str().unwrap());
    let previous_index = snapshots[snapshots.len() - 2]["index"].as_u64().unwrap();
    let bytes = std::fs::read(&newest_path).unwrap();
    assert!(bytes.len() < 60_000, "one frame expected");
    let meta_len = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as u64;
    let frame_at = 36 + meta_len + 4;
    let flip_at = frame_at + 8 + 10;
    flip_byte(&newest_path, flip_at);
    let before = fingerprint(&base);
    let output = corral_data(&["inspect", &dir]);
    let text = stdout(&output);
    assert!(
        !output.status.success(),
        "a corrupt snapshot must fail inspect:\n{text}"
    );
    let name = newest_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        text.contains(&name) && text.contains(&format!("CORRUPT at byte offset {frame_at}")),
        "expected {name} CORRUPT at byte offset {frame_at}:\n{text}"
    );
    assert!(text.contains("verdict: CORRUPT"), "{text}");
    assert!(String::from_utf8_lossy(&output.stderr).contains(&name));
    let (ok, report) = inspect_json(&dir);
    assert!(!ok);
    let bad = report["snapshots"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(bad["status"], "corrupt");
    assert_eq!(bad["offset"], frame_at);
    assert_eq!(report["newest_valid_snapshot"]["index"], previous_index);
    // dump falls back to the previous snapshot plus the log, like the server: same tree.
    let (fallback, nodes) = dump_nodes(&dir, &["--path", "/c"]);
    assert_eq!(fallback["source"]["snapshot"]["index"], previous_index);
    assert!(fallback["source"]["skipped_snapshots"][0]["reason"]
        .as_str()
        .unwrap()
        .contains(&format!("byte offset {frame_at}")));
    assert_eq!(nodes, baseline);
    assert_eq!(
        fingerprint(&base),
        before,
        "inspect/dump changed the directory"
    );

    // 2. A flipped byte in the first record of a segment that is not the last.
    let seg_dir_text = seg_dir.display().to_string();
    let (_, seg_report) = inspect_json(&seg_dir_text);
    let segments = seg_report["segments"].as_array().unwrap();
    let live: Vec<&Value> = segments.iter().filter(|s| s["status"] == "clean").collect();
    assert!(live.len() >= 2, "{seg_report:#}");
    let victim = PathBuf::from(live[0]["file"].as_str().unwrap());
    let victim = seg_dir.join("corral-log").join(victim.file_name().unwrap());
    flip_byte(&victim, 32 + 8 + 2);
    let output = corral_data(&["inspect", &seg_dir_text]);
    let text = stdout(&output);
    assert!(!output.status.success(), "{text}");
    let victim_name = victim.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        text.contains(&victim_name) && text.contains("CORRUPT at byte offset 32"),
        "expected {victim_name} CORRUPT at byte offset 32:\n{text}"
    );
    let output = corral_data(&["dump", &seg_dir_text]);
    assert!(!output.status.success(), "dump must refuse a damaged log");
    assert!(String::from_utf8_lossy(&output.stderr).contains(&victim_name));

    // 3. A flipped byte in the raft state file's payload.
    let state_file = state_dir.join("corral-log/raft-state");
    let len = std::fs::metadata(&state_file).unwrap().len();
    flip_byte(&state_file, len - 1);
    let output = corral_data(&["inspect", &state_dir.display().to_string()]);
    let text = stdout(&output);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("raft state: CORRUPT at byte offset 20"),
        "{text}"
    );

    // Not a data directory at all.
    let output = corral_data(&[
        "inspect",
        &scratch.path().join("nothing").display().to_string(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a Corral data directory"));

    // The server, too, passes over the damaged snapshot and serves the same tree.
    node.start().unwrap();
    let addr = node.addr();
    rt.block_on(async {
        let client = connect(&addr).await.unwrap();
        for i in [0, 75, 149] {
            let reply = call("get", client.get_data(&format!("/c/n{i}"), false))
                .await
                .unwrap();
            assert_eq!(reply.code(), corral_proto::ErrorCode::Ok, "/c/n{i}");
        }
        let _ = client.close().await;
    });
    node.terminate().unwrap();
}

/// Every file of `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fingerprint(dir).into_keys().map(|p| dir.join(p)).collect();
    out.sort();
    out
}

#[test]
fn tools_never_panic_on_damage() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    let seed = crate::support::seed_for("tools_never_panic_on_damage");
    let mut rng = StdRng::seed_from_u64(seed);
    let rt = runtime();
    let mut node = many_files_node();
    let addr = node.addr();
    rt.block_on(async {
        let client = connect(&addr).await.unwrap();
        create_children(&client, "/d", "", 80, |i| format!("{i}").repeat(i % 7 + 1)).await;
        let _ = client.close().await;
    });
    node.terminate().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for round in 0..30 {
        let dir = scratch.path().join(format!("r{round}"));
        copy_dir(&node.data_dir(), &dir);
        let victims = files(&dir);
        let victim = &victims[rng.gen_range(0..victims.len())];
        let mut bytes = std::fs::read(victim).unwrap();
        let damage = if bytes.is_empty() || rng.gen_bool(0.2) {
            let keep = rng.gen_range(0..=bytes.len());
            bytes.truncate(keep);
            format!("cut to {keep} bytes")
        } else {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] ^= 1 << rng.gen_range(0..8);
            format!("bit flip at {at}")
        };
        std::fs::write(victim, bytes).unwrap();
        let dir_text = dir.display().to_string();
        for args in [
            vec!["inspect", &dir_text],
            vec!["dump", &dir_text, "--json"],
        ] {
            let output = corral_data(&args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.code().is_some_and(|c| c == 0 || c == 1)
                    && !stderr.contains("panicked"),
                "seed {seed} round {round}: {args:?} after {damage} in {}: {:?}\n{stderr}",
                victim.display(),
                output.status
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
