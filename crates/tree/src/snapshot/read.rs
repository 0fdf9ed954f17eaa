//! Decoding and validating a snapshot into a fresh [`DataTree`].
//!
//! Total by construction: every read is bounds-checked against what the stream holds, every
//! length against a limit, every index against its table, every arithmetic on decoded values
//! wraps or is checked; any failure is a [`SnapshotError`]. Memory grows with the bytes
//! actually read (the buffer doubles only when full), so a corrupt length cannot make the
//! loader allocate far more than the input holds; tables are pre-sized from the header counts
//! through `try_reserve`, so an absurd count fails cleanly instead of aborting.
//!
//! Fast: one streaming pass over a 256 KiB buffer with a varint fast path and one pooled block
//! per node (its name and data), then `Store::assemble`: a linking pass, one walk down from the
//! root that hashes each path byte once, and the index filled in table order. Paths are never
//! built or re-validated; names are checked only for what the index needs (non-empty, no '/',
//! UTF-8).

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;

use corral_proto::{Acl, Id};

use crate::acl::AclStore;
use crate::hash::IdMap;
use crate::node::{owner_kind, Node, NodeId, OwnerKind, NIL};
use crate::payload::Payload;
use crate::session::Sessions;
use crate::snapshot::format::{
    unzigzag, CONFIG_EXTENDED_TYPES, CONFIG_SKIP_ACL, END_MAGIC, FORMAT_VERSION, MAGIC,
    MAX_ACL_ENTRIES, MAX_ACL_STRING, MAX_DATA_LEN, MAX_NAME_LEN, NODE_HAS_DATA, NODE_HAS_OWNER,
};
use crate::snapshot::SnapshotError;
use crate::store::{AssembleError, Store};
use crate::{AuthProviders, DataTree, SessionInfo, TreeConfig};

const BUFFER: usize = 256 * 1024;

/// A refillable window over the reader.
struct Input<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl<R: Read> Input<R> {
    fn new(reader: R) -> Input<R> {
        Input {
            reader,
            buf: vec![0; BUFFER],
            pos: 0,
            end: 0,
        }
    }

    /// Makes at least `n` bytes available at `pos`.
    fn fill(&mut self, n: usize) -> Result<(), SnapshotError> {
        if self.end - self.pos >= n {
            return Ok(());
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        while self.end < n {
            if self.end == self.buf.len() {
                let grown = self.buf.len().saturating_mul(2).min(n.max(BUFFER));
                self.buf
                    .try_reserve_exact(grown - self.buf.len())
                    .map_err(|_| SnapshotError::TooLarge("read buffer"))?;
                self.buf.resize(grown, 0);
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(SnapshotError::Truncated),
                Ok(read) => self.end += read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SnapshotError::Io(e)),
            }
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], SnapshotError> {
        self.fill(n)?;
        let start = self.pos;
        self.pos += n;
        Ok(&self.buf[start..start + n])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, SnapshotError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Unsigned LEB128, at most 10 bytes, no bits beyond 64.
    fn varint(&mut self) -> Result<u64, SnapshotError> {
        const OVERFLOW: SnapshotError = SnapshotError::Corrupt("varint overflows 64 bits");
        if self.end - self.pos >= 10 {
            let bytes = &self.buf[self.pos..self.pos + 10];
            let mut value = 0u64;
            for (i, &b) in bytes.iter().enumerate() {
                if i == 9 && b > 1 {
                    return Err(OVERFLOW);
                }
                value |= u64::from(b & 0x7f) << (7 * i);
                if b & 0x80 == 0 {
                    self.pos += i + 1;
                    return Ok(value);
                }
            }
            return Err(OVERFLOW);
        }
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(OVERFLOW);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(OVERFLOW)
    }

    fn zz(&mut self) -> Result<i64, SnapshotError> {
        Ok(unzigzag(self.varint()?))
    }

    fn zz_i32(&mut self) -> Result<Option<i32>, SnapshotError> {
        Ok(i32::try_from(self.zz()?).ok())
    }

    /// A length-prefixed byte string of at most `max` bytes; `None` if longer.
    fn bytes(&mut self, max: u64) -> Result<Option<&[u8]>, SnapshotError> {
        let len = self.varint()?;
        if len > max {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }

    fn string(&mut self, max: u64, what: &'static str) -> Result<String, SnapshotError> {
        let bytes = self.bytes(max)?.ok_or(SnapshotError::Corrupt(what))?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| SnapshotError::Corrupt(what))
    }
}

/// Reserves room for `count` items, refusing counts no allocation can hold.
fn reserve<T>(v: &mut Vec<T>, count: usize, what: &'static str) -> Result<(), SnapshotError> {
    v.try_reserve_exact(count)
        .map_err(|_| SnapshotError::TooLarge(what))
}

pub(crate) fn load<R: Read>(
    reader: R,
    providers: AuthProviders,
) -> Result<DataTree, SnapshotError> {
    let mut input = Input::new(reader);
    if input.array::<8>()? != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let version = input.u32()?;
    if version != FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let config_bits = input.u8()?;
    if config_bits & !(CONFIG_EXTENDED_TYPES | CONFIG_SKIP_ACL) != 0 {
        return Err(SnapshotError::Corrupt("unknown config flags"));
    }
    let config = TreeConfig {
        extended_types_enabled: config_bits & CONFIG_EXTENDED_TYPES != 0,
        skip_acl: config_bits & CONFIG_SKIP_ACL != 0,
    };
    let zxid = input.i64()?;
    let node_count = input.u32()?;
    if node_count == 0 || node_count == NIL {
        return Err(SnapshotError::Corrupt("node count out of range"));
    }
    let lists = read_acls(&mut input, node_count)?;
    let sessions = read_sessions(&mut input)?;
    let mut nodes = read_nodes(&mut input, node_count, &config, &lists, &sessions)?;
    if input.array::<8>()? != END_MAGIC {
        return Err(SnapshotError::Corrupt("missing trailer"));
    }
    if input.u32()? != node_count {
        return Err(SnapshotError::Corrupt(
            "trailer node count differs from header",
        ));
    }

    let acls = AclStore::from_lists(lists, &nodes.acl_refs)
        .ok_or(SnapshotError::Corrupt("duplicate ACL list"))?;
    let owners = std::mem::take(&mut nodes.owners);
    let (store, path_bytes) = Store::assemble(nodes.slots, owners).map_err(|e| match e {
        AssembleError::DuplicatePath => SnapshotError::Corrupt("two nodes with the same path"),
        AssembleError::Unreachable => SnapshotError::Corrupt("a node does not reach the root"),
        AssembleError::BadParent => SnapshotError::Corrupt("bad parent reference"),
    })?;
    let mut sessions = sessions;
    let mut containers = BTreeSet::new();
    let mut ttls = BTreeSet::new();
    for (id, owner) in nodes.owner_list {
        match owner_kind(owner, config.extended_types_enabled) {
            OwnerKind::Container => {
                containers.insert(id);
            }
            OwnerKind::Ttl => {
                ttls.insert(id);
            }
            OwnerKind::Normal => sessions.add_ephemeral(owner, id),
            OwnerKind::Void => {}
        }
    }
    Ok(DataTree {
        config,
        providers,
        store,
        acls,
        sessions,
        containers,
        ttls,
        last_applied_zxid: zxid,
        data_bytes: path_bytes.saturating_add(nodes.data_bytes),
        cow: None,
        snapshot_generation: 0,
    })
}

fn read_acls<R: Read>(
    input: &mut Input<R>,
    node_count: u32,
) -> Result<Vec<Arc<[Acl]>>, SnapshotError> {
    let count = input.u32()?;
    // Every list in a snapshot is used by at least one node.
    if count > node_count {
        return Err(SnapshotError::Corrupt("more ACL lists than nodes"));
    }
    let mut lists = Vec::new();
    reserve(&mut lists, count as usize, "ACL table")?;
    for _ in 0..count {
        let entries = input.varint()?;
        if entries > MAX_ACL_ENTRIES {
            return Err(SnapshotError::Corrupt("ACL list too long"));
        }
        let mut list = Vec::with_capacity(entries as usize);
        for _ in 0..entries {
            let perms = input
                .zz_i32()?
                .ok_or(SnapshotError::Corrupt("ACL perms out of range"))?;
            let scheme = input.string(MAX_ACL_STRING, "bad ACL scheme")?;
            let id = input.string(MAX_ACL_STRING, "bad ACL id")?;
            list.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        lists.push(Arc::from(list));
    }
    Ok(lists)
}

fn read_sessions<R: Read>(input: &mut Input<R>) -> Result<Sessions, SnapshotError> {
    let count = input.u32()?;
    let mut sessions = Sessions::default();
    let mut previous = None;
    for _ in 0..count {
        let id = input.i64()?;
        let timeout_ms = input.i32()?;
        let password = input.array::<16>()?;
        if previous.is_some_and(|p| p >= id) {
            return Err(SnapshotError::Corrupt(
                "sessions not in increasing id order",
            ));
        }
        previous = Some(id);
        sessions.add(
            id,
            SessionInfo {
                timeout_ms,
                password,
            },
        );
    }
    Ok(sessions)
}

struct Nodes {
    slots: Vec<Option<Node>>,
    owners: IdMap<i64>,
    owner_list: Vec<(NodeId, i64)>,
    acl_refs: Vec<u64>,
    data_bytes: u64,
}

fn read_nodes<R: Read>(
    input: &mut Input<R>,
    node_count: u32,
    config: &TreeConfig,
    lists: &[Arc<[Acl]>],
    sessions: &Sessions,
) -> Result<Nodes, SnapshotError> {
    let mut out = Nodes {
        slots: Vec::new(),
        owners: IdMap::default(),
        owner_list: Vec::new(),
        acl_refs: vec![0; lists.len()],
        data_bytes: 0,
    };
    reserve(&mut out.slots, node_count as usize, "node table")?;
    let mut name = Vec::new();
    for index in 0..node_count {
        let bad = |what| SnapshotError::CorruptNode { index, what };
        let flags = input.u8()?;
        if flags & !(NODE_HAS_DATA | NODE_HAS_OWNER) != 0 {
            return Err(bad("unknown flags"));
        }
        let parent = u32::try_from(input.varint()?).map_err(|_| bad("parent out of range"))?;
        let parent = if index == 0 {
            if parent != 0 {
                return Err(bad("the root has a parent"));
            }
            NIL
        } else if parent >= node_count || parent == index {
            return Err(bad("parent out of range"));
        } else {
            parent
        };
        name.clear();
        name.extend_from_slice(input.bytes(MAX_NAME_LEN)?.ok_or(bad("name too long"))?);
        if (index == 0) != name.is_empty() {
            return Err(bad("the root must be first and the only unnamed node"));
        }
        if name.contains(&b'/') || std::str::from_utf8(&name).is_err() {
            return Err(bad("invalid name"));
        }
        let payload = if flags & NODE_HAS_DATA != 0 {
            let data = input.bytes(MAX_DATA_LEN)?.ok_or(bad("data too long"))?;
            out.data_bytes += data.len() as u64;
            Payload::new(&name, Some(data))
        } else {
            Payload::new(&name, None)
        };
        let payload = payload.ok_or(bad("name or data too long"))?;
        let czxid = input.zz()?;
        let mzxid = czxid.wrapping_add(input.zz()?);
        let pzxid = czxid.wrapping_add(input.zz()?);
        let ctime = input.zz()?;
        let mtime = ctime.wrapping_add(input.zz()?);
        let mut versions = [0i32; 3];
        for v in &mut versions {
            *v = input.zz_i32()?.ok_or(bad("version out of range"))?;
        }
        let acl = usize::try_from(input.varint()?).unwrap_or(usize::MAX);
        let refs = out.acl_refs.get_mut(acl).ok_or(bad("unknown ACL"))?;
        *refs += 1;
        if flags & NODE_HAS_OWNER != 0 {
            let owner = input.i64()?;
            if owner == 0 || index == 0 {
                return Err(bad("invalid owner"));
            }
            if owner_kind(owner, config.extended_types_enabled) == OwnerKind::Normal
                && !sessions.contains(owner)
            {
                return Err(bad("ephemeral of an unknown session"));
            }
            out.owners.insert(index, owner);
            out.owner_list.push((index, owner));
        }
        let node = Node::loaded(
            payload,
            parent,
            acl as u32,
            [czxid, mzxid, pzxid],
            [ctime, mtime],
            versions,
        )
        .ok_or(bad("stat fields do not fit"))?;
        out.slots.push(Some(node));
    }
    Ok(out)
}
