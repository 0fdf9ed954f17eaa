//! `corral data import-zookeeper` and `export-zookeeper` against Debian's Apache ZooKeeper 3.8:
//!
//! - `zookeeper_to_corral`: ZooKeeper (extended types on, a low snapCount so the data spans
//!   several snapshots and logs) gets persistent, sequential, ephemeral (held by a live
//!   session), digest-ACL'd, read-only, container and TTL nodes, setData/setACL/delete, a
//!   multi and a failed multi, and a session closed with its ephemeral; it is killed, the
//!   directory imported, and Corral started on the result must show every node exactly as
//!   ZooKeeper did (data, every Stat field, ACL, children). The live session re-attaches to
//!   Corral with its ZooKeeper password, and a new write gets a zxid above every imported one.
//! - `corral_to_zookeeper`: the reverse; ZooKeeper started on the exported directory must show
//!   Corral's tree exactly, and must not report a digest mismatch.
//!
//! Both fail (not skip) without Apache ZooKeeper when `CORRAL_REQUIRE_APACHE_ZK` is set.

mod tree;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use corral_client::ops::multi_op;
use corral_client::{Client, ConnectOptions};
use corral_proto::consts::{perms, CreateMode};
use corral_proto::{Acl, ErrorCode};
use corral_testkit::{apache_zk_or_skip, ApacheZk, ApacheZkOptions, CorralProcess};

use tree::{assert_same_tree, snapshot_tree};

const SESSION_TIMEOUT_MS: i32 = 30_000;
const USER_AUTH: &[u8] = b"migrator:secret";

fn corral_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_corral"))
}

fn corral_data(args: &[&str]) -> Output {
    Command::new(corral_bin())
        .arg("data")
        .args(args)
        .output()
        .expect("running corral data")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn connect(addr: &str) -> Client {
    let options = ConnectOptions {
        timeout_ms: SESSION_TIMEOUT_MS,
        ..ConnectOptions::default()
    };
    let client = Client::connect(addr, options).await.expect("connect");
    client.auth("digest", USER_AUTH).await.expect("addauth");
    client
}

fn open() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

async fn ok(what: &str, reply: Result<corral_client::Reply, corral_client::ClientError>) {
    let reply = reply.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(reply.code(), ErrorCode::Ok, "{what}");
}

/// The same workload on either server: every kind of node and every kind of txn.
async fn workload(client: &Client, addr: &str, extended_types: bool) {
    ok(
        "/app",
        client
            .create("/app", b"root", open(), CreateMode::Persistent)
            .await,
    )
    .await;
    for i in 0..24 {
        let path = format!("/app/p{i}");
        let data = format!("value {i}");
        ok(
            &path,
            client
                .create2(&path, data.as_bytes(), open(), CreateMode::Persistent)
                .await,
        )
        .await;
    }
    for i in (0..24).step_by(3) {
        let path = format!("/app/p{i}");
        ok(&path, client.set_data(&path, b"changed", -1).await).await;
        ok(&path, client.set_data(&path, b"changed again", -1).await).await;
    }
    for i in (1..24).step_by(4) {
        let path = format!("/app/p{i}");
        ok(&path, client.delete(&path, -1).await).await;
    }
    for _ in 0..3 {
        ok(
            "seq",
            client
                .create("/app/seq-", b"s", open(), CreateMode::PersistentSequential)
                .await,
        )
        .await;
    }
    ok(
        "eph",
        client
            .create("/app/eph", b"mine", open(), CreateMode::Ephemeral)
            .await,
    )
    .await;
    ok(
        "eph-seq",
        client
            .create("/app/es-", b"", open(), CreateMode::EphemeralSequential)
            .await,
    )
    .await;
    let auth_acl = vec![Acl::new(perms::ALL, "auth", "")];
    ok(
        "/secure",
        client
            .create(
                "/secure",
                b"hidden",
                auth_acl.clone(),
                CreateMode::Persistent,
            )
            .await,
    )
    .await;
    ok(
        "/secure/c",
        client
            .create("/secure/c", b"x", auth_acl, CreateMode::Persistent)
            .await,
    )
    .await;
    let read_only = vec![Acl::new(perms::READ, "world", "anyone")];
    ok(
        "/ro",
        client
            .create("/ro", b"look", read_only, CreateMode::Persistent)
            .await,
    )
    .await;
    let mixed = vec![
        Acl::new(perms::READ | perms::WRITE, "world", "anyone"),
        Acl::new(perms::ALL, "ip", "127.0.0.1"),
    ];
    ok("setACL", client.set_acl("/app/p2", mixed, -1).await).await;
    ok(
        "/cont",
        client
            .create("/cont", b"", open(), CreateMode::Container)
            .await,
    )
    .await;
    ok(
        "/cont/c",
        client
            .create("/cont/c", b"c", open(), CreateMode::Persistent)
            .await,
    )
    .await;
    if extended_types {
        let ttl = client
            .create_ttl(
                "/ttl",
                b"t",
                open(),
                CreateMode::PersistentWithTtl,
                3_600_000,
            )
            .await;
        ok("/ttl", ttl).await;
    }
    let multi = vec![
        multi_op::create("/m1", b"multi", open(), CreateMode::Persistent),
        multi_op::set_data("/app", b"root v2", -1),
        multi_op::delete("/app/p5", -1),
    ];
    ok("multi", client.multi(multi).await).await;
    let failing = vec![
        multi_op::create("/m2", b"never", open(), CreateMode::Persistent),
        multi_op::check("/app", 99),
    ];
    let reply = client.multi(failing).await.expect("failed multi");
    assert!(
        client.exists("/m2", false).await.unwrap().code() == ErrorCode::NoNode,
        "{reply:?}"
    );
    // A session that ends, taking its ephemeral with it (a closeSession txn).
    let other = connect(addr).await;
    ok(
        "/app/gone",
        other
            .create("/app/gone", b"", open(), CreateMode::Ephemeral)
            .await,
    )
    .await;
    other.close().await.expect("close");
}

fn make_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn zookeeper_to_corral() {
    if !apache_zk_or_skip("zookeeper_to_corral") {
        return;
    }
    let rt = runtime();
    let options = ApacheZkOptions::default()
        .with_extended_types()
        .with_cfg("snapCount", "10")
        .with_cfg("preAllocSize", "64");
    let mut zk = ApacheZk::start(options).expect("start Apache ZooKeeper");
    let addr = zk.connect_string();
    let (before, holder_id, holder_password) = rt.block_on(async {
        let client = connect(&addr).await;
        workload(&client, &addr, true).await;
        let tree = snapshot_tree(&client).await;
        // Keep the session (and its ephemerals) alive: it is not closed before the kill.
        let id = client.session_id();
        let password = client.password();
        std::mem::forget(client);
        (tree, id, password)
    });
    zk.kill().expect("kill ZooKeeper");
    let version2 = zk.data_dir().join("version-2");
    let names: Vec<String> = std::fs::read_dir(&version2)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let snapshots = names.iter().filter(|n| n.starts_with("snapshot.")).count();
    let logs = names.iter().filter(|n| n.starts_with("log.")).count();
    assert!(
        snapshots >= 2 && logs >= 2,
        "snapCount=10 should give several files: {names:?}"
    );

    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("corral-data");
    let out = corral_data(&[
        "import-zookeeper",
        zk.data_dir().to_str().unwrap(),
        "--to",
        target.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import failed:\n{stdout}\n{stderr}");
    println!("{stdout}");
    assert!(stdout.contains("verified"), "{stdout}");
    assert!(
        stdout.contains(" 0 differ"),
        "ZooKeeper's digests must all match: {stdout}"
    );
    // A second import into the now non-empty target is refused.
    let again = corral_data(&[
        "import-zookeeper",
        zk.data_dir().to_str().unwrap(),
        "--to",
        target.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let (mut corral, port) =
        CorralProcess::standalone(&corral_bin(), &target, &[]).expect("start Corral");
    let corral_addr = format!("127.0.0.1:{port}");
    rt.block_on(async {
        let client = connect(&corral_addr).await;
        let after = snapshot_tree(&client).await;
        assert_same_tree(&before, &after, "ZooKeeper before", "Corral after import");
        let max_zxid = before
            .values()
            .map(|n| n.stat.mzxid.max(n.stat.pzxid))
            .max()
            .unwrap();
        let reply = client
            .create2("/after", b"", open(), CreateMode::Persistent)
            .await
            .unwrap();
        let czxid = reply.stat().expect("create2 stat").czxid;
        assert!(
            czxid > max_zxid,
            "new zxid {czxid:#x} must exceed {max_zxid:#x}"
        );
        // The ZooKeeper session that held ephemerals re-attaches with its password.
        let options = ConnectOptions {
            timeout_ms: SESSION_TIMEOUT_MS,
            session_id: holder_id,
            password: Some(holder_password),
            ..ConnectOptions::default()
        };
        let resumed = Client::connect(&corral_addr, options)
            .await
            .expect("re-attach");
        assert_eq!(resumed.session_id(), holder_id);
        let stat = resumed.exists("/app/eph", false).await.unwrap();
        assert_eq!(stat.stat().unwrap().ephemeral_owner, holder_id);
    });
    corral.terminate().expect("stop Corral");
    drop(zk);
}

#[test]
fn corral_to_zookeeper() {
    if !apache_zk_or_skip("corral_to_zookeeper") {
        return;
    }
    let rt = runtime();
    let work = tempfile::tempdir().unwrap();
    let data = make_dir(work.path(), "corral-data");
    let cfg = [("snapCount".to_string(), "10".to_string())];
    let (mut corral, port) =
        CorralProcess::standalone(&corral_bin(), &data, &cfg).expect("start Corral");
    let before = rt.block_on(async {
        let addr = format!("127.0.0.1:{port}");
        let client = connect(&addr).await;
        workload(&client, &addr, false).await;
        let tree = snapshot_tree(&client).await;
        std::mem::forget(client);
        tree
    });
    corral.terminate().expect("stop Corral");
    let snapshots = std::fs::read_dir(data.join("corral-snapshots"))
        .unwrap()
        .count();
    assert!(snapshots >= 2, "snapCount=10 should leave snapshot files");

    let zk_dir = work.path().join("zk-data");
    let out = corral_data(&[
        "export-zookeeper",
        data.to_str().unwrap(),
        "--to",
        zk_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "export failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verified"), "{stdout}");
    println!("{stdout}");

    let zk =
        ApacheZk::start(ApacheZkOptions::default().with_cfg("dataDir", zk_dir.to_str().unwrap()))
            .expect("ZooKeeper starts on the exported directory");
    rt.block_on(async {
        let client = connect(&zk.connect_string()).await;
        let after = snapshot_tree(&client).await;
        assert_same_tree(&before, &after, "Corral before", "ZooKeeper after export");
    });
    let log = std::fs::read_to_string(zk.stdout_path()).unwrap_or_default();
    assert!(
        !log.contains("Digests are not matching"),
        "ZooKeeper found a digest mismatch:\n{log}"
    );
}
