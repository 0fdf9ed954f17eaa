//! Helpers for the hand-written tests: a few sessions held on both servers, request builders,
//! and comparisons that panic with both answers when the servers disagree.

use bytes::Bytes;
use corral_proto::multi::MultiOp;
use corral_proto::records::{
    AddWatchRequest, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest,
    PathRequest, PathWatchRequest, SetAclRequest, SetDataRequest, WatchesRequest,
};
use corral_proto::request::Request;
use corral_proto::{Acl, OpCode};

use crate::compare::{self, NReply, NWire, Sessions};
use crate::model::open_acl;
use crate::pair::{self, Outcome, Pair};
use crate::servers::Targets;
use crate::versions;

/// Sessions of one test, each held on both servers.
pub struct Duo {
    pub targets: Targets,
    pub pairs: Vec<Pair>,
}

impl Duo {
    /// `sessions` new sessions on both servers.
    pub async fn new(targets: Targets, sessions: usize) -> Duo {
        let mut pairs = Vec::with_capacity(sessions);
        for _ in 0..sessions {
            pairs.push(Pair::connect(&targets, pair::options(30_000, true)).await);
        }
        Duo { targets, pairs }
    }

    pub fn sessions(&self) -> (Sessions, Sessions) {
        (
            Sessions(self.pairs.iter().map(|p| p.zk.session_id()).collect()),
            Sessions(self.pairs.iter().map(|p| p.corral.session_id()).collect()),
        )
    }

    pub fn normal(&self, zk: &Outcome, corral: &Outcome) -> (NReply, NReply) {
        let (zs, cs) = self.sessions();
        (compare::reply(zk, &zs), compare::reply(corral, &cs))
    }

    /// Sends `request` on session `s` of both servers and asserts the replies agree; returns
    /// the normal form.
    pub async fn same(&self, s: usize, label: &str, request: Request) -> NReply {
        let (zk, corral) = self.pairs[s].request(request.clone()).await;
        self.assert_same(label, &request, &zk, &corral)
    }

    pub fn assert_same(
        &self,
        label: &str,
        request: &Request,
        zk: &Outcome,
        corral: &Outcome,
    ) -> NReply {
        let (nz, nc) = self.normal(zk, corral);
        assert_eq!(
            nz, nc,
            "{label}: the servers disagree on {request:?}\napache 3.8: {zk:?}\ncorral:     {corral:?}"
        );
        nz
    }

    /// Pings session `s` on both servers and compares everything it received since the last
    /// call (replies and events, in order); returns the events.
    pub async fn same_frames(&self, s: usize, label: &str, replayed: bool) -> Vec<NWire> {
        let pair = &self.pairs[s];
        let (zk_ping, corral_ping) = pair.barrier().await;
        assert!(
            zk_ping.is_ok() && corral_ping.is_ok(),
            "{label}: barrier ping failed: {zk_ping:?} / {corral_ping:?}"
        );
        let (zk, corral) = pair.take_wire();
        let (zk, corral) = (compare::wire(zk), compare::wire(corral));
        let same = zk.len() == corral.len()
            && zk.iter().zip(&corral).all(|((ze, zz), (ce, cz))| {
                ze == ce
                    && (!matches!(ze, NWire::Event { .. })
                        || versions::notification_zxid_matches(*zz, *cz, replayed))
            });
        assert!(
            same,
            "{label}: session #{s} received different frames\napache 3.8: {zk:?}\ncorral:     {corral:?}"
        );
        zk.into_iter()
            .filter(|(e, _)| matches!(e, NWire::Event { .. }))
            .map(|(e, _)| e)
            .collect()
    }

    /// Creates `path` (persistent, open ACL) on both, asserting success on both.
    pub async fn mkdir(&self, path: &str) {
        let reply = self
            .same(0, "mkdir", create(path, b"", open_acl(), 0))
            .await;
        assert!(matches!(reply, NReply::Ok(_)), "mkdir {path}: {reply:?}");
    }

    pub async fn close(self) {
        for pair in &self.pairs {
            let _ = pair.close().await;
        }
    }
}

pub fn event(event_type: i32, path: &str) -> NWire {
    NWire::Event {
        event_type,
        path: path.to_owned(),
    }
}

pub fn create(path: &str, data: &[u8], acl: Vec<Acl>, flags: i32) -> Request {
    Request::Create(create_record(path, data, acl, flags))
}

pub fn create2(path: &str, data: &[u8], acl: Vec<Acl>, flags: i32) -> Request {
    Request::Create2(create_record(path, data, acl, flags))
}

pub fn create_record(path: &str, data: &[u8], acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.to_owned(),
        data: Some(Bytes::copy_from_slice(data)),
        acl,
        flags,
    }
}

pub fn create_ttl(path: &str, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(CreateTtlRequest {
        path: path.to_owned(),
        data: Some(Bytes::new()),
        acl: open_acl(),
        flags,
        ttl,
    })
}

pub fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.to_owned(),
        version,
    })
}

pub fn set_data(path: &str, data: &[u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.to_owned(),
        data: Some(Bytes::copy_from_slice(data)),
        version,
    })
}

pub fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.to_owned(),
        acl,
        version,
    })
}

fn path_watch(path: &str, watch: bool) -> PathWatchRequest {
    PathWatchRequest {
        path: path.to_owned(),
        watch,
    }
}

fn path_only(path: &str) -> PathRequest {
    PathRequest {
        path: path.to_owned(),
    }
}

pub fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(path_watch(path, watch))
}

pub fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(path_watch(path, watch))
}

pub fn get_children(path: &str, watch: bool) -> Request {
    Request::GetChildren(path_watch(path, watch))
}

pub fn get_children2(path: &str, watch: bool) -> Request {
    Request::GetChildren2(path_watch(path, watch))
}

pub fn get_acl(path: &str) -> Request {
    Request::GetAcl(path_only(path))
}

pub fn sync(path: &str) -> Request {
    Request::Sync(path_only(path))
}

pub fn all_children(path: &str) -> Request {
    Request::GetAllChildrenNumber(path_only(path))
}

pub fn ephemerals(prefix: &str) -> Request {
    Request::GetEphemerals(path_only(prefix))
}

pub fn add_watch(path: &str, mode: i32) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.to_owned(),
        mode,
    })
}

pub fn check_watches(path: &str, kind: i32) -> Request {
    Request::CheckWatches(WatchesRequest {
        path: path.to_owned(),
        watcher_type: kind,
    })
}

pub fn remove_watches(path: &str, kind: i32) -> Request {
    Request::RemoveWatches(WatchesRequest {
        path: path.to_owned(),
        watcher_type: kind,
    })
}

pub fn multi_create(op: OpCode, path: &str, flags: i32) -> MultiOp {
    MultiOp::Create {
        op,
        request: create_record(path, b"", open_acl(), flags),
    }
}

pub fn multi_check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.to_owned(),
        version,
    })
}

pub fn multi_delete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.to_owned(),
        version,
    })
}

pub fn multi_get_data(path: &str) -> MultiOp {
    MultiOp::GetData(path_watch(path, false))
}

/// A request body (header included) built by hand.
pub fn raw_body(xid: i32, op_type: i32, record: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + record.len());
    body.extend_from_slice(&xid.to_be_bytes());
    body.extend_from_slice(&op_type.to_be_bytes());
    body.extend_from_slice(record);
    body
}

pub fn jute_string(text: &str) -> Vec<u8> {
    let mut out = (text.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}
