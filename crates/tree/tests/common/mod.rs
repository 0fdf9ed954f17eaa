//! A small harness: a tree, a zxid counter, and builders for txns and requests.
#![allow(dead_code)]

use bytes::Bytes;
use corral_proto::consts::perms;
use corral_proto::multi::{MultiOp, MultiResult};
use corral_proto::records::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetAclRequest,
    SetDataRequest,
};
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, Id, OpCode, Stat};
use corral_tree::{ApplyOutcome, DataTree, TreeConfig, Txn, TxnKind, WriteOp};

pub const S1: i64 = 0x0100_0000_0000_0001;
pub const S2: i64 = 0x0100_0000_0000_0002;
pub const T0: i64 = 1_700_000_000_000;

pub fn id(scheme: &str, id: &str) -> Id {
    Id {
        scheme: scheme.into(),
        id: id.into(),
    }
}

pub fn open() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

pub fn ip() -> Vec<Id> {
    vec![id("ip", "127.0.0.1")]
}

pub struct H {
    pub tree: DataTree,
    pub zxid: i64,
    pub time: i64,
    pub ids: Vec<Id>,
}

impl H {
    pub fn new() -> H {
        H::with(TreeConfig::default())
    }

    pub fn with(config: TreeConfig) -> H {
        let mut h = H {
            tree: DataTree::new(config),
            zxid: 0,
            time: T0,
            ids: ip(),
        };
        h.session(S1);
        h
    }

    pub fn txn(&mut self, session_id: i64, kind: TxnKind) -> ApplyOutcome {
        self.zxid += 1;
        self.time += 1;
        let txn = Txn {
            session_id,
            cxid: 1,
            time_ms: self.time,
            kind,
        };
        self.tree.apply(self.zxid, &txn)
    }

    pub fn session(&mut self, session_id: i64) -> ApplyOutcome {
        self.txn(
            session_id,
            TxnKind::CreateSession {
                timeout_ms: 30_000,
                password: [7; 16],
            },
        )
    }

    pub fn close(&mut self, session_id: i64) -> ApplyOutcome {
        self.txn(session_id, TxnKind::CloseSession { expired: false })
    }

    pub fn write_as(&mut self, session_id: i64, ids: Vec<Id>, op: WriteOp) -> ApplyOutcome {
        self.txn(
            session_id,
            TxnKind::Write {
                identities: ids.into(),
                op,
            },
        )
    }

    pub fn write(&mut self, op: WriteOp) -> ApplyOutcome {
        let ids = self.ids.clone();
        self.write_as(S1, ids, op)
    }

    pub fn create_op(
        &mut self,
        op: OpCode,
        path: &str,
        data: Option<&[u8]>,
        acl: Vec<Acl>,
        flags: i32,
        ttl: i64,
    ) -> Result<Response, ErrorCode> {
        self.write(create(op, path, data, acl, flags, ttl)).result
    }

    /// create (1) with open ACL.
    pub fn create(&mut self, path: &str, flags: i32) -> Result<Response, ErrorCode> {
        self.create_op(OpCode::Create, path, Some(b""), open(), flags, -1)
    }

    /// create (1), unwrapping the created path.
    pub fn mk(&mut self, path: &str, flags: i32) -> String {
        match self.create(path, flags) {
            Ok(Response::Create { path }) => path,
            other => panic!("create {path}: {other:?}"),
        }
    }

    pub fn delete(&mut self, path: &str, version: i32) -> Result<Response, ErrorCode> {
        self.write(WriteOp::Delete(DeleteRequest {
            path: path.into(),
            version,
        }))
        .result
    }

    pub fn set(&mut self, path: &str, data: &[u8], version: i32) -> Result<Response, ErrorCode> {
        self.write(WriteOp::SetData(SetDataRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            version,
        }))
        .result
    }

    pub fn set_acl(
        &mut self,
        path: &str,
        acl: Vec<Acl>,
        version: i32,
    ) -> Result<Response, ErrorCode> {
        self.write(WriteOp::SetAcl(SetAclRequest {
            path: path.into(),
            acl,
            version,
        }))
        .result
    }

    pub fn multi(&mut self, ops: Vec<MultiOp>) -> Result<Vec<MultiResult>, ErrorCode> {
        match self.write(WriteOp::Multi(ops)).result {
            Ok(Response::Multi(results)) => Ok(results),
            Ok(other) => panic!("multi answered {other:?}"),
            Err(e) => Err(e),
        }
    }

    pub fn stat(&self, path: &str) -> Stat {
        self.tree
            .stat(path)
            .unwrap_or_else(|| panic!("no node {path}"))
    }

    pub fn children(&self, path: &str) -> Vec<String> {
        self.tree
            .get_children(path, &ip())
            .map(|(c, _)| c)
            .unwrap_or_default()
    }
}

pub fn create(
    op: OpCode,
    path: &str,
    data: Option<&[u8]>,
    acl: Vec<Acl>,
    flags: i32,
    ttl: i64,
) -> WriteOp {
    WriteOp::Create {
        op,
        request: CreateTtlRequest {
            path: path.into(),
            data: data.map(Bytes::copy_from_slice),
            acl,
            flags,
            ttl,
        },
    }
}

pub fn m_create(op: OpCode, path: &str, flags: i32) -> MultiOp {
    MultiOp::Create {
        op,
        request: CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"d")),
            acl: open(),
            flags,
        },
    }
}

pub fn m_create_ttl(path: &str, flags: i32, ttl: i64) -> MultiOp {
    MultiOp::CreateTtl(CreateTtlRequest {
        path: path.into(),
        data: None,
        acl: open(),
        flags,
        ttl,
    })
}

pub fn m_delete(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

pub fn m_set(path: &str, data: &[u8], version: i32) -> MultiOp {
    MultiOp::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        version,
    })
}

pub fn m_check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}
