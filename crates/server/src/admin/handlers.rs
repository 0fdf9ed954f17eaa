//! The AdminServer's read and reset commands on this server's own state, with ZooKeeper's
//! field names (Jackson's snake_case of its getters). Where a ZooKeeper figure has no Corral
//! counterpart, the field holds ZooKeeper's own "nothing measured" value (-1 buffer sizes),
//! and the README lists them.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::response::CommandResponse;
use super::AdminContext;
use crate::four_letter::{self, VERSION};
use crate::status::monitor::{dir_bytes, MonitorValue};
use crate::status::StatusSource;

/// Runs one of this module's commands; `None` when `primary` is not one of them.
pub(crate) fn run(
    primary: &str,
    ctx: &AdminContext,
    query: &HashMap<String, String>,
) -> Option<CommandResponse> {
    let status = &*ctx.status;
    let mut r = CommandResponse::new(primary);
    match primary {
        "connection_stat_reset" => status.reset_connection_stats(),
        "configuration" => {
            let c = status.conf();
            r.put("client_port", c.client_addr.port());
            r.put("data_dir", c.data_dir.display().to_string());
            r.put("data_log_dir", c.data_log_dir.display().to_string());
            r.put("tick_time", c.tick_time_ms);
            r.put("max_client_cnxns", c.max_client_cnxns);
            r.put("min_session_timeout", c.min_session_timeout_ms);
            r.put("max_session_timeout", c.max_session_timeout_ms);
            r.put("server_id", c.server_id);
            // Corral leaves the listen backlog to the OS, which ZooKeeper reports as -1.
            r.put("client_port_listen_backlog", -1);
        }
        "connections" => {
            r.put("connections", connections(status, false));
            r.put("secure_connections", json!([]));
        }
        "hash" => {
            let (zxid, digest) = status.digest();
            r.put("digests", json!([{ "zxid": zxid, "digest": digest }]));
        }
        "dirs" => {
            let c = status.conf();
            r.put("datadir_size", dir_bytes(&c.data_dir));
            r.put("logdir_size", dir_bytes(&c.data_log_dir));
        }
        "dump" => {
            let dump = status.session_dump();
            let expiry: Map<String, Value> = dump
                .by_deadline
                .into_iter()
                .map(|(deadline, ids)| (deadline.to_string(), json!(ids)))
                .collect();
            let ephemerals: Map<String, Value> = dump
                .ephemerals
                .into_iter()
                .map(|(session, paths)| (session.to_string(), json!(paths)))
                .collect();
            r.put("expiry_time_to_session_ids", expiry);
            r.put("session_id_to_ephemeral_paths", ephemerals);
        }
        "environment" => {
            for (key, value) in four_letter::environment() {
                r.put(key, value);
            }
        }
        "get_trace_mask" => r.put("tracemask", four_letter::trace_mask()),
        "set_trace_mask" => match query.get("traceMask") {
            None => r.put("error", "setTraceMask requires long traceMask argument"),
            Some(text) => match text.parse::<i64>() {
                Ok(mask) => {
                    four_letter::set_trace_mask(mask);
                    r.put("tracemask", mask);
                }
                Err(_) => r.put(
                    "error",
                    format!("setTraceMask requires long traceMask argument, got {text}"),
                ),
            },
        },
        "initial_configuration" => r.put("initial_configuration", ctx.initial_config.as_str()),
        "is_read_only" => r.put("read_only", false),
        "last_snapshot" => {
            let last = status.last_snapshot();
            // Java's Long.toHexString(-1) without a snapshot.
            let zxid = last.zxid.unwrap_or(-1);
            r.put("zxid", format!("{:x}", zxid as u64));
            r.put("timestamp", last.timestamp_s);
        }
        "monitor" => {
            for (key, value) in status.monitor_rows(VERSION) {
                let value = match value {
                    MonitorValue::Text(text) => json!(text),
                    MonitorValue::Int(v) => json!(v),
                    MonitorValue::Float(v) => json!(v),
                };
                r.put(key, value);
            }
        }
        "observer_connection_stat_reset" => {
            // Corral keeps no per-observer connection statistics: nothing to reset.
        }
        "ruok" => {}
        "server_stats" => server_stats(status, &mut r),
        "stats" => {
            server_stats(status, &mut r);
            r.put("connections", connections(status, true));
            r.put("secure_connections", json!([]));
        }
        "stat_reset" => status.reset_server_stats(),
        "system_properties" => {
            // Corral has no JVM: the properties a JVM would derive from the OS, sorted.
            let mut props: Vec<(String, String)> = four_letter::environment()
                .into_iter()
                .filter(|(k, _)| k.starts_with("os.") && !k.starts_with("os.memory"))
                .chain(four_letter::environment().into_iter().filter(|(k, _)| {
                    matches!(
                        *k,
                        "user.name" | "user.home" | "user.dir" | "java.io.tmpdir"
                    )
                }))
                .map(|(k, v)| (k.to_owned(), v))
                .chain([
                    ("file.separator".to_owned(), "/".to_owned()),
                    ("line.separator".to_owned(), "\n".to_owned()),
                    ("path.separator".to_owned(), ":".to_owned()),
                ])
                .collect();
            props.sort();
            for (key, value) in props {
                r.put(&key, value);
            }
        }
        "watches" => {
            let by_session: Map<String, Value> = status
                .watches_by_session()
                .into_iter()
                .map(|(session, paths)| (session.to_string(), json!(paths)))
                .collect();
            r.put("session_id_to_watched_paths", by_session);
        }
        "watches_by_path" => {
            let by_path: Map<String, Value> = status
                .watches_by_path()
                .into_iter()
                .map(|(path, sessions)| (path, json!(sessions)))
                .collect();
            r.put("path_to_session_ids", by_path);
        }
        "watch_summary" => {
            let w = status.watch_summary();
            r.put("num_connections", w.connections);
            r.put("num_paths", w.paths);
            r.put("num_total_watches", w.total);
        }
        _ => return None,
    }
    Some(r)
}

/// ZooKeeper's `BufferStats` when nothing was measured: Corral does not track the sizes of
/// client responses.
fn unmeasured_buffer_stats() -> Value {
    json!({ "last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1 })
}

/// `server_stats` / `stats`: ZooKeeper's `ServerStats` getters.
fn server_stats(status: &StatusSource, r: &mut CommandResponse) {
    let s = status.server_summary();
    let d = status.data_summary();
    let c = status.conf();
    r.put("version", VERSION);
    r.put("read_only", false);
    r.put(
        "server_stats",
        json!({
            "packets_sent": s.packets_sent,
            "packets_received": s.packets_received,
            "fsync_threshold_exceed_count": status.fsync_threshold_exceeded(),
            "client_response_stats": unmeasured_buffer_stats(),
            "data_dir_size": dir_bytes(&c.data_dir),
            "log_dir_size": dir_bytes(&c.data_log_dir),
            "provider_null": false,
            "server_state": s.mode,
            "last_processed_zxid": s.zxid,
            "outstanding_requests": s.outstanding_requests,
            "avg_latency": s.latency.avg_ms,
            "max_latency": s.latency.max_ms,
            "min_latency": s.latency.min_ms,
            "num_alive_client_connections": s.connections,
            "auth_failed_count": d.auth_failed,
            // Corral has no TLS: no connection is refused for lacking mutual TLS.
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
            "uptime": s.uptime_ms,
        }),
    );
    r.put("client_response", unmeasured_buffer_stats());
    if let Some(leader) = status.quorum_summary().and_then(|q| q.leader) {
        let sizes = leader.proposal_sizes;
        r.put(
            "proposal_stats",
            json!({
                "last_buffer_size": sizes.last_bytes,
                "min_buffer_size": sizes.min_bytes,
                "max_buffer_size": sizes.max_bytes,
            }),
        );
    }
    r.put("node_count", s.node_count);
}

/// ZooKeeper's `ServerCnxn.getConnectionInfo(brief)`.
fn connections(status: &StatusSource, brief: bool) -> Value {
    let list: Vec<Value> = status
        .connections()
        .into_iter()
        .map(|conn| {
            let mut info = Map::new();
            info.insert("remote_socket_address".into(), json!(conn.peer.to_string()));
            // NIO's OP_READ: Corral always reads from a live connection.
            info.insert("interest_ops".into(), json!(1));
            info.insert("outstanding_requests".into(), json!(conn.outstanding));
            info.insert("packets_received".into(), json!(conn.packets_received));
            info.insert("packets_sent".into(), json!(conn.packets_sent));
            if !brief {
                let l = conn.latency;
                info.insert("session_id".into(), json!(conn.session_id));
                info.insert("last_operation".into(), json!(conn.last_op));
                info.insert("established".into(), json!(conn.established_ms));
                info.insert("session_timeout".into(), json!(conn.session_timeout_ms));
                info.insert("last_cxid".into(), json!(conn.last_cxid));
                info.insert("last_zxid".into(), json!(conn.last_zxid));
                // Not tracked per connection (the 4lw `cons` prints lresp=0 too).
                info.insert("last_response_time".into(), json!(0));
                info.insert("last_latency".into(), json!(l.last_ms));
                info.insert("min_latency".into(), json!(l.min_ms));
                info.insert("avg_latency".into(), json!(l.avg_ms as u64));
                info.insert("max_latency".into(), json!(l.max_ms));
            }
            Value::Object(info)
        })
        .collect();
    Value::Array(list)
}
