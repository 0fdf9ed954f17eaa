//! A tiny in-memory ZooKeeper-protocol server: enough of create / delete / setData / getData /
//! exists / getChildren / multi / ping / closeSession to exercise the benchmark's plumbing. Not
//! a reference for semantics (no ACLs, watches, ephemerals or sequence numbers).
//!
//! [`FakeZk::replica`] serves the same tree on another port (an "ensemble" of fakes), and
//! [`FakeZk::stopper`] gives a function that stops a fake as a crash would: the listener and
//! every connection close at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use corral_proto::connect::{ConnectRequest, ConnectResponse};
use corral_proto::consts::xid;
use corral_proto::frame::{put_frame, split_frame};
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::request::Request;
use corral_proto::response::{encode_reply, Response};
use corral_proto::{ErrorCode, Stat};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Default)]
struct Node {
    data: Option<Bytes>,
    stat: Stat,
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: BTreeMap<String, Node>,
    zxid: i64,
}

fn parent_of(path: &str) -> Option<&str> {
    let cut = path.rfind('/')?;
    Some(if cut == 0 { "/" } else { &path[..cut] })
}

impl Tree {
    fn new() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_owned(), Node::default());
        Tree { nodes, zxid: 0 }
    }

    fn node(&self, path: &str) -> Result<&Node, ErrorCode> {
        self.nodes.get(path).ok_or(ErrorCode::NoNode)
    }

    fn create(&mut self, path: &str, data: Option<Bytes>) -> Result<Stat, ErrorCode> {
        if path == "/" || !path.starts_with('/') || path.ends_with('/') {
            return Err(ErrorCode::BadArguments);
        }
        let parent = parent_of(path).ok_or(ErrorCode::BadArguments)?.to_owned();
        self.node(&parent)?;
        if self.nodes.contains_key(path) {
            return Err(ErrorCode::NodeExists);
        }
        let zxid = self.zxid + 1;
        let stat = Stat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            data_length: data.as_ref().map_or(0, |d| d.len() as i32),
            ..Stat::default()
        };
        self.nodes.insert(
            path.to_owned(),
            Node {
                data,
                stat: stat.clone(),
            },
        );
        let parent = self.nodes.get_mut(&parent).ok_or(ErrorCode::NoNode)?;
        parent.stat.num_children += 1;
        parent.stat.cversion += 1;
        parent.stat.pzxid = zxid;
        Ok(stat)
    }

    fn delete(&mut self, path: &str, version: i32) -> Result<(), ErrorCode> {
        let node = self.node(path)?;
        if version != -1 && version != node.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        if node.stat.num_children > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.nodes.remove(path);
        let parent = parent_of(path).ok_or(ErrorCode::BadArguments)?;
        let parent = self.nodes.get_mut(parent).ok_or(ErrorCode::NoNode)?;
        parent.stat.num_children -= 1;
        parent.stat.cversion += 1;
        Ok(())
    }

    fn set(&mut self, path: &str, data: Option<Bytes>, version: i32) -> Result<Stat, ErrorCode> {
        let zxid = self.zxid + 1;
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        if version != -1 && version != node.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        node.stat.data_length = data.as_ref().map_or(0, |d| d.len() as i32);
        node.stat.version += 1;
        node.stat.mzxid = zxid;
        node.data = data;
        Ok(node.stat.clone())
    }

    fn children(&self, path: &str) -> Result<(Vec<String>, Stat), ErrorCode> {
        let node = self.node(path)?;
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        let children = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| !p[prefix.len()..].contains('/') && p.len() > prefix.len())
            .map(|(p, _)| p[prefix.len()..].to_owned())
            .collect();
        Ok((children, node.stat.clone()))
    }

    fn multi_op(&mut self, op: &MultiOp) -> Result<MultiResult, ErrorCode> {
        Ok(match op {
            MultiOp::Create { request, .. } => {
                self.create(&request.path, request.data.clone())?;
                MultiResult::Create {
                    path: request.path.clone(),
                }
            }
            MultiOp::Delete(r) => {
                self.delete(&r.path, r.version)?;
                MultiResult::Delete
            }
            MultiOp::SetData(r) => MultiResult::SetData {
                stat: self.set(&r.path, r.data.clone(), r.version)?,
            },
            MultiOp::Check(r) => {
                let node = self.node(&r.path)?;
                if r.version != -1 && r.version != node.stat.version {
                    return Err(ErrorCode::BadVersion);
                }
                MultiResult::Check
            }
            _ => return Err(ErrorCode::Unimplemented),
        })
    }

    fn multi(&mut self, ops: &[MultiOp]) -> Vec<MultiResult> {
        let mut scratch = self.clone();
        let mut results = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match scratch.multi_op(op) {
                Ok(result) => results.push(result),
                Err(code) => {
                    let mut failed = vec![MultiResult::Error(ErrorCode::Ok); i];
                    failed.push(MultiResult::Error(code));
                    failed.resize(
                        ops.len(),
                        MultiResult::Error(ErrorCode::RuntimeInconsistency),
                    );
                    return failed;
                }
            }
        }
        *self = scratch;
        self.zxid += 1;
        results
    }

    fn apply(&mut self, request: &Request) -> Result<Response, ErrorCode> {
        let write = request.is_write();
        let result = match request {
            Request::Create(r) => self
                .create(&r.path, r.data.clone())
                .map(|_| Response::Create {
                    path: r.path.clone(),
                }),
            Request::Create2(r) => {
                self.create(&r.path, r.data.clone())
                    .map(|stat| Response::Create2 {
                        path: r.path.clone(),
                        stat,
                    })
            }
            Request::Delete(r) => self.delete(&r.path, r.version).map(|()| Response::Empty),
            Request::SetData(r) => self
                .set(&r.path, r.data.clone(), r.version)
                .map(Response::Stat),
            Request::GetData(r) => self.node(&r.path).map(|n| Response::GetData {
                data: n.data.clone(),
                stat: n.stat.clone(),
            }),
            Request::Exists(r) => self.node(&r.path).map(|n| Response::Stat(n.stat.clone())),
            Request::GetChildren(r) => self
                .children(&r.path)
                .map(|(children, _)| Response::GetChildren { children }),
            Request::GetChildren2(r) => self
                .children(&r.path)
                .map(|(children, stat)| Response::GetChildren2 { children, stat }),
            Request::Multi(ops) => return Ok(Response::Multi(self.multi(ops))),
            Request::Ping | Request::CloseSession => Ok(Response::Empty),
            _ => Err(ErrorCode::Unimplemented),
        };
        if write && !matches!(request, Request::CloseSession) {
            // Failed writes consume a zxid too, as in ZooKeeper.
            self.zxid += 1;
        }
        result
    }
}

type Tasks = Arc<Mutex<Vec<tokio::task::AbortHandle>>>;

static NEXT_SESSION_ID: AtomicI64 = AtomicI64::new(0x0100_0000_0000_0001);

/// A running fake server on 127.0.0.1.
pub struct FakeZk {
    pub addr: String,
    tree: Arc<Mutex<Tree>>,
    /// The accept loop and every connection's task.
    tasks: Tasks,
    connections: Arc<AtomicUsize>,
}

impl Drop for FakeZk {
    fn drop(&mut self) {
        for task in self.tasks.lock().iter() {
            task.abort();
        }
    }
}

impl FakeZk {
    pub async fn start() -> FakeZk {
        FakeZk::serving(Arc::new(Mutex::new(Tree::new()))).await
    }

    /// Another server of the same tree.
    #[allow(dead_code)]
    pub async fn replica(&self) -> FakeZk {
        FakeZk::serving(self.tree.clone()).await
    }

    async fn serving(tree: Arc<Mutex<Tree>>) -> FakeZk {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = tree.clone();
        let tasks: Tasks = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let (conn_tasks, counter) = (tasks.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Unique across fakes: a session never re-attaches, even to a replica.
                let session_id = NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed);
                counter.fetch_add(1, Ordering::Relaxed);
                let task = tokio::spawn(serve(stream, shared.clone(), session_id));
                conn_tasks.lock().push(task.abort_handle());
            }
        });
        tasks.lock().push(accept.abort_handle());
        FakeZk {
            addr,
            tree,
            tasks,
            connections,
        }
    }

    /// Connections accepted so far.
    #[allow(dead_code)]
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// A function that stops this server: no more accepts, every connection closed.
    #[allow(dead_code)]
    pub fn stopper(&self) -> impl FnOnce() + Send + 'static {
        let tasks = self.tasks.clone();
        move || {
            for task in tasks.lock().iter() {
                task.abort();
            }
        }
    }

    /// Paths of every node but the root.
    pub fn paths(&self) -> Vec<String> {
        self.tree
            .lock()
            .nodes
            .keys()
            .filter(|p| *p != "/")
            .cloned()
            .collect()
    }
}

async fn serve(mut stream: TcpStream, tree: Arc<Mutex<Tree>>, session_id: i64) {
    let mut buffer = BytesMut::new();
    let mut handshaken = false;
    loop {
        let frame = match split_frame(&mut buffer, 1 << 20) {
            Ok(Some(frame)) => frame,
            Ok(None) => match stream.read_buf(&mut buffer).await {
                Ok(n) if n > 0 => continue,
                _ => return,
            },
            Err(_) => return,
        };
        let mut out = BytesMut::new();
        if !handshaken {
            let Ok(request) = ConnectRequest::decode(&frame) else {
                return;
            };
            let response = ConnectResponse {
                protocol_version: 0,
                timeout_ms: request.timeout_ms,
                session_id,
                password: Some(Bytes::from_static(&[1; 16])),
                read_only: request.read_only.map(|_| false),
            };
            response.encode(&mut out);
            handshaken = true;
            let mut framed = BytesMut::new();
            put_frame(&mut framed, &out);
            if stream.write_all(&framed).await.is_err() {
                return;
            }
            continue;
        }
        let Ok(request) = Request::decode_frame(&frame) else {
            return;
        };
        let (result, zxid) = {
            let mut tree = tree.lock();
            let result = tree.apply(&request.request);
            (result, tree.zxid)
        };
        let reply_xid = if request.request == Request::Ping {
            xid::PING
        } else {
            request.xid
        };
        encode_reply(reply_xid, zxid, &result, &mut out);
        let mut framed = BytesMut::new();
        put_frame(&mut framed, &out);
        if stream.write_all(&framed).await.is_err() || request.request == Request::CloseSession {
            return;
        }
    }
}
