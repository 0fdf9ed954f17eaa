//! Every AdminServer command of Corral against Apache ZooKeeper 3.8's: the same commands
//! listed (3.9 adds `snapshot` and `restore`, which 3.8 does not know), each answering with the
//! same JSON keys and value kinds, under every alias; then 3.9's protected commands.

use std::collections::BTreeSet;

use corral_testkit::{apache_zk_or_skip, ApacheZk, ApacheZkOptions};
use serde_json::Value;

use crate::http::{get, request};
use crate::session::Session;
use crate::{start_corral, start_corral_with};

/// Commands ZooKeeper 3.9 added after 3.8 (Debian's version answers "Unknown command").
const ADDED_IN_3_9: [&str; 2] = ["restore", "snapshot"];

/// Fields whose keys are data (session ids, paths, deadlines, server ids): only the values'
/// shapes are compared.
const DATA_KEYED: [&str; 5] = [
    "expiry_time_to_session_ids",
    "session_id_to_ephemeral_paths",
    "session_id_to_watched_paths",
    "path_to_session_ids",
    "current_config",
];

/// `monitor` rows Corral's `mntr` adds (ZooKeeper has no metric of these names).
const CORRAL_MONITOR_ROWS: [&str; 2] = ["watch_events_sent", "last_zxid"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences of shape between ZooKeeper's `zk` and Corral's `ours` at `at`.
fn compare(at: &str, zk: &Value, ours: &Value, diffs: &mut Vec<String>) {
    match (zk, ours) {
        (Value::Object(z), Value::Object(o)) => {
            let field = at.rsplit('.').next().unwrap_or(at);
            if DATA_KEYED.contains(&field) {
                if let (Some(zv), Some(ov)) = (z.values().next(), o.values().next()) {
                    compare(&format!("{at}.*"), zv, ov, diffs);
                }
                return;
            }
            let zk_keys: BTreeSet<&String> = z.keys().collect();
            let our_keys: BTreeSet<&String> = o.keys().collect();
            for missing in zk_keys.difference(&our_keys) {
                diffs.push(format!("{at}: ZooKeeper's key {missing:?} is missing"));
            }
            for extra in our_keys.difference(&zk_keys) {
                diffs.push(format!("{at}: key {extra:?} is not ZooKeeper's"));
            }
            for key in zk_keys.intersection(&our_keys) {
                compare(
                    &format!("{at}.{key}"),
                    &z[key.as_str()],
                    &o[key.as_str()],
                    diffs,
                );
            }
        }
        (Value::Array(z), Value::Array(o)) => {
            if let (Some(zv), Some(ov)) = (z.first(), o.first()) {
                compare(&format!("{at}[0]"), zv, ov, diffs);
            }
        }
        (z, o) if kind(z) != kind(o) => diffs.push(format!(
            "{at}: ZooKeeper gives a {} ({z}), Corral a {} ({o})",
            kind(z),
            kind(o)
        )),
        _ => {}
    }
}

fn listed(page: &str) -> Vec<String> {
    page.lines()
        .filter_map(|l| l.split("\">").nth(1))
        .filter_map(|l| l.strip_suffix("</a>"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_answers_with_zookeepers_keys() {
    if !apache_zk_or_skip("every_command_answers_with_zookeepers_keys") {
        return;
    }
    let admin_port = corral_testkit::free_port();
    let zk = ApacheZk::start(ApacheZkOptions::default().with_admin_server(admin_port)).unwrap();
    let zk_admin = std::net::SocketAddr::from(([127, 0, 0, 1], admin_port));
    let corral = start_corral();
    let _zk_session = Session::open(zk.addr());
    let _our_session = Session::open(corral.client);

    let zk_page = get(zk_admin, "/commands");
    let our_page = get(corral.admin, "/commands");
    assert_eq!(our_page.status, 200);
    let zk_names = listed(&zk_page.text());
    let our_names = listed(&our_page.text());
    assert!(zk_names.len() >= 20, "ZooKeeper listed {zk_names:?}");
    let mut expected = zk_names.clone();
    expected.extend(ADDED_IN_3_9.iter().map(|s| s.to_string()));
    expected.sort();
    assert_eq!(
        our_names, expected,
        "listed commands (3.8's plus 3.9's additions)"
    );
    assert_eq!(
        get(corral.admin, "/commands/").text(),
        our_page.text(),
        "a trailing slash lists too"
    );

    let mut diffs = Vec::new();
    for name in &zk_names {
        let path = format!("/commands/{name}");
        let zk_reply = get(zk_admin, &path);
        let our_reply = get(corral.admin, &path);
        assert_eq!(our_reply.status, zk_reply.status, "{name}: HTTP status");
        let (zk_json, our_json) = (zk_reply.json(), our_reply.json());
        assert_eq!(our_json["command"], Value::from(name.as_str()), "{name}");
        match name.as_str() {
            // JVM properties: Corral gives the ones an OS defines, a subset.
            "system_properties" => {
                for key in our_json.as_object().unwrap().keys() {
                    if !zk_json.as_object().unwrap().contains_key(key) {
                        diffs.push(format!("system_properties: {key:?} is not ZooKeeper's"));
                    }
                }
            }
            // ZooKeeper adds ~470 ServerMetrics rows Corral does not measure: Corral's rows
            // must be ZooKeeper's (or its own two), with the same kinds.
            "monitor" => {
                let z = zk_json.as_object().unwrap();
                for (key, value) in our_json.as_object().unwrap() {
                    match z.get(key) {
                        Some(zv) => compare(&format!("monitor.{key}"), zv, value, &mut diffs),
                        None if CORRAL_MONITOR_ROWS.contains(&key.as_str()) => {}
                        None => diffs.push(format!("monitor: {key:?} is not ZooKeeper's")),
                    }
                }
            }
            _ => compare(name, &zk_json, &our_json, &mut diffs),
        }
    }
    assert!(diffs.is_empty(), "differences:\n{}", diffs.join("\n"));

    // Aliases run their command, which answers under its primary name.
    for (alias, primary) in [
        ("mntr", "monitor"),
        ("conf", "configuration"),
        ("config", "configuration"),
        ("cons", "connections"),
        ("envi", "environment"),
        ("wchc", "watches"),
        ("lsnp", "last_snapshot"),
    ] {
        let zk_json = get(zk_admin, &format!("/commands/{alias}")).json();
        let our_json = get(corral.admin, &format!("/commands/{alias}")).json();
        assert_eq!(zk_json["command"], Value::from(primary));
        assert_eq!(our_json["command"], Value::from(primary), "{alias}");
    }
    // Unknown commands and parameters answer as ZooKeeper does.
    for path in [
        "/commands/no_such_command",
        "/commands/set_trace_mask",
        "/commands/set_trace_mask?traceMask=x",
        "/commands/stmk?traceMask=306",
    ] {
        let zk_reply = get(zk_admin, path);
        let our_reply = get(corral.admin, path);
        assert_eq!(our_reply.status, zk_reply.status, "{path}");
        assert_eq!(our_reply.json(), zk_reply.json(), "{path}");
    }
    assert_eq!(
        get(corral.admin, "/other").status,
        get(zk_admin, "/other").status
    );
}

/// 3.9's `snapshot` and `restore`: ALL on `/` through the `Authorization` header, refusals in
/// ZooKeeper 3.9's words and codes (Debian's 3.8 has neither command, so this follows
/// `Commands.java` of 3.9).
#[test]
fn protected_commands_follow_zookeeper_3_9() {
    let corral = start_corral();
    let missing = get(corral.admin, "/commands/snapshot");
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.json()["error"],
        "Auth info is missing for the command"
    );
    let unknown_scheme = request(
        corral.admin,
        "GET",
        "/commands/snapshot",
        &[("Authorization", "x509")],
    );
    assert_eq!(unknown_scheme.status, 401);
    assert_eq!(unknown_scheme.json()["error"], "Not authenticated");
    let no_password = request(
        corral.admin,
        "GET",
        "/commands/snap",
        &[("Authorization", "digest")],
    );
    assert_eq!(no_password.status, 401);

    let auth = [("Authorization", "digest admin:secret")];
    let snapshot = request(corral.admin, "GET", "/commands/snapshot", &auth);
    assert_eq!(snapshot.status, 200, "{}", snapshot.text());
    let size: usize = snapshot.header("snapshot_size").unwrap().parse().unwrap();
    assert!(size > 0);
    assert_eq!(snapshot.body.len(), size, "the snapshot file is streamed");
    assert!(snapshot.header("last_zxid").unwrap().starts_with("0x"));
    // One snapshot per admin.rateLimiterIntervalInMS (5 minutes by default).
    let again = request(
        corral.admin,
        "GET",
        "/commands/snapshot?streaming=false",
        &auth,
    );
    assert_eq!(again.status, 429);
    let lsnp = get(corral.admin, "/commands/last_snapshot").json();
    assert_ne!(lsnp["zxid"], "ffffffffffffffff", "{lsnp}");

    // restore is POST only, and refused: Corral cannot replace its replicated state.
    let restore = request(corral.admin, "POST", "/commands/restore", &auth);
    assert_eq!(restore.status, 500);
    assert!(restore.json()["error"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    let restore_unauthorized = request(corral.admin, "POST", "/commands/rest", &[]);
    assert_eq!(restore_unauthorized.status, 401);
    // A method a command does not take (ZooKeeper 3.9 fails with a 500 on a null response;
    // Corral says 405 as Jetty does for a method the servlet lacks).
    assert_eq!(
        request(corral.admin, "POST", "/commands/ruok", &[]).status,
        405
    );
}

/// `admin.commandURL` moves the commands; `admin.idleTimeout` closes a silent connection.
#[test]
fn command_url_and_idle_timeout() {
    use std::io::Read;
    let corral = start_corral_with(&[("admin.commandURL", "/cmds"), ("admin.idleTimeout", "300")]);
    assert_eq!(get(corral.admin, "/cmds/ruok").json()["command"], "ruok");
    assert!(get(corral.admin, "/cmds")
        .text()
        .contains("<a href=\"/cmds/ruok\">ruok</a>"));
    assert_eq!(get(corral.admin, "/commands/ruok").status, 404);

    let mut idle = std::net::TcpStream::connect(corral.admin).unwrap();
    idle.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let read = idle.read(&mut buf);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the server closes an idle connection: {read:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
