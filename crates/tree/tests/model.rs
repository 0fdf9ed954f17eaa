//! Random txn sequences against a plain reference model (a `BTreeMap` of paths written
//! independently of the crate), checking after every txn: the same result codes, the same
//! nodes with the same Stat, and invariants (numChildren = listed children, pzxid never moves
//! back, no child under an ephemeral); and at the end that a second tree fed the same txns has
//! the same digest. Apply must never panic, whatever the input.
mod common;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use common::open;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::records::{CreateRequest, CreateTtlRequest, DeleteRequest, SetDataRequest};
use corral_proto::response::Response;
use corral_proto::{ErrorCode, OpCode, Stat};
use corral_tree::{DataTree, TreeConfig, Txn, TxnKind, WriteOp};
use proptest::prelude::*;

const SESSIONS: [i64; 3] = [
    0x0100_0000_0000_0001,
    0x0100_0000_0000_0002,
    0x0100_0000_0000_0003,
];
const CONTAINER: i64 = i64::MIN;

#[derive(Debug, Clone)]
enum Op {
    CreateSession(usize),
    CloseSession(usize),
    Create {
        session: usize,
        path: String,
        flags: i32,
        null: bool,
    },
    Delete {
        session: usize,
        path: String,
        version: i32,
    },
    SetData {
        session: usize,
        path: String,
        version: i32,
        null: bool,
    },
    Multi {
        session: usize,
        ops: Vec<Op>,
    },
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4)
        .prop_map(|parts| format!("/{}", parts.join("/")))
}

fn simple_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, path_strategy(), 0..5i32, any::<bool>()).prop_map(
            |(session, path, flags, null)| Op::Create {
                session,
                path,
                flags,
                null
            }
        ),
        (0..3usize, path_strategy(), -1..2i32).prop_map(|(session, path, version)| Op::Delete {
            session,
            path,
            version
        }),
        (0..3usize, path_strategy(), -1..2i32, any::<bool>()).prop_map(
            |(session, path, version, null)| Op::SetData {
                session,
                path,
                version,
                null
            }
        ),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize).prop_map(Op::CreateSession),
        1 => (0..3usize).prop_map(Op::CloseSession),
        6 => simple_op(),
        2 => (0..3usize, prop::collection::vec(simple_op(), 0..5)).prop_map(|(session, ops)| Op::Multi { session, ops }),
    ]
}

// ---------------------------------------------------------------- the reference model

#[derive(Debug, Clone)]
struct MNode {
    data: Option<Vec<u8>>,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
    ctime: i64,
    mtime: i64,
    version: i32,
    creations: i32,
    owner: i64,
}

#[derive(Debug, Clone)]
struct Model {
    nodes: BTreeMap<String, MNode>,
    sessions: BTreeSet<i64>,
}

fn parent(path: &str) -> &str {
    let p = &path[..path.rfind('/').unwrap_or(0)];
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

impl Model {
    fn new() -> Model {
        let node = |_: &str| MNode {
            data: Some(Vec::new()),
            czxid: 0,
            mzxid: 0,
            pzxid: 0,
            ctime: 0,
            mtime: 0,
            version: 0,
            creations: 0,
            owner: 0,
        };
        let nodes = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]
            .into_iter()
            .map(|p| (p.to_string(), node(p)))
            .collect();
        Model {
            nodes,
            sessions: BTreeSet::new(),
        }
    }

    fn children(&self, path: &str) -> usize {
        self.nodes
            .keys()
            .filter(|k| k.as_str() != "/" && parent(k) == path)
            .count()
    }

    fn stat(&self, path: &str) -> Stat {
        let n = &self.nodes[path];
        let kids = self.children(path) as i32;
        Stat {
            czxid: n.czxid,
            mzxid: n.mzxid,
            ctime: n.ctime,
            mtime: n.mtime,
            version: n.version,
            cversion: n.creations * 2 - kids,
            aversion: if path == "/zookeeper/config" { -1 } else { 0 },
            ephemeral_owner: if n.owner == CONTAINER { 0 } else { n.owner },
            data_length: n.data.as_ref().map_or(0, Vec::len) as i32,
            num_children: kids,
            pzxid: n.pzxid,
        }
    }

    /// One simple op; `Err` leaves the model unchanged.
    fn op(&mut self, op: &Op, zxid: i64, time: i64) -> Result<Option<String>, ErrorCode> {
        match op {
            Op::Create {
                session,
                path,
                flags,
                null,
            } => {
                let session = SESSIONS[*session];
                if !self.sessions.contains(&session) {
                    return Err(ErrorCode::SessionExpired);
                }
                let parent_path = parent(path).to_string();
                let p = self.nodes.get(&parent_path).ok_or(ErrorCode::NoNode)?;
                let name = if flags & 2 != 0 && *flags != 4 {
                    format!("{path}{:010}", p.creations)
                } else {
                    path.clone()
                };
                if self.nodes.contains_key(&name) {
                    return Err(ErrorCode::NodeExists);
                }
                if p.owner != 0 && p.owner != CONTAINER {
                    return Err(ErrorCode::NoChildrenForEphemerals);
                }
                let owner = match flags {
                    4 => CONTAINER,
                    1 | 3 => session,
                    _ => 0,
                };
                let p = self.nodes.get_mut(&parent_path).ok_or(ErrorCode::NoNode)?;
                p.creations += 1;
                p.pzxid = zxid;
                let data = if *null {
                    None
                } else {
                    Some(format!("d{zxid}").into_bytes())
                };
                self.nodes.insert(
                    name.clone(),
                    MNode {
                        data,
                        czxid: zxid,
                        mzxid: zxid,
                        pzxid: zxid,
                        ctime: time,
                        mtime: time,
                        version: 0,
                        creations: 0,
                        owner,
                    },
                );
                Ok(Some(name))
            }
            Op::Delete {
                session,
                path,
                version,
            } => {
                if !self.sessions.contains(&SESSIONS[*session]) {
                    return Err(ErrorCode::SessionExpired);
                }
                if ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"].contains(&path.as_str())
                {
                    return Err(ErrorCode::BadArguments);
                }
                if !self.nodes.contains_key(parent(path)) {
                    return Err(ErrorCode::NoNode);
                }
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                if self.children(path) > 0 {
                    return Err(ErrorCode::NotEmpty);
                }
                self.remove(path, zxid);
                Ok(None)
            }
            Op::SetData {
                session,
                path,
                version,
                null,
            } => {
                if !self.sessions.contains(&SESSIONS[*session]) {
                    return Err(ErrorCode::SessionExpired);
                }
                let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                n.version += 1;
                n.mzxid = zxid;
                n.mtime = time;
                n.data = if *null {
                    None
                } else {
                    Some(format!("s{zxid}").into_bytes())
                };
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn remove(&mut self, path: &str, zxid: i64) {
        self.nodes.remove(path);
        if let Some(p) = self.nodes.get_mut(parent(path)) {
            p.pzxid = p.pzxid.max(zxid);
        }
    }

    fn close(&mut self, session: i64, zxid: i64) {
        let doomed: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.owner == session)
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            self.remove(&p, zxid);
        }
        self.sessions.remove(&session);
    }
}

// ---------------------------------------------------------------- ops → txns

fn write_op(op: &Op) -> WriteOp {
    match op {
        Op::Create {
            path, flags, null, ..
        } => WriteOp::Create {
            op: if *flags == 4 {
                OpCode::CreateContainer
            } else {
                OpCode::Create
            },
            request: CreateTtlRequest {
                path: path.clone(),
                data: (!*null).then(|| Bytes::from(b"placeholder".to_vec())),
                acl: open(),
                flags: *flags,
                ttl: -1,
            },
        },
        Op::Delete { path, version, .. } => WriteOp::Delete(DeleteRequest {
            path: path.clone(),
            version: *version,
        }),
        Op::SetData {
            path,
            version,
            null,
            ..
        } => WriteOp::SetData(SetDataRequest {
            path: path.clone(),
            data: (!*null).then(Bytes::new),
            version: *version,
        }),
        Op::Multi { ops, .. } => WriteOp::Multi(ops.iter().map(multi_op).collect()),
        Op::CreateSession(_) | Op::CloseSession(_) => unreachable!(),
    }
}

fn multi_op(op: &Op) -> MultiOp {
    match write_op(op) {
        WriteOp::Create { op, request } => MultiOp::Create {
            op,
            request: CreateRequest {
                path: request.path,
                data: request.data,
                acl: request.acl,
                flags: request.flags,
            },
        },
        WriteOp::Delete(r) => MultiOp::Delete(r),
        WriteOp::SetData(r) => MultiOp::SetData(r),
        _ => unreachable!(),
    }
}

/// Data is decided by the zxid so the model can predict it: fill it in here.
fn with_data(mut w: WriteOp, zxid: i64) -> WriteOp {
    let fill = |data: &mut Option<Bytes>, prefix: &str| {
        if data.is_some() {
            *data = Some(Bytes::from(format!("{prefix}{zxid}").into_bytes()));
        }
    };
    match &mut w {
        WriteOp::Create { request, .. } => fill(&mut request.data, "d"),
        WriteOp::SetData(r) => fill(&mut r.data, "s"),
        WriteOp::Multi(ops) => {
            for op in ops {
                match op {
                    MultiOp::Create { request, .. } => fill(&mut request.data, "d"),
                    MultiOp::SetData(r) => fill(&mut r.data, "s"),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    w
}

fn txn_of(op: &Op, zxid: i64, time: i64) -> Txn {
    let (session_id, kind) = match op {
        Op::CreateSession(s) => (
            SESSIONS[*s],
            TxnKind::CreateSession {
                timeout_ms: 10_000,
                password: [1; 16],
            },
        ),
        Op::CloseSession(s) => (SESSIONS[*s], TxnKind::CloseSession { expired: true }),
        Op::Create { session, .. }
        | Op::Delete { session, .. }
        | Op::SetData { session, .. }
        | Op::Multi { session, .. } => (
            SESSIONS[*session],
            TxnKind::Write {
                identities: common::ip().into(),
                op: with_data(write_op(op), zxid),
            },
        ),
    };
    Txn {
        session_id,
        cxid: 0,
        time_ms: time,
        kind,
    }
}

// ---------------------------------------------------------------- the check

/// Applies `op` to the model and returns the result the tree must give.
fn model_apply(model: &mut Model, op: &Op, zxid: i64, time: i64) -> Result<Response, ErrorCode> {
    match op {
        Op::CreateSession(s) => {
            if model.sessions.insert(SESSIONS[*s]) {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::BadArguments)
            }
        }
        Op::CloseSession(s) => {
            model.close(SESSIONS[*s], zxid);
            Ok(Response::Empty)
        }
        Op::Multi { ops, session } => {
            let mut scratch = model.clone();
            let mut results = Vec::new();
            let ops: Vec<Op> = ops.iter().map(|op| in_session(op, *session)).collect();
            for (i, sub) in ops.iter().enumerate() {
                match scratch.op(sub, zxid, time) {
                    Ok(created) => results.push(match (sub, created) {
                        (Op::Create { flags: 4, .. }, Some(path)) => MultiResult::Create2 {
                            path: path.clone(),
                            stat: scratch.stat(&path),
                        },
                        (Op::Create { .. }, Some(path)) => MultiResult::Create { path },
                        (Op::Delete { .. }, _) => MultiResult::Delete,
                        (_, _) => MultiResult::SetData {
                            stat: scratch.stat(sub_path(sub)),
                        },
                    }),
                    Err(code) => {
                        let mut failed: Vec<MultiResult> = (0..ops.len())
                            .map(|j| {
                                MultiResult::Error(if j < i {
                                    ErrorCode::Ok
                                } else {
                                    ErrorCode::RuntimeInconsistency
                                })
                            })
                            .collect();
                        failed[i] = MultiResult::Error(code);
                        return Ok(Response::Multi(failed));
                    }
                }
            }
            *model = scratch;
            Ok(Response::Multi(results))
        }
        _ => model.op(op, zxid, time).map(|created| match (op, created) {
            (Op::Create { flags: 4, .. }, Some(path)) => Response::Create2 {
                stat: model.stat(&path),
                path,
            },
            (Op::Create { .. }, Some(path)) => Response::Create { path },
            (Op::SetData { path, .. }, _) => Response::Stat(model.stat(path)),
            _ => Response::Empty,
        }),
    }
}

/// The ops of a multi run in the multi's session.
fn in_session(op: &Op, s: usize) -> Op {
    let mut op = op.clone();
    if let Op::Create { session, .. } | Op::Delete { session, .. } | Op::SetData { session, .. } =
        &mut op
    {
        *session = s;
    }
    op
}

fn sub_path(op: &Op) -> &str {
    match op {
        Op::Create { path, .. } | Op::Delete { path, .. } | Op::SetData { path, .. } => path,
        _ => "/",
    }
}

/// Results compared loosely where a stat in a multi result reflects later ops of the model.
fn same_result(tree: &Result<Response, ErrorCode>, model: &Result<Response, ErrorCode>) -> bool {
    match (tree, model) {
        (Ok(Response::Multi(a)), Ok(Response::Multi(b))) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| match (x, y) {
                    (
                        MultiResult::Create2 { path: p, .. },
                        MultiResult::Create2 { path: q, .. },
                    ) => p == q,
                    (MultiResult::SetData { stat: s }, MultiResult::SetData { stat: t }) => {
                        s.version == t.version
                    }
                    _ => x == y,
                })
        }
        _ => tree == model,
    }
}

fn check_tree(
    tree: &DataTree,
    model: &Model,
    pzxids: &mut BTreeMap<(String, i64), i64>,
) -> Result<(), TestCaseError> {
    let ids = common::ip();
    let mut paths = tree.paths();
    paths.sort();
    let expected: Vec<String> = model.nodes.keys().cloned().collect();
    prop_assert_eq!(&paths, &expected);
    let mut ephemerals = 0;
    for path in &paths {
        let stat = tree.stat(path).unwrap();
        prop_assert_eq!(&stat, &model.stat(path), "stat of {}", path);
        let (children, _) = tree.get_children(path, &ids).unwrap();
        prop_assert_eq!(children.len() as i32, stat.num_children);
        prop_assert!(children.windows(2).all(|w| w[0] < w[1]), "children sorted");
        if stat.ephemeral_owner != 0 {
            ephemerals += 1;
            prop_assert_eq!(stat.num_children, 0, "child under ephemeral {}", path);
        }
        let (data, _) = tree.get_data(path, &ids).unwrap();
        prop_assert_eq!(data.map(|d| d.to_vec()), model.nodes[path].data.clone());
        let key = (path.clone(), stat.czxid);
        if let Some(&before) = pzxids.get(&key) {
            prop_assert!(stat.pzxid >= before, "pzxid of {} went back", path);
        }
        pzxids.insert(key, stat.pzxid);
    }
    prop_assert_eq!(tree.ephemeral_count(), ephemerals);
    prop_assert_eq!(tree.node_count(), paths.len() + 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn tree_follows_the_model(ops in prop::collection::vec(op_strategy(), 1..60)) {
        let mut tree = DataTree::new(TreeConfig::default());
        let mut twin = DataTree::new(TreeConfig::default());
        let mut model = Model::new();
        let mut pzxids = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            let zxid = i as i64 + 1;
            let time = 1000 + zxid * 7;
            let txn = txn_of(op, zxid, time);
            let out = tree.apply(zxid, &txn);
            // The twin skips building triggers; the result and the tree must not depend on it.
            let unwatched = twin.apply_unwatched(zxid, &txn);
            prop_assert!(unwatched.triggers.is_empty());
            prop_assert_eq!(&unwatched.result, &out.result);
            let expected = model_apply(&mut model, op, zxid, time);
            prop_assert!(same_result(&out.result, &expected), "op {:?}\n tree: {:?}\nmodel: {:?}", op, out.result, expected);
            if out.result.is_err() || matches!(&out.result, Ok(Response::Multi(r)) if r.iter().any(|x| matches!(x, MultiResult::Error(_)))) {
                prop_assert!(out.triggers.is_empty());
            }
            check_tree(&tree, &model, &mut pzxids)?;
            prop_assert_eq!(tree.last_applied_zxid(), zxid);
        }
        prop_assert_eq!(tree.digest(), twin.digest());
    }

    /// Arbitrary (mostly invalid) writes never panic and leave a consistent tree.
    #[test]
    fn apply_never_panics(
        paths in prop::collection::vec("[/a-c.\\x00-\\x02]{0,6}", 1..30),
        flags in prop::collection::vec(-2..9i32, 1..30),
        ttls in prop::collection::vec(prop_oneof![Just(-1i64), Just(0i64), Just(1i64), any::<i64>()], 1..30),
    ) {
        let mut tree = DataTree::new(TreeConfig { extended_types_enabled: true, skip_acl: false });
        let session = TxnKind::CreateSession { timeout_ms: 1, password: [0; 16] };
        tree.apply(1, &Txn { session_id: 5, cxid: 0, time_ms: 0, kind: session });
        let mut zxid = 1;
        for (i, path) in paths.iter().enumerate() {
            let flag = flags[i % flags.len()];
            let ttl = ttls[i % ttls.len()];
            let ops = [
                WriteOp::Create { op: [OpCode::Create, OpCode::Create2, OpCode::CreateContainer, OpCode::CreateTtl][i % 4], request: CreateTtlRequest { path: path.clone(), data: None, acl: open(), flags: flag, ttl } },
                WriteOp::Multi(vec![
                    MultiOp::CreateTtl(CreateTtlRequest { path: path.clone(), data: None, acl: open(), flags: flag, ttl }),
                    MultiOp::Create { op: OpCode::Create, request: CreateRequest { path: format!("{path}/x"), data: None, acl: vec![], flags: flag } },
                ]),
                WriteOp::Delete(DeleteRequest { path: path.clone(), version: -1 }),
            ];
            for op in ops {
                zxid += 1;
                tree.apply(zxid, &Txn { session_id: 5, cxid: 0, time_ms: zxid, kind: TxnKind::Write { identities: Vec::new().into(), op } });
            }
            zxid += 1;
            tree.apply(zxid, &Txn { session_id: 0, cxid: 0, time_ms: i64::MAX, kind: TxnKind::DeleteContainer { path: path.clone() } });
        }
        for path in tree.paths() {
            let stat = tree.stat(&path).unwrap();
            prop_assert_eq!(tree.get_children(&path, &[]).unwrap().0.len() as i32, stat.num_children);
        }
        let _ = tree.reap_candidates(i64::MAX, 1, 100);
        zxid += 1;
        tree.apply(zxid, &Txn { session_id: 5, cxid: 0, time_ms: 0, kind: TxnKind::CloseSession { expired: false } });
        prop_assert_eq!(tree.ephemeral_count(), 0);
    }
}
