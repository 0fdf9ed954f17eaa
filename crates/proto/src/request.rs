//! Client requests: one variant per opcode, decoded from a frame body after the
//! `RequestHeader`.
//!
//! Decoding tells apart an opcode the server does not implement (UNIMPLEMENTED, then the
//! connection is closed) from a body that does not parse (MARSHALLINGERROR). Trailing bytes
//! after a record are ignored, as ZooKeeper's reader ignores them.

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

use crate::jute::{DecodeError, Jute, Reader};
use crate::multi::{self, MultiOp};
use crate::opcode::OpCode;
use crate::records::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, CreateTtlRequest,
    DeleteRequest, PathRequest, PathWatchRequest, ReconfigRequest, RequestHeader, SaslPacket,
    SetAclRequest, SetDataRequest, SetWatches, SetWatches2, WatchesRequest,
};

/// How a server handles a request (see [`Request::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    /// Changes replicated state: a txn through the log, proposed by the leader.
    Write,
    /// `sync`: catches this server up with the leader before it is answered.
    Sync,
    /// Answered from this server's own tree and connection state.
    Local,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(SaslPacket),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// Why a request frame could not become a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestDecodeError {
    /// The frame is shorter than a `RequestHeader`: nothing to answer, close the connection.
    #[error("request header: {0}")]
    Header(DecodeError),
    /// Unknown or server-internal opcode: answer UNIMPLEMENTED, then close.
    #[error("unimplemented opcode {op_type}")]
    Unimplemented { xid: i32, op_type: i32 },
    /// The body does not parse: answer MARSHALLINGERROR.
    #[error("opcode {op_type}: {source}")]
    Marshalling {
        xid: i32,
        op_type: i32,
        source: DecodeError,
    },
}

/// A decoded request frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFrame {
    pub xid: i32,
    pub op: OpCode,
    pub request: Request,
}

impl Request {
    pub fn opcode(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// How a server handles the request: the one list of what is a write.
    pub fn class(&self) -> RequestClass {
        match self {
            Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Multi(_)
            | Request::Reconfig(_)
            | Request::CloseSession => RequestClass::Write,
            Request::Sync(_) => RequestClass::Sync,
            Request::Exists(_)
            | Request::GetData(_)
            | Request::GetAcl(_)
            | Request::GetChildren(_)
            | Request::GetChildren2(_)
            | Request::Ping
            | Request::Check(_)
            | Request::MultiRead(_)
            | Request::CheckWatches(_)
            | Request::RemoveWatches(_)
            | Request::Auth(_)
            | Request::SetWatches(_)
            | Request::SetWatches2(_)
            | Request::Sasl(_)
            | Request::GetEphemerals(_)
            | Request::GetAllChildrenNumber(_)
            | Request::AddWatch(_)
            | Request::WhoAmI => RequestClass::Local,
        }
    }

    /// Whether the request reads the data tree (what a linearizable-reads server puts behind
    /// a read barrier): getData, exists, getChildren(2), getACL, multiRead, getEphemerals,
    /// getAllChildrenNumber.
    pub fn reads_tree(&self) -> bool {
        matches!(
            self,
            Request::Exists(_)
                | Request::GetData(_)
                | Request::GetAcl(_)
                | Request::GetChildren(_)
                | Request::GetChildren2(_)
                | Request::MultiRead(_)
                | Request::GetEphemerals(_)
                | Request::GetAllChildrenNumber(_)
        )
    }

    /// Whether the request changes replicated state (goes through the log, as in ZooKeeper:
    /// reconfig included).
    pub fn is_write(&self) -> bool {
        self.class() == RequestClass::Write
    }

    /// Decodes a whole request frame body (header + record).
    pub fn decode_frame(body: &[u8]) -> Result<RequestFrame, RequestDecodeError> {
        let mut reader = Reader::new(body);
        let header = RequestHeader::decode(&mut reader).map_err(RequestDecodeError::Header)?;
        let (xid, op_type) = (header.xid, header.op_type);
        let op =
            OpCode::from_i32(op_type).ok_or(RequestDecodeError::Unimplemented { xid, op_type })?;
        let request = Request::decode_body(op, &mut reader).map_err(|err| match err {
            BodyError::Unimplemented => RequestDecodeError::Unimplemented { xid, op_type },
            BodyError::Decode(source) => RequestDecodeError::Marshalling {
                xid,
                op_type,
                source,
            },
        })?;
        Ok(RequestFrame { xid, op, request })
    }

    fn decode_body(op: OpCode, r: &mut Reader<'_>) -> Result<Request, BodyError> {
        Ok(match op {
            OpCode::Create => Request::Create(CreateRequest::decode(r)?),
            OpCode::Create2 => Request::Create2(CreateRequest::decode(r)?),
            OpCode::CreateContainer => Request::CreateContainer(CreateRequest::decode(r)?),
            OpCode::CreateTtl => Request::CreateTtl(CreateTtlRequest::decode(r)?),
            OpCode::Delete => Request::Delete(DeleteRequest::decode(r)?),
            OpCode::Exists => Request::Exists(PathWatchRequest::decode(r)?),
            OpCode::GetData => Request::GetData(PathWatchRequest::decode(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest::decode(r)?),
            OpCode::GetAcl => Request::GetAcl(PathRequest::decode(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest::decode(r)?),
            OpCode::GetChildren => Request::GetChildren(PathWatchRequest::decode(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(PathWatchRequest::decode(r)?),
            OpCode::Sync => Request::Sync(PathRequest::decode(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(CheckVersionRequest::decode(r)?),
            OpCode::Multi => Request::Multi(multi::decode_ops(r)?),
            OpCode::MultiRead => Request::MultiRead(multi::decode_ops(r)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest::decode(r)?),
            OpCode::CheckWatches => Request::CheckWatches(WatchesRequest::decode(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(WatchesRequest::decode(r)?),
            OpCode::Auth => Request::Auth(AuthPacket::decode(r)?),
            OpCode::SetWatches => Request::SetWatches(SetWatches::decode(r)?),
            OpCode::SetWatches2 => Request::SetWatches2(SetWatches2::decode(r)?),
            OpCode::Sasl => Request::Sasl(SaslPacket::decode(r)?),
            OpCode::GetEphemerals => Request::GetEphemerals(PathRequest::decode(r)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(PathRequest::decode(r)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest::decode(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => return Err(BodyError::Unimplemented),
        })
    }

    /// Encodes the record (without header), as a client sends it.
    pub fn encode_body(&self, out: &mut BytesMut) {
        match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.encode(out),
            Request::CreateTtl(r) => r.encode(out),
            Request::Delete(r) => r.encode(out),
            Request::Exists(r)
            | Request::GetData(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => r.encode(out),
            Request::SetData(r) => r.encode(out),
            Request::GetAcl(r)
            | Request::Sync(r)
            | Request::GetEphemerals(r)
            | Request::GetAllChildrenNumber(r) => r.encode(out),
            Request::SetAcl(r) => r.encode(out),
            Request::Check(r) => r.encode(out),
            Request::Multi(ops) | Request::MultiRead(ops) => multi::encode_ops(ops, out),
            Request::Reconfig(r) => r.encode(out),
            Request::CheckWatches(r) | Request::RemoveWatches(r) => r.encode(out),
            Request::Auth(r) => r.encode(out),
            Request::SetWatches(r) => r.encode(out),
            Request::SetWatches2(r) => r.encode(out),
            Request::Sasl(r) => r.encode(out),
            Request::AddWatch(r) => r.encode(out),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }

    /// Encodes header + record, as a client sends it (without the frame length).
    pub fn encode_frame(&self, xid: i32, out: &mut BytesMut) {
        RequestHeader {
            xid,
            op_type: self.opcode().as_i32(),
        }
        .encode(out);
        self.encode_body(out);
    }
}

enum BodyError {
    Unimplemented,
    Decode(DecodeError),
}

impl From<DecodeError> for BodyError {
    fn from(err: DecodeError) -> Self {
        BodyError::Decode(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn golden_create_request() {
        // xid 1, create, path "/a", data "hi", [31 world:anyone], flags 3.
        let body: Vec<u8> = [
            &[0, 0, 0, 1, 0, 0, 0, 1][..],
            &[0, 0, 0, 2, b'/', b'a'],
            &[0, 0, 0, 2, b'h', b'i'],
            &[0, 0, 0, 1, 0, 0, 0, 31],
            &[0, 0, 0, 5, b'w', b'o', b'r', b'l', b'd'],
            &[0, 0, 0, 6, b'a', b'n', b'y', b'o', b'n', b'e'],
            &[0, 0, 0, 3],
        ]
        .concat();
        let frame = Request::decode_frame(&body).unwrap();
        assert_eq!(frame.xid, 1);
        let Request::Create(create) = &frame.request else {
            panic!("{frame:?}")
        };
        assert_eq!(create.path, "/a");
        assert_eq!(create.data, Some(Bytes::from_static(b"hi")));
        assert_eq!(create.acl[0].id.scheme, "world");
        assert_eq!(create.flags, 3);
        let mut out = BytesMut::new();
        frame.request.encode_frame(1, &mut out);
        assert_eq!(&out[..], &body[..]);
    }

    #[test]
    fn unknown_opcode_is_unimplemented_and_bad_body_is_marshalling() {
        let err = Request::decode_frame(&[0, 0, 0, 7, 0, 0, 0, 10]).unwrap_err();
        assert_eq!(
            err,
            RequestDecodeError::Unimplemented {
                xid: 7,
                op_type: 10
            }
        );
        let err = Request::decode_frame(&[0, 0, 0, 7, 0xff, 0xff, 0xff, 0xf6]).unwrap_err();
        assert!(matches!(
            err,
            RequestDecodeError::Unimplemented { op_type: -10, .. }
        ));
        let err = Request::decode_frame(&[0, 0, 0, 7, 0, 0, 0, 4, 0, 0]).unwrap_err();
        assert!(matches!(
            err,
            RequestDecodeError::Marshalling { op_type: 4, .. }
        ));
        let err = Request::decode_frame(&[0, 0, 0]).unwrap_err();
        assert!(matches!(err, RequestDecodeError::Header(_)));
    }

    #[test]
    fn ping_has_no_body() {
        let frame = Request::decode_frame(&[0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11]).unwrap();
        assert_eq!(frame.xid, -2);
        assert_eq!(frame.request, Request::Ping);
    }
}
