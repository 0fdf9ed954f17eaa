//! After a crash test's last graceful stop: the offline tools must agree with the model.
//! `corral data inspect` finds nothing wrong, and `corral data dump --json` (snapshot + log
//! replayed with the tree's own apply, no server involved) holds exactly the model's nodes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{Model, KEYS_DIR, MULTI_DIR, PLAIN_DIR, ROOT, SEQ_DIR};
use crate::support::corral_data;

/// A dumped node: data (as text) and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dumped {
    pub data: Option<String>,
    pub version: i64,
}

/// Parses `corral data dump --json` output into path → node.
pub fn parse_dump(stdout: &[u8]) -> Result<(Value, BTreeMap<String, Dumped>), String> {
    let value: Value =
        serde_json::from_slice(stdout).map_err(|e| format!("dump --json is not JSON: {e}"))?;
    let nodes = value["nodes"]
        .as_array()
        .ok_or("dump --json has no nodes array")?;
    let mut out = BTreeMap::new();
    for node in nodes {
        let path = node["path"]
            .as_str()
            .ok_or("node without a path")?
            .to_string();
        let data = match &node["data"] {
            Value::Null => None,
            Value::Object(o) => match (o.get("utf8"), o.get("hex")) {
                (Some(Value::String(text)), _) => Some(text.clone()),
                (_, Some(Value::String(hex))) => Some(format!("hex:{hex}")),
                _ => return Err(format!("{path}: bad data field")),
            },
            _ => return Err(format!("{path}: bad data field")),
        };
        let version = node["stat"]["version"]
            .as_i64()
            .ok_or_else(|| format!("{path}: no stat.version"))?;
        out.insert(path, Dumped { data, version });
    }
    Ok((value, out))
}

/// Runs inspect and dump on the stopped server's directory and compares with the model.
pub fn dump_matches_model(dirs: &[String], model: &Model) -> Result<(), String> {
    let mut args = vec!["inspect".to_string()];
    args.extend_from_slice(dirs);
    let inspect = corral_data(&args);
    let report = String::from_utf8_lossy(&inspect.stdout);
    if !inspect.status.success() || !report.contains("verdict: OK") {
        return Err(format!(
            "`corral data inspect` after a graceful stop:\n{report}{}",
            String::from_utf8_lossy(&inspect.stderr)
        ));
    }
    let mut args = vec!["dump".to_string()];
    args.extend_from_slice(dirs);
    args.extend(["--json", "--path", ROOT].map(String::from));
    let dump = corral_data(&args);
    if !dump.status.success() {
        return Err(format!(
            "`corral data dump` failed: {}",
            String::from_utf8_lossy(&dump.stderr)
        ));
    }
    let (_, nodes) = parse_dump(&dump.stdout)?;
    let mut expected: BTreeMap<String, Dumped> = BTreeMap::new();
    for dir in [ROOT, PLAIN_DIR, SEQ_DIR, MULTI_DIR, KEYS_DIR] {
        expected.insert(
            dir.to_string(),
            Dumped {
                data: Some(String::new()),
                version: 0,
            },
        );
    }
    for (path, data) in model.all_created() {
        expected.insert(
            path.clone(),
            Dumped {
                data: Some(String::from_utf8_lossy(data).into_owned()),
                version: 0,
            },
        );
    }
    for key in &model.keys {
        expected.insert(
            key.path(),
            Dumped {
                data: Some(String::from_utf8_lossy(&key.data).into_owned()),
                version: i64::from(key.version),
            },
        );
    }
    if nodes != expected {
        let missing: Vec<&String> = expected
            .keys()
            .filter(|p| !nodes.contains_key(*p))
            .collect();
        let extra: Vec<&String> = nodes
            .keys()
            .filter(|p| !expected.contains_key(*p))
            .collect();
        let differing: Vec<&String> = expected
            .iter()
            .filter(|(p, e)| nodes.get(*p).is_some_and(|n| n != *e))
            .map(|(p, _)| p)
            .collect();
        return Err(format!(
            "`corral data dump` disagrees with the model: {} missing (e.g. {:?}), {} extra \
             (e.g. {:?}), {} differing (e.g. {:?})",
            missing.len(),
            missing.first(),
            extra.len(),
            extra.first(),
            differing.len(),
            differing.first()
        ));
    }
    Ok(())
}
