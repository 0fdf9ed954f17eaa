//! The request pipeline of one connection. Requests are taken strictly in arrival order:
//!
//! - a write becomes a txn proposed to the log and is answered by the state machine when it
//!   applies; several writes may be in the log at once (pipelining);
//! - anything else (reads, pings, watch and auth requests, sync) first waits until every
//!   earlier write of this connection has been answered, then runs against the local tree
//!   under its read lock and queues its reply before releasing the lock.
//!
//! So replies leave in request order, and a read sees every earlier write of its session.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use corral_proto::consts::xid;
use corral_proto::records::{CreateRequest, CreateTtlRequest};
use corral_proto::request::{Request, RequestClass, RequestDecodeError};
use corral_proto::response::Response;
use corral_proto::{ErrorCode, OpCode};
use corral_tree::{TxnKind, WriteOp};

use super::reads::Local;
use super::{ClientServices, Closed};
use crate::auth;
use crate::clients::ConnectionHandle;
use crate::cluster::forwarder::StreamBinding;

pub(crate) struct Pipeline {
    handle: Arc<ConnectionHandle>,
    services: Arc<ClientServices>,
    /// The stream to the leader this connection's writes in flight went on.
    stream: StreamBinding,
}

/// What to do with a decoded request.
enum Route {
    Write(WriteOp),
    CloseSession,
    Local(Request),
    /// `sync` (and, with `corral.linearizableReads`, every tree read): a read barrier through
    /// the leader, then answered like a local request.
    Sync(Request),
    /// Answer with an error, then close (unknown opcode, bare check).
    Refuse(ErrorCode),
}

impl Pipeline {
    pub(crate) fn new(handle: Arc<ConnectionHandle>, services: Arc<ClientServices>) -> Pipeline {
        Pipeline {
            handle,
            services,
            stream: StreamBinding::default(),
        }
    }

    pub(crate) async fn handle_frame(&mut self, frame: Bytes) -> Result<(), Closed> {
        let started = Instant::now();
        self.handle
            .stats
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        self.services
            .counters
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        let session_id = self.handle.session_id();
        // ZooKeeper answers a SASL packet on its network thread, before (and without) the
        // session touch every other request gets: a client that only exchanges SASL tokens
        // with a server that has no SASL configured (it answers each with an empty token,
        // below) loses its session after one timeout and is disconnected, instead of looping
        // forever (kazoo with `sasl_options` then reports AUTH_FAILED).
        if !is_sasl_frame(&frame) && !self.services.sessions.touch(session_id) {
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
                let zxid = self.services.replica.applied();
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
        let route = match route(decoded.request) {
            Route::Local(request) if self.services.linearizable_reads && request.reads_tree() => {
                Route::Sync(request)
            }
            other => other,
        };
        match route {
            Route::Write(op) => self.propose_write(xid, op).await?,
            Route::CloseSession => {
                self.propose(xid, TxnKind::CloseSession { expired: false })
                    .await?
            }
            Route::Refuse(code) => return self.refuse(xid, code).await,
            Route::Sync(request) => {
                self.handle.wait_writes_answered().await;
                if let Err(err) = self.services.proposer.read_barrier().await {
                    tracing::info!(%err, "sync failed; closing the connection");
                    return Err(Closed::Server("sync failed"));
                }
                if self.handle.is_closed() {
                    return Err(Closed::Server("connection closed"));
                }
                self.run_local(xid, request)?;
            }
            Route::Local(request) => {
                self.handle.wait_writes_answered().await;
                if self.handle.is_closed() {
                    return Err(Closed::Server("connection closed"));
                }
                self.run_local(xid, request)?;
            }
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        self.handle.stats.latency.record(latency_ms);
        self.services.counters.latency.record(latency_ms);
        Ok(())
    }

    async fn refuse(&mut self, xid: i32, code: ErrorCode) -> Result<(), Closed> {
        self.handle.wait_writes_answered().await;
        let zxid = self.services.replica.applied();
        self.handle.send_reply(xid, zxid, &Err(code));
        Err(Closed::Server("request refused"))
    }

    async fn propose_write(&mut self, xid: i32, op: WriteOp) -> Result<(), Closed> {
        let identities = self.handle.identities();
        self.propose(xid, TxnKind::Write { identities, op }).await
    }

    async fn propose(&mut self, xid: i32, kind: TxnKind) -> Result<(), Closed> {
        let limit = self.services.limits.outstanding_writes_max;
        self.handle
            .wait_outstanding_at_most(limit.saturating_sub(1))
            .await;
        self.handle.write_submitted().await;
        if self.handle.outstanding_writes() <= 1 {
            // Every earlier write was answered (applied here): none can still be on its way
            // to the leader, so this one may take a new stream.
            self.stream.release();
        }
        let proposed = self
            .services
            .proposer
            .propose_from(
                self.handle.id,
                self.handle.session_id(),
                xid,
                kind,
                &mut self.stream,
            )
            .await;
        if let Err(err) = proposed {
            self.handle.write_answered();
            tracing::error!(%err, "the log refused a write; closing the connection");
            return Err(Closed::Server("log unavailable"));
        }
        Ok(())
    }

    /// Runs a request that does not change replicated state, and queues its reply while the
    /// tree's read lock is held (see [`crate::replica`] for why).
    fn run_local(&mut self, xid: i32, request: Request) -> Result<(), Closed> {
        if let Request::Auth(packet) = &request {
            return self.authenticate(xid, &packet.scheme, packet.auth.as_deref().unwrap_or(&[]));
        }
        let services = &self.services;
        // ZooKeeper answers SASL packets from its network thread with zxid 0, as auth.
        let is_sasl = matches!(request, Request::Sasl(_));
        let reply_xid = if matches!(request, Request::Ping) {
            xid::PING
        } else {
            xid
        };
        let handle = &self.handle;
        services.replica.read(|view| {
            let zxid = if is_sasl {
                0
            } else {
                services.replica.applied()
            };
            // The identities are borrowed, not copied: this runs for every read.
            let result = handle.with_identities(|identities| {
                let mut local = Local {
                    view,
                    tree: view.tree(),
                    conn: handle.id,
                    identities,
                    session_id: handle.session_id(),
                    handle,
                    reconfig_enabled: services.reconfig_enabled,
                };
                local.run(request)
            });
            handle.send_reply(reply_xid, zxid, &result);
        });
        Ok(())
    }

    /// The reply echoes the request's xid, as ZooKeeper's `processPacket` does: the Java
    /// client sends auth with xid -4, but others (the `zookeeper-client` crate) use an
    /// ordinary xid and match the reply by it.
    fn authenticate(&mut self, xid: i32, scheme: &str, auth_bytes: &[u8]) -> Result<(), Closed> {
        let peer_ip = self.handle.peer.ip().to_string();
        match auth::authenticate(&self.services.auth, scheme, auth_bytes, &peer_ip) {
            Some(ids) => {
                for id in ids {
                    self.handle.add_identity(id);
                }
                self.handle.send_reply(xid, 0, &Ok(Response::Empty));
                Ok(())
            }
            None => {
                self.services
                    .counters
                    .auth_failed
                    .fetch_add(1, Ordering::Relaxed);
                self.handle.send_reply(xid, 0, &Err(ErrorCode::AuthFailed));
                Err(Closed::Server("authentication failed"))
            }
        }
    }
}

/// Whether a request frame's header names the SASL opcode (read before decoding the body).
fn is_sasl_frame(frame: &[u8]) -> bool {
    frame.get(4..8) == Some(&(OpCode::Sasl as i32).to_be_bytes()[..])
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
    match request.class() {
        RequestClass::Write => route_write(request),
        RequestClass::Sync => Route::Sync(request),
        // Since 3.9.3 a bare check is refused and the connection closed (ZOOKEEPER-2623).
        RequestClass::Local if matches!(request, Request::Check(_)) => {
            Route::Refuse(ErrorCode::Unimplemented)
        }
        RequestClass::Local => Route::Local(request),
    }
}

/// The txn of a write request (see [`Request::class`] for which requests are writes).
fn route_write(request: Request) -> Route {
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
        // A fixed membership cannot change; answered like ZooKeeper's standalone server (see
        // `reads`). Dynamic reconfiguration will make this a txn.
        other => Route::Local(other),
    }
}
