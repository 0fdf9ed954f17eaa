//! Normal forms of replies and wire events, so that the two servers' answers can be compared
//! with `==`, field by field.
//!
//! What is left out, and why (none of it is a version difference; those are in `versions.rs`):
//! - Stat `czxid`, `mzxid`, `pzxid`, `ctime`, `mtime`: zxids and clocks differ between servers.
//!   What they say about the node's history is kept: whether `mzxid != czxid` (modified since
//!   created) and whether `pzxid != czxid` (children changed since created).
//! - `ephemeralOwner`: session ids differ; it becomes "none", "session #i of this sequence" or
//!   "another session".
//! - Reply header zxids: they are the server's last zxid, which other sequences move.
//! - Orders ZooKeeper leaves unspecified (hash-set iteration): getChildren and multiRead
//!   children, getEphemerals paths and whoAmI identities are compared sorted; so is an ACL that
//!   `auth` expanded over two or more identities (ZooKeeper expands in the hash order of the
//!   connection's id set), see `Model::fixup`.

use bytes::Bytes;
use corral_client::{ClientError, Reply, WireEvent};
use corral_proto::multi::MultiResult;
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, Stat};

/// Who owns an ephemeral node, in terms of the sequence's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    None,
    Session(usize),
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NStat {
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub data_length: i32,
    pub num_children: i32,
    pub owner: Owner,
    pub modified: bool,
    pub children_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NMulti {
    Create { path: String },
    Create2 { path: String, stat: NStat },
    Delete,
    SetData { stat: NStat },
    Check,
    Children(Vec<String>),
    Data { data: Option<Bytes>, stat: NStat },
    Error(ErrorCode),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NBody {
    Empty,
    Create { path: String },
    Create2 { path: String, stat: NStat },
    Stat(NStat),
    Data { data: Option<Bytes>, stat: NStat },
    Acl { acl: Vec<Acl>, stat: NStat },
    Children(Vec<String>),
    Children2 { children: Vec<String>, stat: NStat },
    Sync { path: String },
    Multi(Vec<NMulti>),
    Number(i32),
    Paths(Vec<String>),
    WhoAmI(Vec<(String, String)>),
    AddWatch,
    Other(String),
}

/// A reply in normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NReply {
    Ok(NBody),
    Err(ErrorCode),
    /// No reply: the connection ended (the server closed it, e.g. after UNIMPLEMENTED).
    Lost,
    /// A client-side failure other than a lost connection (a reply that does not decode, ...).
    ClientFailure(String),
}

/// Session ids of the sequence's sessions on one server, to name ephemeral owners.
#[derive(Debug, Clone, Default)]
pub struct Sessions(pub Vec<i64>);

impl Sessions {
    fn owner(&self, id: i64) -> Owner {
        if id == 0 {
            return Owner::None;
        }
        match self.0.iter().position(|s| *s == id) {
            Some(i) => Owner::Session(i),
            None => Owner::Other,
        }
    }
}

pub fn stat(s: &Stat, sessions: &Sessions) -> NStat {
    NStat {
        version: s.version,
        cversion: s.cversion,
        aversion: s.aversion,
        data_length: s.data_length,
        num_children: s.num_children,
        owner: sessions.owner(s.ephemeral_owner),
        modified: s.mzxid != s.czxid,
        children_changed: s.pzxid != s.czxid,
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn multi(result: &MultiResult, sessions: &Sessions) -> NMulti {
    match result {
        MultiResult::Create { path } => NMulti::Create { path: path.clone() },
        MultiResult::Create2 { path, stat: s } => NMulti::Create2 {
            path: path.clone(),
            stat: stat(s, sessions),
        },
        MultiResult::Delete => NMulti::Delete,
        MultiResult::SetData { stat: s } => NMulti::SetData {
            stat: stat(s, sessions),
        },
        MultiResult::Check => NMulti::Check,
        MultiResult::GetChildren { children } => NMulti::Children(sorted(children.clone())),
        MultiResult::GetData { data, stat: s } => NMulti::Data {
            data: data.clone(),
            stat: stat(s, sessions),
        },
        MultiResult::Error(code) => NMulti::Error(*code),
    }
}

pub fn body(response: &Response, sessions: &Sessions) -> NBody {
    match response {
        Response::Empty => NBody::Empty,
        Response::Create { path } => NBody::Create { path: path.clone() },
        Response::Create2 { path, stat: s } => NBody::Create2 {
            path: path.clone(),
            stat: stat(s, sessions),
        },
        Response::Stat(s) => NBody::Stat(stat(s, sessions)),
        Response::GetData { data, stat: s } => NBody::Data {
            data: data.clone(),
            stat: stat(s, sessions),
        },
        Response::GetAcl { acl, stat: s } => NBody::Acl {
            acl: acl.clone(),
            stat: stat(s, sessions),
        },
        Response::GetChildren { children } => NBody::Children(sorted(children.clone())),
        Response::GetChildren2 { children, stat: s } => NBody::Children2 {
            children: sorted(children.clone()),
            stat: stat(s, sessions),
        },
        Response::Sync { path } => NBody::Sync { path: path.clone() },
        Response::Multi(results) => {
            NBody::Multi(results.iter().map(|r| multi(r, sessions)).collect())
        }
        Response::Number(n) => NBody::Number(*n),
        Response::Paths(paths) => NBody::Paths(sorted(paths.clone())),
        Response::WhoAmI(infos) => {
            let mut v: Vec<(String, String)> = infos
                .iter()
                .map(|i| (i.auth_scheme.clone(), i.user.clone()))
                .collect();
            v.sort();
            NBody::WhoAmI(v)
        }
        Response::AddWatch => NBody::AddWatch,
        other => NBody::Other(format!("{other:?}")),
    }
}

pub fn reply(outcome: &Result<Reply, ClientError>, sessions: &Sessions) -> NReply {
    match outcome {
        Ok(reply) => match &reply.result {
            Ok(response) => NReply::Ok(body(response, sessions)),
            Err(code) => NReply::Err(*code),
        },
        Err(err) if is_lost(err) => NReply::Lost,
        Err(err) => NReply::ClientFailure(err.to_string()),
    }
}

pub fn is_lost(err: &ClientError) -> bool {
    matches!(
        err,
        ClientError::ConnectionClosed | ClientError::Io(_) | ClientError::Closed
    )
}

/// Sorts an ACL for comparison (see the module docs for when).
pub fn sort_acl(acl: &mut [Acl]) {
    acl.sort_by(|a, b| (a.perms, &a.id.scheme, &a.id.id).cmp(&(b.perms, &b.id.scheme, &b.id.id)));
}

/// One received frame in normal form. Event zxids are kept raw: they are compared through
/// `versions::notification_zxid_matches`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NWire {
    Reply { xid: i32, err: i32 },
    Event { event_type: i32, path: String },
}

/// The wire log without ping replies (the client's own keep-alive and the test's barriers),
/// each entry with its raw zxid (meaningful for events only).
pub fn wire(log: Vec<WireEvent>) -> Vec<(NWire, i64)> {
    log.into_iter()
        .filter_map(|event| match event {
            WireEvent::Reply { xid: -2, .. } => None,
            WireEvent::Reply { xid, zxid, err } => Some((NWire::Reply { xid, err }, zxid)),
            WireEvent::Notification(n) => Some((
                NWire::Event {
                    event_type: n.event_type,
                    path: n.path,
                },
                n.zxid,
            )),
        })
        .collect()
}
