//! File names in `version-2/`: `snapshot.<zxid>` (the last zxid the snapshot includes, maybe
//! more for a fuzzy one) and `log.<zxid>` (the first zxid the log holds), the zxid in lower
//! case hex without leading zeros. A compressed snapshot adds `.gz` or `.snappy`.

/// The directory ZooKeeper keeps its files in, under `dataDir` and `dataLogDir`.
pub const VERSION_DIR: &str = "version-2";

/// What a file name in `version-2/` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    Snapshot {
        zxid: i64,
        compression: Option<String>,
    },
    Log {
        zxid: i64,
    },
}

/// Parses a name as `Util.getZxidFromName` does: `<prefix>.<hex>[.<ext>]`.
pub fn parse(name: &str) -> Option<FileName> {
    let mut parts = name.split('.');
    let prefix = parts.next()?;
    let zxid = i64::from_str_radix(parts.next()?, 16).ok()?;
    let ext = parts.next().map(str::to_owned);
    if parts.next().is_some() {
        return None;
    }
    match (prefix, ext) {
        ("snapshot", compression) => Some(FileName::Snapshot { zxid, compression }),
        ("log", None) => Some(FileName::Log { zxid }),
        _ => None,
    }
}

pub fn snapshot_name(zxid: i64) -> String {
    format!("snapshot.{zxid:x}")
}

pub fn log_name(zxid: i64) -> String {
    format!("log.{zxid:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            parse("snapshot.100000002"),
            Some(FileName::Snapshot {
                zxid: 0x1_0000_0002,
                compression: None
            })
        );
        assert_eq!(
            parse("snapshot.1a.gz"),
            Some(FileName::Snapshot {
                zxid: 0x1a,
                compression: Some("gz".into())
            })
        );
        assert_eq!(parse("log.1"), Some(FileName::Log { zxid: 1 }));
        assert_eq!(parse("log.zz"), None);
        assert_eq!(parse("acceptedEpoch"), None);
        assert_eq!(parse("log.1.x"), None);
        assert_eq!(snapshot_name(0x1_0000_0002), "snapshot.100000002");
        assert_eq!(log_name(0), "log.0");
    }
}
