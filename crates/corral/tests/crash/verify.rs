//! The checks after a restart, against the [`Model`]:
//!
//! 1. the server's zxid is not behind the highest zxid an acknowledged reply carried;
//! 2. every in-flight write is resolved: a create or a multi is wholly there (with its data)
//!    or wholly absent; a set left its key at the acknowledged version or exactly one past it
//!    with the in-flight data; the model then takes what was found;
//! 3. each directory's children are exactly the model's (a missing one is a lost
//!    acknowledged create, an unknown one a phantom, an absent-found one that reappears a
//!    resurrection), `numChildren` and `cversion` equal the count, and the sequential
//!    suffixes are exactly `0..count`;
//! 4. every counter key has exactly its model version and data;
//! 5. on full-check cycles, every created node's data is read back and compared.

use std::collections::BTreeSet;

use corral_client::Client;
use corral_proto::response::Response;
use corral_proto::{ErrorCode, Stat};
use futures::stream::{self, StreamExt};

use crate::model::{Model, Op, KEYS_DIR, MULTI_DIR, PLAIN_DIR, SEQ_DIR, SEQ_PREFIX};
use crate::support::{bounded, call, connect};

/// Reads in flight during the full check.
const READS_IN_FLIGHT: usize = 64;

/// Data and stat of a node, `None` if it does not exist.
async fn get(client: &Client, path: &str) -> Result<Option<(Vec<u8>, Stat)>, String> {
    let reply = call(&format!("getData {path}"), client.get_data(path, false)).await?;
    match reply.result {
        Ok(Response::GetData { data, stat }) => {
            Ok(Some((data.map(|d| d.to_vec()).unwrap_or_default(), stat)))
        }
        Err(ErrorCode::NoNode) => Ok(None),
        other => Err(format!("getData {path}: unexpected reply {other:?}")),
    }
}

fn show(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    if text.len() > 60 {
        format!("{:?}...", &text[..60])
    } else {
        format!("{text:?}")
    }
}

/// Runs every check (see the module docs); `full` adds the data of every node.
pub async fn after_restart(
    addr: &str,
    model: &mut Model,
    in_doubt: &[Op],
    full: bool,
) -> Result<(), String> {
    let client = bounded("connect", connect(addr))
        .await?
        .map_err(|e| format!("connect: {e}"))?;
    let reply = call("exists /", client.exists("/", false)).await?;
    if reply.zxid < model.zxid_acked_max {
        return Err(format!(
            "the restarted server is at zxid {} but a reply before the kill carried zxid {}: \
             acknowledged entries are missing from the log",
            reply.zxid, model.zxid_acked_max
        ));
    }
    let seq_pool = resolve_in_doubt(&client, model, in_doubt).await?;
    for dir in [PLAIN_DIR, MULTI_DIR] {
        check_dir(&client, model, dir).await?;
    }
    check_seq_dir(&client, model, seq_pool).await?;
    check_keys(&client, model).await?;
    if full {
        check_all_data(&client, model).await?;
        model.stats.full_checks += 1;
    }
    let _ = bounded("close", client.close()).await;
    Ok(())
}

/// Decides every in-flight write; returns the data of in-flight sequential creates, which
/// can only be identified once the sequential directory is listed.
async fn resolve_in_doubt(
    client: &Client,
    model: &mut Model,
    in_doubt: &[Op],
) -> Result<Vec<Vec<u8>>, String> {
    let mut seq_pool = Vec::new();
    for op in in_doubt {
        match op {
            Op::Plain { path, data } => match get(client, path).await? {
                Some((found, _)) if &found == data => {
                    model.plain.insert(path.clone(), data.clone());
                    model.stats.in_doubt_applied += 1;
                }
                Some((found, _)) => {
                    return Err(format!(
                        "in-flight create {path} applied with data {} instead of {}",
                        show(&found),
                        show(data)
                    ))
                }
                None => {
                    model.absent.insert(path.clone());
                    model.stats.in_doubt_absent += 1;
                }
            },
            Op::Multi { nodes } => {
                let mut found = Vec::new();
                for (path, data) in nodes {
                    let node = get(client, path).await?;
                    if let Some((got, _)) = &node {
                        if got != data {
                            return Err(format!(
                                "in-flight multi created {path} with data {} instead of {}",
                                show(got),
                                show(data)
                            ));
                        }
                    }
                    found.push(node.is_some());
                }
                let present = found.iter().filter(|f| **f).count();
                if present == nodes.len() {
                    for (path, data) in nodes {
                        model.multi.insert(path.clone(), data.clone());
                    }
                    model.stats.in_doubt_applied += 1;
                } else if present == 0 {
                    for (path, _) in nodes {
                        model.absent.insert(path.clone());
                    }
                    model.stats.in_doubt_absent += 1;
                } else {
                    let paths: Vec<String> = nodes
                        .iter()
                        .zip(&found)
                        .map(|((p, _), f)| {
                            format!("{p}: {}", if *f { "present" } else { "absent" })
                        })
                        .collect();
                    return Err(format!(
                        "in-flight multi HALF-APPLIED after the restart: {}",
                        paths.join(", ")
                    ));
                }
            }
            Op::Set {
                key,
                expected,
                data,
            } => {
                let Some(k) = model.keys.iter().position(|k| k.index == *key) else {
                    return Err(format!("set on unknown key {key}"));
                };
                let path = model.keys[k].path();
                let Some((found, stat)) = get(client, &path).await? else {
                    return Err(format!("counter {path} is gone after the restart"));
                };
                let model_key = &mut model.keys[k];
                if model_key.version != *expected {
                    return Err(format!(
                        "test bug: {path} had a set in flight with version {expected} but the \
                         last acknowledged version is {}",
                        model_key.version
                    ));
                }
                if stat.version == expected + 1 && &found == data {
                    model_key.version = stat.version;
                    model_key.data = found;
                    model.stats.in_doubt_applied += 1;
                } else if stat.version == *expected && found == model_key.data {
                    model.stats.in_doubt_absent += 1;
                } else {
                    return Err(format!(
                        "counter {path}: after the restart version {} data {}; expected the last \
                         acknowledged version {expected} (data {}) or, with the in-flight set \
                         applied, version {} (data {})",
                        stat.version,
                        show(&found),
                        show(&model_key.data),
                        expected + 1,
                        show(data)
                    ));
                }
            }
            Op::Seq { data } => seq_pool.push(data.clone()),
        }
    }
    Ok(seq_pool)
}

async fn list(client: &Client, dir: &str) -> Result<(BTreeSet<String>, Stat), String> {
    let reply = call(
        &format!("getChildren2 {dir}"),
        client.get_children2(dir, false),
    )
    .await?;
    match reply.result {
        Ok(Response::GetChildren2 { children, stat }) => {
            let count = children.len();
            let set: BTreeSet<String> = children.into_iter().collect();
            if set.len() != count {
                return Err(format!("{dir}: duplicate child names"));
            }
            Ok((set, stat))
        }
        other => Err(format!("getChildren2 {dir}: unexpected reply {other:?}")),
    }
}

fn check_counts(dir: &str, count: usize, stat: &Stat) -> Result<(), String> {
    let count = count as i32;
    if stat.num_children != count || stat.cversion != count {
        return Err(format!(
            "{dir}: {count} children listed but numChildren={} cversion={} (only creates \
             happen here, so all three must agree)",
            stat.num_children, stat.cversion
        ));
    }
    Ok(())
}

/// Fails if an acknowledged child of `dir` (`what`: which kind of create) is missing.
fn check_none_lost(
    dir: &str,
    what: &str,
    expected: &BTreeSet<String>,
    children: &BTreeSet<String>,
) -> Result<(), String> {
    let lost: Vec<&String> = expected.difference(children).collect();
    if lost.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{dir}: {} ACKNOWLEDGED {what} LOST after the restart, e.g. {:?}",
        lost.len(),
        lost.iter().take(5).collect::<Vec<_>>()
    ))
}

async fn check_dir(client: &Client, model: &Model, dir: &str) -> Result<(), String> {
    let (children, stat) = list(client, dir).await?;
    let expected = model.children_of(dir);
    check_none_lost(dir, "creates", &expected, &children)?;
    let extra: Vec<String> = children
        .difference(&expected)
        .map(|name| format!("{dir}/{name}"))
        .collect();
    if let Some(path) = extra.first() {
        let why = if model.absent.contains(path) {
            "was absent after an earlier restart and reappeared"
        } else {
            "was never written by the test (phantom node)"
        };
        return Err(format!(
            "{dir}: {} unexpected children, e.g. {path}, which {why}",
            extra.len()
        ));
    }
    check_counts(dir, children.len(), &stat)
}

async fn check_seq_dir(
    client: &Client,
    model: &mut Model,
    mut pool: Vec<Vec<u8>>,
) -> Result<(), String> {
    let (children, stat) = list(client, SEQ_DIR).await?;
    let expected = model.children_of(SEQ_DIR);
    check_none_lost(SEQ_DIR, "sequential creates", &expected, &children)?;
    let extra: Vec<String> = children.difference(&expected).cloned().collect();
    for name in extra {
        let path = format!("{SEQ_DIR}/{name}");
        let Some((data, _)) = get(client, &path).await? else {
            return Err(format!("{path} listed but not readable"));
        };
        let Some(at) = pool.iter().position(|d| *d == data) else {
            return Err(format!(
                "{path} (data {}) matches no in-flight sequential create: phantom or \
                 resurrected node",
                show(&data)
            ));
        };
        pool.swap_remove(at);
        model.seq.insert(path, data);
        model.stats.in_doubt_applied += 1;
    }
    model.stats.in_doubt_absent += pool.len() as u64;
    check_counts(SEQ_DIR, children.len(), &stat)?;
    let prefix = SEQ_PREFIX.rsplit('/').next().unwrap_or_default();
    let mut numbers: Vec<i64> = children
        .iter()
        .map(|name| {
            name.strip_prefix(prefix)
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| format!("{SEQ_DIR}/{name}: not a sequential name"))
        })
        .collect::<Result<_, _>>()?;
    numbers.sort_unstable();
    for (i, n) in numbers.iter().enumerate() {
        if *n != i as i64 {
            return Err(format!(
                "{SEQ_DIR}: sequential numbers are not 0..{}: expected {i}, found {n} \
                 (a create in the middle was lost, or the counter moved without a node)",
                numbers.len()
            ));
        }
    }
    Ok(())
}

async fn check_keys(client: &Client, model: &Model) -> Result<(), String> {
    let (children, stat) = list(client, KEYS_DIR).await?;
    if children.len() != model.keys.len() {
        return Err(format!(
            "{KEYS_DIR}: {} children, expected {}",
            children.len(),
            model.keys.len()
        ));
    }
    check_counts(KEYS_DIR, children.len(), &stat)?;
    for key in &model.keys {
        let path = key.path();
        let Some((data, stat)) = get(client, &path).await? else {
            return Err(format!("counter {path} is gone"));
        };
        if stat.version < key.version {
            return Err(format!(
                "counter {path}: version {} is BEHIND the last acknowledged version {}: an \
                 acknowledged setData was lost",
                stat.version, key.version
            ));
        }
        if stat.version != key.version || data != key.data {
            return Err(format!(
                "counter {path}: version {} data {}, expected version {} data {}",
                stat.version,
                show(&data),
                key.version,
                show(&key.data)
            ));
        }
    }
    Ok(())
}

async fn check_all_data(client: &Client, model: &Model) -> Result<(), String> {
    let results: Vec<Result<(), String>> = stream::iter(model.all_created())
        .map(|(path, data)| {
            let client = client.clone();
            async move {
                match get(&client, path).await? {
                    Some((found, stat)) if &found == data && stat.version == 0 => Ok(()),
                    Some((found, stat)) => Err(format!(
                        "{path}: data {} version {}, expected {} version 0",
                        show(&found),
                        stat.version,
                        show(data)
                    )),
                    None => Err(format!("{path}: ACKNOWLEDGED node LOST")),
                }
            }
        })
        .buffer_unordered(READS_IN_FLIGHT)
        .collect()
        .await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if let Some(first) = errors.first() {
        return Err(format!(
            "full check: {} nodes wrong, e.g. {first}",
            errors.len()
        ));
    }
    Ok(())
}
