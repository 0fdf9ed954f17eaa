//! The request pipeline of one connection. Requests are taken strictly in arrival order:
//!
//! - a write becomes a txn submitted to the log and is answered by the state machine when it
//!   applies; several writes may be in the log at once (pipelining);
//! - anything else (reads, pings, watch and auth requests) first waits until every earlier write
//!   of this connection has been answered, then runs against the local tree under its read lock
//!   and queues its reply before releasing the lock.
//!
//! So replies leave in request order, and a read sees every earlier write of its session.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use corral_proto::consts::{add_watch_mode, event_type, watcher_type, xid};
use corral_proto::multi::MultiOp;
use corral_proto::records::{CreateRequest, CreateTtlRequest, SetWatches2};
use corral_proto::request::{Request, RequestDecodeError};
use corral_proto::response::Response;
use corral_proto::{ErrorCode, Id, OpCode};
use corral_tree::{DataTree, Txn, TxnKind, WriteOp};

use super::handle::ConnectionHandle;
use super::Closed;
use crate::auth;
use crate::core::wall_clock_ms;
use crate::server::Context;
use crate::watches::{StandardWatch, WatchRegistry};

/// Writes one connection may have in the log before the server stops reading from it.
pub const OUTSTANDING_WRITES_PER_CONNECTION_MAX: usize = 1000;

pub struct Pipeline {
    handle: Arc<ConnectionHandle>,
    ctx: Context,
}

/// What to do with a decoded request.
enum Route {
    Write(WriteOp),
    CloseSession,
    Local(Request),
    /// Answer with an error, then close (unknown opcode, bare check).
    Refuse(ErrorCode),
}

impl Pipeline {
    pub fn new(handle: Arc<ConnectionHandle>, ctx: Context) -> Pipeline {
        Pipeline { handle, ctx }
    }

    pub async fn handle_frame(&mut self, frame: Bytes) -> Result<(), Closed> {
        let started = Instant::now();
        self.handle
            .stats
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        self.ctx
            .core
            .stats
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        let session_id = self.handle.session_id();
        if !self.ctx.core.sessions.touch(session_id) {
            return Err(Closed::Server("session expired or closing"));
        }
        let decoded = match Request::decode_frame(&frame) {
            Ok(decoded) => decoded,
            Err(RequestDecodeError::Header(_)) => return Err(Closed::Server("short request")),
            Err(RequestDecodeError::Unimplemented { xid, .. }) => {
                return self.refuse(xid, ErrorCode::Unimplemented).await;
            }
            Err(RequestDecodeError::Marshalling { xid, .. }) => {
                self.handle.wait_writes_answered().await;
                let zxid = self.ctx.core.last_zxid();
                self.handle
                    .send_reply(xid, zxid, &Err(ErrorCode::MarshallingError));
                return Ok(());
            }
        };
        let xid = decoded.xid;
        self.handle
            .stats
            .last_cxid
            .store(i64::from(xid), Ordering::Relaxed);
        *self.handle.stats.last_op.lock() = decoded.op.name();
        match route(decoded.request) {
            Route::Write(op) => self.submit_write(xid, op).await?,
            Route::CloseSession => {
                self.submit(xid, TxnKind::CloseSession { expired: false })
                    .await?
            }
            Route::Refuse(code) => return self.refuse(xid, code).await,
            Route::Local(request) => {
                self.handle.wait_writes_answered().await;
                if self.handle.is_closed() {
                    return Err(Closed::Server("connection closed"));
                }
                self.run_local(xid, request)?;
            }
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        self.handle.stats.record_latency(latency_ms);
        self.ctx.core.stats.record_latency(latency_ms);
        Ok(())
    }

    async fn refuse(&mut self, xid: i32, code: ErrorCode) -> Result<(), Closed> {
        self.handle.wait_writes_answered().await;
        let zxid = self.ctx.core.last_zxid();
        self.handle.send_reply(xid, zxid, &Err(code));
        Err(Closed::Server("request refused"))
    }

    async fn submit_write(&mut self, xid: i32, op: WriteOp) -> Result<(), Closed> {
        let identities = self.handle.identities();
        self.submit(xid, TxnKind::Write { identities, op }).await
    }

    async fn submit(&mut self, xid: i32, kind: TxnKind) -> Result<(), Closed> {
        self.handle
            .wait_outstanding_at_most(OUTSTANDING_WRITES_PER_CONNECTION_MAX - 1)
            .await;
        let txn = Txn {
            session_id: self.handle.session_id(),
            cxid: xid,
            time_ms: wall_clock_ms(),
            kind,
        };
        self.ctx.submit(&self.handle, txn).await
    }

    /// Runs a request that does not change replicated state, and queues its reply while the
    /// tree's read lock is held (see [`crate::core`] for why).
    fn run_local(&mut self, xid: i32, request: Request) -> Result<(), Closed> {
        if let Request::Auth(packet) = &request {
            return self.authenticate(xid, &packet.scheme, packet.auth.as_deref().unwrap_or(&[]));
        }
        let core = &self.ctx.core;
        let tree = core.tree.read();
        // ZooKeeper answers SASL packets from its network thread with zxid 0, as auth.
        let zxid = if matches!(request, Request::Sasl(_)) {
            0
        } else {
            core.last_zxid()
        };
        let conn = self.handle.id;
        let reply_xid = if matches!(request, Request::Ping) {
            xid::PING
        } else {
            xid
        };
        // The identities are borrowed, not copied: this runs for every read.
        let result = self.handle.with_identities(|identities| {
            let mut watches = core.watches.lock();
            let mut local = Local {
                tree: &tree,
                watches: &mut watches,
                conn,
                identities,
                session_id: self.handle.session_id(),
                handle: &self.handle,
                reconfig_enabled: core.config.reconfig_enabled,
            };
            local.run(request)
        });
        self.handle.send_reply(reply_xid, zxid, &result);
        drop(tree);
        Ok(())
    }

    /// The reply echoes the request's xid, as ZooKeeper's `processPacket` does: the Java
    /// client sends auth with xid -4, but others (the `zookeeper-client` crate) use an
    /// ordinary xid and match the reply by it.
    fn authenticate(&mut self, xid: i32, scheme: &str, auth_bytes: &[u8]) -> Result<(), Closed> {
        let config = &self.ctx.core.config;
        let peer_ip = self.handle.peer.ip().to_string();
        let granted = auth::authenticate(
            scheme,
            auth_bytes,
            &peer_ip,
            config.super_digest.as_deref(),
            config.digest_auth_enabled,
        );
        match granted {
            Some(ids) => {
                for id in ids {
                    self.handle.add_identity(id);
                }
                self.handle.send_reply(xid, 0, &Ok(Response::Empty));
                Ok(())
            }
            None => {
                self.ctx
                    .core
                    .stats
                    .auth_failed
                    .fetch_add(1, Ordering::Relaxed);
                self.handle.send_reply(xid, 0, &Err(ErrorCode::AuthFailed));
                Err(Closed::Server("authentication failed"))
            }
        }
    }
}

fn create_op(op: OpCode, request: CreateRequest) -> WriteOp {
    WriteOp::Create {
        op,
        request: CreateTtlRequest {
            path: request.path,
            data: request.data,
            acl: request.acl,
            flags: request.flags,
            ttl: -1,
        },
    }
}

fn route(request: Request) -> Route {
    match request {
        Request::Create(r) => Route::Write(create_op(OpCode::Create, r)),
        Request::Create2(r) => Route::Write(create_op(OpCode::Create2, r)),
        Request::CreateContainer(r) => Route::Write(create_op(OpCode::CreateContainer, r)),
        Request::CreateTtl(r) => Route::Write(WriteOp::Create {
            op: OpCode::CreateTtl,
            request: r,
        }),
        Request::Delete(r) => Route::Write(WriteOp::Delete(r)),
        Request::SetData(r) => Route::Write(WriteOp::SetData(r)),
        Request::SetAcl(r) => Route::Write(WriteOp::SetAcl(r)),
        Request::Multi(ops) => Route::Write(WriteOp::Multi(ops)),
        Request::CloseSession => Route::CloseSession,
        // Since 3.9.3 a bare check is refused and the connection closed (ZOOKEEPER-2623).
        Request::Check(_) => Route::Refuse(ErrorCode::Unimplemented),
        other => Route::Local(other),
    }
}

/// A local request's view of the server while the tree's read lock is held.
struct Local<'a> {
    tree: &'a DataTree,
    watches: &'a mut WatchRegistry,
    conn: u64,
    identities: &'a [Id],
    session_id: i64,
    handle: &'a ConnectionHandle,
    reconfig_enabled: bool,
}

impl Local<'_> {
    fn run(&mut self, request: Request) -> Result<Response, ErrorCode> {
        let ids = self.identities;
        match request {
            Request::Ping => Ok(Response::Empty),
            Request::Exists(r) => {
                let result = self.tree.exists(&r.path, ids);
                let arm = matches!(result, Ok(_) | Err(ErrorCode::NoNode));
                if r.watch && arm {
                    self.watches
                        .add_standard(self.conn, &r.path, StandardWatch::Data);
                }
                result.map(Response::Stat)
            }
            Request::GetData(r) => {
                let (data, stat) = self.tree.get_data(&r.path, ids)?;
                if r.watch {
                    self.watches
                        .add_standard(self.conn, &r.path, StandardWatch::Data);
                }
                Ok(Response::GetData { data, stat })
            }
            Request::GetChildren(r) => {
                let (children, _) = self.tree.get_children(&r.path, ids)?;
                if r.watch {
                    self.watches
                        .add_standard(self.conn, &r.path, StandardWatch::Child);
                }
                Ok(Response::GetChildren { children })
            }
            Request::GetChildren2(r) => {
                let (children, stat) = self.tree.get_children(&r.path, ids)?;
                if r.watch {
                    self.watches
                        .add_standard(self.conn, &r.path, StandardWatch::Child);
                }
                Ok(Response::GetChildren2 { children, stat })
            }
            Request::GetAcl(r) => {
                let (acl, stat) = self.tree.get_acl(&r.path, ids)?;
                Ok(Response::GetAcl { acl, stat })
            }
            Request::GetAllChildrenNumber(r) => self
                .tree
                .get_all_children_number(&r.path, ids)
                .map(Response::Number),
            Request::GetEphemerals(r) => Ok(Response::Paths(
                self.tree.get_ephemerals(self.session_id, &r.path),
            )),
            Request::MultiRead(ops) => {
                if ops.iter().any(|op| !op.is_read()) {
                    return Err(ErrorCode::MarshallingError);
                }
                Ok(Response::Multi(self.tree.multi_read(&ops, ids)))
            }
            Request::Sync(r) => Ok(Response::Sync { path: r.path }),
            Request::SetWatches(r) => {
                self.set_watches(SetWatches2 {
                    relative_zxid: r.relative_zxid,
                    data_watches: r.data_watches,
                    exist_watches: r.exist_watches,
                    child_watches: r.child_watches,
                    persistent_watches: Vec::new(),
                    persistent_recursive_watches: Vec::new(),
                });
                Ok(Response::Empty)
            }
            Request::SetWatches2(r) => {
                self.set_watches(r);
                Ok(Response::Empty)
            }
            Request::AddWatch(r) => {
                let recursive = match r.mode {
                    add_watch_mode::PERSISTENT => false,
                    add_watch_mode::PERSISTENT_RECURSIVE => true,
                    _ => return Err(ErrorCode::MarshallingError),
                };
                self.watches.add_persistent(self.conn, &r.path, recursive);
                Ok(Response::AddWatch)
            }
            // A type that is no `WatcherType` makes ZooKeeper's `WatcherType.fromInt` throw,
            // which its FinalRequestProcessor answers with MARSHALLINGERROR.
            Request::CheckWatches(r) | Request::RemoveWatches(r)
                if !(watcher_type::CHILDREN..=watcher_type::PERSISTENT_RECURSIVE)
                    .contains(&r.watcher_type) =>
            {
                Err(ErrorCode::MarshallingError)
            }
            Request::CheckWatches(r) => {
                if self.watches.contains(self.conn, &r.path, r.watcher_type) {
                    Ok(Response::Empty)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::RemoveWatches(r) => {
                if self.watches.remove(self.conn, &r.path, r.watcher_type) {
                    Ok(Response::Empty)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::WhoAmI => Ok(Response::WhoAmI(
                self.identities.iter().map(auth::client_info).collect(),
            )),
            // A standalone server cannot change its membership (ZooKeeper: "reconfiguration
            // currently not supported" in standalone mode).
            Request::Reconfig(_) if self.reconfig_enabled => Err(ErrorCode::Unimplemented),
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            // Without SASL configured ZooKeeper has no SASL server for the connection: its
            // processSasl catches the NullPointerException and answers OK with a null token,
            // keeping the connection (a Java client with a JAAS `Client` section sends this).
            Request::Sasl(_) => Ok(Response::Sasl { token: None }),
            // Writes and auth never reach here (see `route` and `run_local`).
            Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Multi(_)
            | Request::CloseSession
            | Request::Check(_)
            | Request::Auth(_) => Err(ErrorCode::SystemError),
        }
    }

    /// setWatches after a reconnect: fire what changed since `relative_zxid` (with zxid -1,
    /// before the reply), re-arm the rest. Persistent watches are always re-armed.
    fn set_watches(&mut self, request: SetWatches2) {
        let relative = request.relative_zxid;
        for path in &request.data_watches {
            match self.tree.stat(path) {
                None => self.notify(event_type::NODE_DELETED, path),
                Some(stat) if stat.mzxid > relative => {
                    self.notify(event_type::NODE_DATA_CHANGED, path)
                }
                Some(_) => self
                    .watches
                    .add_standard(self.conn, path, StandardWatch::Data),
            }
        }
        for path in &request.exist_watches {
            match self.tree.stat(path) {
                Some(_) => self.notify(event_type::NODE_CREATED, path),
                None => self
                    .watches
                    .add_standard(self.conn, path, StandardWatch::Data),
            }
        }
        for path in &request.child_watches {
            match self.tree.stat(path) {
                None => self.notify(event_type::NODE_DELETED, path),
                Some(stat) if stat.pzxid > relative => {
                    self.notify(event_type::NODE_CHILDREN_CHANGED, path)
                }
                Some(_) => self
                    .watches
                    .add_standard(self.conn, path, StandardWatch::Child),
            }
        }
        for path in &request.persistent_watches {
            self.watches.add_persistent(self.conn, path, false);
        }
        for path in &request.persistent_recursive_watches {
            self.watches.add_persistent(self.conn, path, true);
        }
    }

    /// A setWatches catch-up event. Unlike the events a change fires, ZooKeeper (3.9 too)
    /// sends these without a READ check: `DataTree.setWatches` calls `process(event)` with no
    /// ACL, which `checkACL` lets through.
    fn notify(&mut self, event: i32, path: &str) {
        self.handle.send_notification(-1, event, path);
    }
}

#[allow(dead_code)]
fn _uses(_: MultiOp) {}
