//! Decoding a snapshot into a [`ZkTree`]: every check ZooKeeper's loader makes (magic, each
//! parent before its child, both seals), plus the ones it leaves for later (a node naming an
//! ACL id the cache lacks fails here, not when a client first reads it). Offsets in errors
//! are from the start of the file.

use std::collections::HashMap;
use std::sync::Arc;

use corral_proto::{Acl, DecodeError, Jute, Reader};

use crate::checksum::adler32;
use crate::error::FormatError;
use crate::model::digest::SnapshotDigest;
use crate::model::{open_acl, ZkNode, ZkTree};
use crate::records::{FileHeader, StatPersisted, SNAPSHOT_MAGIC};

/// The ACL id meaning world:anyone:cdrwa.
const OPEN_ACL_ID: i64 = -1;

/// A decoded snapshot.
#[derive(Debug, Clone)]
pub struct LoadedSnapshot {
    /// The tree, its sessions, and `last_zxid` = the zxid given (the file name's).
    pub tree: ZkTree,
    /// The digest stored after the tree (3.6+), if any.
    pub digest: Option<SnapshotDigest>,
}

struct Cursor<'a> {
    reader: Reader<'a>,
}

impl<'a> Cursor<'a> {
    fn at(&self) -> u64 {
        self.reader.offset() as u64
    }

    fn get<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, FormatError> {
        f(&mut self.reader).map_err(|e| FormatError::jute(0, what, e))
    }
}

/// Decodes a snapshot file's bytes; `zxid` is the one its name gives.
pub fn read(bytes: &[u8], zxid: i64) -> Result<LoadedSnapshot, FormatError> {
    // `SnapStream.isValidCheckedStream`: a complete file ends in the string "/".
    if bytes.len() < 10 || bytes[bytes.len() - 5..] != [0, 0, 0, 1, b'/'] {
        return Err(FormatError::new(
            bytes.len() as u64,
            "the file does not end in \"/\" (incomplete snapshot)",
        ));
    }
    let mut c = Cursor {
        reader: Reader::new(bytes),
    };
    let header = c.get("file header", FileHeader::decode)?;
    if header.magic != SNAPSHOT_MAGIC {
        return Err(FormatError::new(
            0,
            format!("not a snapshot (magic {:#010x})", header.magic),
        ));
    }
    let mut tree = ZkTree::empty();
    let sessions = c.get("session count", |r| r.read_count(12))?;
    for _ in 0..sessions {
        let id = c.get("session id", Reader::read_i64)?;
        let timeout = c.get("session timeout", Reader::read_i32)?;
        tree.sessions.insert(id, timeout);
    }
    let acls = read_acl_cache(&mut c)?;
    loop {
        let at = c.at();
        let path = c
            .get("node path", Reader::read_opt_string)?
            .unwrap_or_default();
        if path == "/" {
            break;
        }
        let data = c.get("node data", Reader::read_buffer)?;
        let acl_id = c.get("node acl", Reader::read_i64)?;
        let stat = c.get("node stat", StatPersisted::decode)?;
        let acl = match acl_id {
            OPEN_ACL_ID => open_acl(),
            id => acls.get(&id).cloned().ok_or_else(|| {
                FormatError::new(
                    at,
                    format!("node {path:?} names ACL {id}, not in the ACL cache"),
                )
            })?,
        };
        let key = if path.is_empty() { "/" } else { path.as_str() };
        if (key == "/") != tree.is_empty() {
            return Err(FormatError::new(
                at,
                "the root must come first, and only once",
            ));
        }
        let node = ZkNode {
            data,
            acl,
            stat,
            children: Default::default(),
        };
        tree.insert(key, node)
            .map_err(|e| FormatError::new(at, e))?;
    }
    if tree.is_empty() {
        return Err(FormatError::new(c.at(), "no root node"));
    }
    check_seal(&mut c, bytes)?;
    let digest = read_digest(&mut c, bytes)?;
    tree.last_zxid = zxid;
    Ok(LoadedSnapshot { tree, digest })
}

fn read_acl_cache(c: &mut Cursor<'_>) -> Result<HashMap<i64, Arc<[Acl]>>, FormatError> {
    let count = c.get("ACL cache size", |r| r.read_count(12))?;
    let mut acls = HashMap::with_capacity(count);
    for _ in 0..count {
        let at = c.at();
        let id = c.get("ACL id", Reader::read_i64)?;
        let list = c.get("ACL list", Vec::<Acl>::decode)?;
        if acls.insert(id, Arc::from(list)).is_some() {
            return Err(FormatError::new(at, format!("ACL id {id} listed twice")));
        }
    }
    Ok(acls)
}

/// `SnapStream.checkSealIntegrity`: the Adler-32 of every byte before the seal.
fn check_seal(c: &mut Cursor<'_>, bytes: &[u8]) -> Result<(), FormatError> {
    let at = c.at();
    let expected = adler32(&bytes[..at as usize]);
    let stored = c.get("checksum", Reader::read_i64)?;
    let slash = c.get("checksum terminator", Reader::read_opt_string)?;
    if stored != expected {
        return Err(FormatError::new(
            at,
            format!("checksum mismatch (stored {stored:#x}, computed {expected:#x})"),
        ));
    }
    if slash.as_deref() != Some("/") {
        return Err(FormatError::new(at + 8, "checksum not followed by \"/\""));
    }
    Ok(())
}

/// The optional digest after the first seal; ZooKeeper takes a snapshot that ends before it
/// as one without (3.5 and older), and requires the second seal after it.
fn read_digest(c: &mut Cursor<'_>, bytes: &[u8]) -> Result<Option<SnapshotDigest>, FormatError> {
    let start = c.reader.clone();
    let parsed = (|| {
        let zxid = c.reader.read_i64()?;
        let version = c.reader.read_i32()?;
        let digest = if version < 2 {
            let text = c.reader.read_opt_string()?.unwrap_or_default();
            i64::from_str_radix(&text, 16).map_err(|_| DecodeError::BadValue {
                what: "hex digest",
                value: 0,
            })?
        } else {
            c.reader.read_i64()?
        };
        Ok::<_, DecodeError>(SnapshotDigest {
            zxid,
            version,
            digest,
        })
    })();
    match parsed {
        Ok(digest) => {
            check_seal(c, bytes)?;
            Ok(Some(digest))
        }
        Err(DecodeError::Truncated { .. }) => {
            c.reader = start;
            Ok(None)
        }
        Err(e) => Err(FormatError::jute(0, "snapshot digest", e)),
    }
}
