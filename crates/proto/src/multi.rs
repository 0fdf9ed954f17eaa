//! `multi` (14) and `multiRead` (22): a list of `[MultiHeader][op record]` pairs ended by a
//! header with `done = true`, and a response of the same shape.
//!
//! All ops of one record must be of one kind (writes, or the two reads); anything else fails
//! to parse, which ZooKeeper answers with MARSHALLINGERROR.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::jute::{DecodeError, Jute, Reader};
use crate::opcode::OpCode;
use crate::records::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, MultiHeader,
    PathWatchRequest, SetDataRequest, Stat,
};
use crate::ErrorCode;

/// One operation of a multi request. `op` keeps the header's opcode because the result type
/// depends on it (create vs create2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19).
    Create {
        op: OpCode,
        request: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(PathWatchRequest),
    GetData(PathWatchRequest),
}

impl MultiOp {
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create { request, .. } => &request.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) | MultiOp::GetData(r) => &r.path,
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        let header = MultiHeader {
            op_type: self.opcode().as_i32(),
            done: false,
            err: -1,
        };
        header.encode(out);
        match self {
            MultiOp::Create { request, .. } => request.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
            MultiOp::GetChildren(r) | MultiOp::GetData(r) => r.encode(out),
        }
    }

    fn decode(op_type: i32, reader: &mut Reader<'_>) -> Result<MultiOp, DecodeError> {
        let bad = DecodeError::BadValue {
            what: "multi op type",
            value: i64::from(op_type),
        };
        let op = OpCode::from_i32(op_type).ok_or(bad.clone())?;
        Ok(match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => MultiOp::Create {
                op,
                request: CreateRequest::decode(reader)?,
            },
            OpCode::CreateTtl => MultiOp::CreateTtl(CreateTtlRequest::decode(reader)?),
            OpCode::Delete => MultiOp::Delete(DeleteRequest::decode(reader)?),
            OpCode::SetData => MultiOp::SetData(SetDataRequest::decode(reader)?),
            OpCode::Check => MultiOp::Check(CheckVersionRequest::decode(reader)?),
            OpCode::GetChildren => MultiOp::GetChildren(PathWatchRequest::decode(reader)?),
            OpCode::GetData => MultiOp::GetData(PathWatchRequest::decode(reader)?),
            _ => return Err(bad),
        })
    }
}

const END_HEADER: MultiHeader = MultiHeader {
    op_type: -1,
    done: true,
    err: -1,
};

/// Encodes a `MultiOperationRecord`.
pub fn encode_ops(ops: &[MultiOp], out: &mut BytesMut) {
    for op in ops {
        op.encode(out);
    }
    END_HEADER.encode(out);
}

/// Decodes a `MultiOperationRecord`, rejecting a mix of read and write ops.
pub fn decode_ops(reader: &mut Reader<'_>) -> Result<Vec<MultiOp>, DecodeError> {
    let mut ops: Vec<MultiOp> = Vec::new();
    loop {
        let header = MultiHeader::decode(reader)?;
        if header.done {
            return Ok(ops);
        }
        let op = MultiOp::decode(header.op_type, reader)?;
        if let Some(first) = ops.first() {
            if first.is_read() != op.is_read() {
                return Err(DecodeError::BadValue {
                    what: "mixed read and write ops in multi",
                    value: i64::from(header.op_type),
                });
            }
        }
        ops.push(op);
    }
}

/// One entry of a `MultiResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiResult {
    /// Result type 1: create.
    Create {
        path: String,
    },
    /// Result type 15: create2, createTTL, createContainer.
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetChildren {
        children: Vec<String>,
    },
    GetData {
        data: Option<Bytes>,
        stat: Stat,
    },
    /// Result type -1: failed, or not applied because another op failed (err 0 / -2).
    Error(ErrorCode),
}

impl MultiResult {
    fn header_type_and_err(&self) -> (i32, i32) {
        match self {
            MultiResult::Create { .. } => (OpCode::Create.as_i32(), 0),
            MultiResult::Create2 { .. } => (OpCode::Create2.as_i32(), 0),
            MultiResult::Delete => (OpCode::Delete.as_i32(), 0),
            MultiResult::SetData { .. } => (OpCode::SetData.as_i32(), 0),
            MultiResult::Check => (OpCode::Check.as_i32(), 0),
            MultiResult::GetChildren { .. } => (OpCode::GetChildren.as_i32(), 0),
            MultiResult::GetData { .. } => (OpCode::GetData.as_i32(), 0),
            MultiResult::Error(code) => (OpCode::Error.as_i32(), code.as_i32()),
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        let (op_type, err) = self.header_type_and_err();
        MultiHeader {
            op_type,
            done: false,
            err,
        }
        .encode(out);
        match self {
            MultiResult::Create { path } => path.encode(out),
            MultiResult::Create2 { path, stat } => {
                path.encode(out);
                stat.encode(out);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.encode(out),
            MultiResult::GetChildren { children } => children.encode(out),
            MultiResult::GetData { data, stat } => {
                data.encode(out);
                stat.encode(out);
            }
            MultiResult::Error(code) => out.put_i32(code.as_i32()),
        }
    }

    fn decode(header: &MultiHeader, reader: &mut Reader<'_>) -> Result<MultiResult, DecodeError> {
        let op = OpCode::from_i32(header.op_type).ok_or(DecodeError::BadValue {
            what: "multi result type",
            value: i64::from(header.op_type),
        })?;
        Ok(match op {
            OpCode::Create => MultiResult::Create {
                path: String::decode(reader)?,
            },
            OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => MultiResult::Create2 {
                path: String::decode(reader)?,
                stat: Stat::decode(reader)?,
            },
            OpCode::Delete => MultiResult::Delete,
            OpCode::SetData => MultiResult::SetData {
                stat: Stat::decode(reader)?,
            },
            OpCode::Check => MultiResult::Check,
            OpCode::GetChildren => MultiResult::GetChildren {
                children: Vec::decode(reader)?,
            },
            OpCode::GetData => MultiResult::GetData {
                data: Option::decode(reader)?,
                stat: Stat::decode(reader)?,
            },
            OpCode::Error => {
                let value = reader.read_i32()?;
                MultiResult::Error(ErrorCode::from_i32(value).ok_or(DecodeError::BadValue {
                    what: "error code",
                    value: i64::from(value),
                })?)
            }
            _ => {
                return Err(DecodeError::BadValue {
                    what: "multi result type",
                    value: i64::from(header.op_type),
                })
            }
        })
    }
}

/// Encodes a `MultiResponse`.
pub fn encode_results(results: &[MultiResult], out: &mut BytesMut) {
    for result in results {
        result.encode(out);
    }
    END_HEADER.encode(out);
}

/// Decodes a `MultiResponse` (client side).
pub fn decode_results(reader: &mut Reader<'_>) -> Result<Vec<MultiResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let header = MultiHeader::decode(reader)?;
        if header.done {
            return Ok(results);
        }
        results.push(MultiResult::decode(&header, reader)?);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip_and_golden_end_marker() {
        let ops = vec![
            MultiOp::Create {
                op: OpCode::Create,
                request: CreateRequest {
                    path: "/a".into(),
                    data: Some(Bytes::from_static(b"x")),
                    acl: vec![],
                    flags: 0,
                },
            },
            MultiOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 3,
            }),
        ];
        let mut out = BytesMut::new();
        encode_ops(&ops, &mut out);
        assert_eq!(
            &out[out.len() - 9..],
            &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(&out[..9], &[0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decode_ops(&mut Reader::new(&out)).unwrap(), ops);
    }

    #[test]
    fn mixing_reads_and_writes_fails() {
        let ops = vec![
            MultiOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            }),
            MultiOp::GetData(PathWatchRequest {
                path: "/a".into(),
                watch: false,
            }),
        ];
        let mut out = BytesMut::new();
        encode_ops(&ops, &mut out);
        assert!(decode_ops(&mut Reader::new(&out)).is_err());
    }

    #[test]
    fn error_results_carry_the_code_twice() {
        let mut out = BytesMut::new();
        encode_results(
            &[
                MultiResult::Error(ErrorCode::Ok),
                MultiResult::Error(ErrorCode::NoNode),
            ],
            &mut out,
        );
        let expected: Vec<u8> = [
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[
                0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x9b, 0xff, 0xff, 0xff, 0x9b,
            ],
            &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat();
        assert_eq!(&out[..], &expected[..]);
        let decoded = decode_results(&mut Reader::new(&out)).unwrap();
        assert_eq!(decoded[1], MultiResult::Error(ErrorCode::NoNode));
    }
}
