//! Convenience calls, one per operation, that build the request the Java client would send
//! and return the raw [`Reply`]. Anything unusual (null data, odd flags, opcodes a helper does
//! not pick) is sent with [`Client::request`] directly.

use bytes::Bytes;
use corral_proto::consts::CreateMode;
use corral_proto::multi::MultiOp;
use corral_proto::records::{
    AddWatchRequest, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest,
    PathRequest, PathWatchRequest, SetAclRequest, SetDataRequest, SetWatches, SetWatches2,
    WatchesRequest,
};
use corral_proto::request::Request;
use corral_proto::{Acl, OpCode};

use crate::client::Client;
use crate::error::ClientError;
use crate::reply::Reply;

fn create_request(path: &str, data: &[u8], acl: Vec<Acl>, mode: CreateMode) -> CreateRequest {
    CreateRequest {
        path: path.to_owned(),
        data: Some(Bytes::copy_from_slice(data)),
        acl,
        flags: mode.flags(),
    }
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

impl Client {
    /// `create` as the Java client's `create(path, data, acl, mode)` sends it: opcode 1, or
    /// createContainer (19) for [`CreateMode::Container`]. Reply: `Response::Create{path}`.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        mode: CreateMode,
    ) -> Result<Reply, ClientError> {
        let request = create_request(path, data, acl, mode);
        self.request(match mode {
            CreateMode::Container => Request::CreateContainer(request),
            _ => Request::Create(request),
        })
        .await
    }

    /// `create2` (15): the reply carries the new node's Stat. Container mode uses opcode 19.
    pub async fn create2(
        &self,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        mode: CreateMode,
    ) -> Result<Reply, ClientError> {
        let request = create_request(path, data, acl, mode);
        self.request(match mode {
            CreateMode::Container => Request::CreateContainer(request),
            _ => Request::Create2(request),
        })
        .await
    }

    /// `createTTL` (21).
    pub async fn create_ttl(
        &self,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        mode: CreateMode,
        ttl_ms: i64,
    ) -> Result<Reply, ClientError> {
        self.request(Request::CreateTtl(CreateTtlRequest {
            path: path.to_owned(),
            data: Some(Bytes::copy_from_slice(data)),
            acl,
            flags: mode.flags(),
            ttl: ttl_ms,
        }))
        .await
    }

    /// `delete` (2); version -1 matches any version.
    pub async fn delete(&self, path: &str, version: i32) -> Result<Reply, ClientError> {
        self.request(Request::Delete(DeleteRequest {
            path: path.to_owned(),
            version,
        }))
        .await
    }

    /// `exists` (3); a missing node is `Err(NoNode)` in the reply.
    pub async fn exists(&self, path: &str, watch: bool) -> Result<Reply, ClientError> {
        self.request(Request::Exists(path_watch(path, watch))).await
    }

    /// `getData` (4).
    pub async fn get_data(&self, path: &str, watch: bool) -> Result<Reply, ClientError> {
        self.request(Request::GetData(path_watch(path, watch)))
            .await
    }

    /// `setData` (5); version -1 matches any version.
    pub async fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<Reply, ClientError> {
        self.request(Request::SetData(SetDataRequest {
            path: path.to_owned(),
            data: Some(Bytes::copy_from_slice(data)),
            version,
        }))
        .await
    }

    /// `getACL` (6).
    pub async fn get_acl(&self, path: &str) -> Result<Reply, ClientError> {
        self.request(Request::GetAcl(path_only(path))).await
    }

    /// `setACL` (7).
    pub async fn set_acl(
        &self,
        path: &str,
        acl: Vec<Acl>,
        version: i32,
    ) -> Result<Reply, ClientError> {
        self.request(Request::SetAcl(SetAclRequest {
            path: path.to_owned(),
            acl,
            version,
        }))
        .await
    }

    /// `getChildren` (8).
    pub async fn get_children(&self, path: &str, watch: bool) -> Result<Reply, ClientError> {
        self.request(Request::GetChildren(path_watch(path, watch)))
            .await
    }

    /// `getChildren2` (12): children plus the parent's Stat.
    pub async fn get_children2(&self, path: &str, watch: bool) -> Result<Reply, ClientError> {
        self.request(Request::GetChildren2(path_watch(path, watch)))
            .await
    }

    /// `sync` (9).
    pub async fn sync(&self, path: &str) -> Result<Reply, ClientError> {
        self.request(Request::Sync(path_only(path))).await
    }

    /// `multi` (14); the reply header's err is 0 even when an op failed: look at the results.
    pub async fn multi(&self, ops: Vec<MultiOp>) -> Result<Reply, ClientError> {
        self.request(Request::Multi(ops)).await
    }

    /// `multiRead` (22).
    pub async fn multi_read(&self, ops: Vec<MultiOp>) -> Result<Reply, ClientError> {
        self.request(Request::MultiRead(ops)).await
    }

    /// `addWatch` (106); `mode` from `corral_proto::consts::add_watch_mode`.
    pub async fn add_watch(&self, path: &str, mode: i32) -> Result<Reply, ClientError> {
        self.request(Request::AddWatch(AddWatchRequest {
            path: path.to_owned(),
            mode,
        }))
        .await
    }

    /// `checkWatches` (17); `watcher_type` from `corral_proto::consts::watcher_type`.
    pub async fn check_watches(&self, path: &str, watcher_type: i32) -> Result<Reply, ClientError> {
        self.request(Request::CheckWatches(WatchesRequest {
            path: path.to_owned(),
            watcher_type,
        }))
        .await
    }

    /// `removeWatches` (18).
    pub async fn remove_watches(
        &self,
        path: &str,
        watcher_type: i32,
    ) -> Result<Reply, ClientError> {
        self.request(Request::RemoveWatches(WatchesRequest {
            path: path.to_owned(),
            watcher_type,
        }))
        .await
    }

    /// `setWatches` (101).
    pub async fn set_watches(&self, watches: SetWatches) -> Result<Reply, ClientError> {
        self.request(Request::SetWatches(watches)).await
    }

    /// `setWatches2` (105).
    pub async fn set_watches2(&self, watches: SetWatches2) -> Result<Reply, ClientError> {
        self.request(Request::SetWatches2(watches)).await
    }

    /// `getEphemerals` (103).
    pub async fn get_ephemerals(&self, prefix_path: &str) -> Result<Reply, ClientError> {
        self.request(Request::GetEphemerals(path_only(prefix_path)))
            .await
    }

    /// `getAllChildrenNumber` (104).
    pub async fn get_all_children_number(&self, path: &str) -> Result<Reply, ClientError> {
        self.request(Request::GetAllChildrenNumber(path_only(path)))
            .await
    }

    /// `whoAmI` (107).
    pub async fn who_am_i(&self) -> Result<Reply, ClientError> {
        self.request(Request::WhoAmI).await
    }
}

/// Builders for the ops of a `multi` / `multiRead`.
pub mod multi_op {
    use super::*;

    /// A create op: opcode 1 (result `Create{path}`), or 19 for containers.
    pub fn create(path: &str, data: &[u8], acl: Vec<Acl>, mode: CreateMode) -> MultiOp {
        let op = if mode == CreateMode::Container {
            OpCode::CreateContainer
        } else {
            OpCode::Create
        };
        MultiOp::Create {
            op,
            request: create_request(path, data, acl, mode),
        }
    }

    /// A create2 op (result `Create2{path, stat}`).
    pub fn create2(path: &str, data: &[u8], acl: Vec<Acl>, mode: CreateMode) -> MultiOp {
        MultiOp::Create {
            op: OpCode::Create2,
            request: create_request(path, data, acl, mode),
        }
    }

    pub fn delete(path: &str, version: i32) -> MultiOp {
        MultiOp::Delete(DeleteRequest {
            path: path.to_owned(),
            version,
        })
    }

    pub fn set_data(path: &str, data: &[u8], version: i32) -> MultiOp {
        MultiOp::SetData(SetDataRequest {
            path: path.to_owned(),
            data: Some(Bytes::copy_from_slice(data)),
            version,
        })
    }

    pub fn check(path: &str, version: i32) -> MultiOp {
        MultiOp::Check(CheckVersionRequest {
            path: path.to_owned(),
            version,
        })
    }

    pub fn get_data(path: &str) -> MultiOp {
        MultiOp::GetData(path_watch(path, false))
    }

    pub fn get_children(path: &str) -> MultiOp {
        MultiOp::GetChildren(path_watch(path, false))
    }
}
