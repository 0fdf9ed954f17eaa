//! Requests that do not change replicated state, run against this server's tree under its
//! read lock: reads, watch registration and removal, setWatches catch-up, whoAmI, and the
//! answers a standalone server gives to reconfig and SASL.

use corral_proto::consts::{add_watch_mode, event_type, watcher_type};
use corral_proto::records::SetWatches2;
use corral_proto::request::Request;
use corral_proto::response::Response;
use corral_proto::{ErrorCode, Id};
use corral_tree::DataTree;

use crate::auth;
use crate::clients::ConnectionHandle;
use crate::ids::{ConnectionId, SessionId};
use crate::replica::ReadView;
use crate::watches::StandardWatch;

/// A local request's view of the server while the tree's read lock is held.
pub(crate) struct Local<'a> {
    pub view: &'a ReadView<'a>,
    pub tree: &'a DataTree,
    pub conn: ConnectionId,
    pub identities: &'a [Id],
    pub session_id: SessionId,
    pub handle: &'a ConnectionHandle,
    pub reconfig_enabled: bool,
}

impl Local<'_> {
    pub(crate) fn run(&mut self, request: Request) -> Result<Response, ErrorCode> {
        let ids = self.identities;
        match request {
            Request::Ping => Ok(Response::Empty),
            Request::Exists(r) => {
                let result = self.tree.exists(&r.path, ids);
                let arm = matches!(result, Ok(_) | Err(ErrorCode::NoNode));
                if r.watch && arm {
                    self.view
                        .add_standard(self.conn, &r.path, StandardWatch::Data);
                }
                result.map(Response::Stat)
            }
            Request::GetData(r) => {
                let (data, stat) = self.tree.get_data(&r.path, ids)?;
                if r.watch {
                    self.view
                        .add_standard(self.conn, &r.path, StandardWatch::Data);
                }
                Ok(Response::GetData { data, stat })
            }
            Request::GetChildren(r) => {
                let (children, _) = self.tree.get_children(&r.path, ids)?;
                if r.watch {
                    self.view
                        .add_standard(self.conn, &r.path, StandardWatch::Child);
                }
                Ok(Response::GetChildren { children })
            }
            Request::GetChildren2(r) => {
                let (children, stat) = self.tree.get_children(&r.path, ids)?;
                if r.watch {
                    self.view
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
                self.view.add_persistent(self.conn, &r.path, recursive);
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
                if self.view.has_watch(self.conn, &r.path, r.watcher_type) {
                    Ok(Response::Empty)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::RemoveWatches(r) => {
                if self.view.remove_watch(self.conn, &r.path, r.watcher_type) {
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
                Some(_) => self.view.add_standard(self.conn, path, StandardWatch::Data),
            }
        }
        for path in &request.exist_watches {
            match self.tree.stat(path) {
                Some(_) => self.notify(event_type::NODE_CREATED, path),
                None => self.view.add_standard(self.conn, path, StandardWatch::Data),
            }
        }
        for path in &request.child_watches {
            match self.tree.stat(path) {
                None => self.notify(event_type::NODE_DELETED, path),
                Some(stat) if stat.pzxid > relative => {
                    self.notify(event_type::NODE_CHILDREN_CHANGED, path)
                }
                Some(_) => self
                    .view
                    .add_standard(self.conn, path, StandardWatch::Child),
            }
        }
        for path in &request.persistent_watches {
            self.view.add_persistent(self.conn, path, false);
        }
        for path in &request.persistent_recursive_watches {
            self.view.add_persistent(self.conn, path, true);
        }
    }

    /// A setWatches catch-up event. Unlike the events a change fires, ZooKeeper (3.9 too)
    /// sends these without a READ check: `DataTree.setWatches` calls `process(event)` with no
    /// ACL, which `checkACL` lets through.
    fn notify(&mut self, event: i32, path: &str) {
        self.handle.send_notification(-1, event, path);
    }
}
