//! One logged transaction: `TxnHeader`, the txn record its type selects, and the optional
//! `TxnDigest` 3.6+ appends (`SerializeUtils.deserializeTxn`).
//!
//! Facts followed:
//! - create/create2 share `CreateTxn`; a create logged before 3.3 lacks `parentCVersion` and
//!   reads as `CreateTxnV0` with a parent cversion of -1 ("the parent's plus one").
//! - delete/deleteContainer share `DeleteTxn`; setData/reconfig share `SetDataTxn`.
//! - closeSession carries `CloseSessionTxn` (its ephemerals) since 3.6, nothing before: a body
//!   that does not decode as one is taken as absent, as ZooKeeper does.
//! - a multi whose sub-transactions include an error changed nothing (ZooKeeper turns every
//!   other one into an error before applying), so its bodies are not decoded.
//! - the digest follows the record when at least its 12 bytes are left.

use bytes::Bytes;
use corral_proto::{Acl, DecodeError, Jute, Reader};

use crate::error::FormatError;
use crate::records::{
    txn_type, CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, CreateTxnV0, DeleteTxn, ErrorTxn, MultiTxn, SetAclTxn, SetDataTxn, TxnDigest,
    TxnHeader,
};

/// Who owns a created node (`ephemeralOwner` is derived when applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateKind {
    Persistent,
    /// Owned by the txn's session (`TxnHeader.clientId`).
    Ephemeral,
    Container,
    /// The TTL in ms as logged.
    Ttl(i64),
}

/// A decoded transaction body, as `DataTree.processTxn` dispatches on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    Create {
        /// create (1) or create2 (15), createContainer (19), createTTL (21): a failed create (1)
        /// still raises the parent's cversion.
        txn_type: i32,
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        kind: CreateKind,
        parent_cversion: i32,
    },
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Bytes>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    CreateSession {
        timeout_ms: i32,
    },
    CloseSession {
        paths: Option<Vec<String>>,
    },
    Error {
        err: i32,
    },
    Check {
        path: String,
    },
    /// `failed`: one sub-transaction is an error, so none applies (and `ops` is empty).
    Multi {
        ops: Vec<TxnOp>,
        failed: bool,
    },
}

/// One logged transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    pub header: TxnHeader,
    pub op: TxnOp,
    pub digest: Option<TxnDigest>,
}

impl TxnEntry {
    pub fn zxid(&self) -> i64 {
        self.header.zxid
    }
}

const DIGEST_BYTES: usize = 12;

/// Decodes the bytes of one log record (offsets in errors are relative to them).
pub fn decode(bytes: &[u8]) -> Result<TxnEntry, FormatError> {
    let mut reader = Reader::new(bytes);
    let header = TxnHeader::decode(&mut reader).map_err(|e| jute_err("txn header", e))?;
    let op = decode_body(header.txn_type, &mut reader, true)?;
    let digest = if reader.remaining() >= DIGEST_BYTES {
        Some(TxnDigest::decode(&mut reader).map_err(|e| jute_err("txn digest", e))?)
    } else {
        None
    };
    Ok(TxnEntry { header, op, digest })
}

fn jute_err(what: &str, err: DecodeError) -> FormatError {
    FormatError::jute(0, what, err)
}

fn decode_body(
    txn_type: i32,
    reader: &mut Reader<'_>,
    top_level: bool,
) -> Result<TxnOp, FormatError> {
    let record = |e| jute_err(&format!("txn of type {txn_type}"), e);
    Ok(match txn_type {
        txn_type::CREATE | txn_type::CREATE2 => {
            let before = reader.clone();
            match CreateTxn::decode(reader) {
                Ok(t) => create(
                    txn_type,
                    t.path,
                    t.data,
                    t.acl,
                    t.ephemeral,
                    t.parent_cversion,
                ),
                Err(DecodeError::Truncated { .. }) if txn_type == txn_type::CREATE => {
                    *reader = before;
                    let t = CreateTxnV0::decode(reader).map_err(record)?;
                    create(txn_type, t.path, t.data, t.acl, t.ephemeral, -1)
                }
                Err(e) => return Err(record(e)),
            }
        }
        txn_type::CREATE_CONTAINER => {
            let t = CreateContainerTxn::decode(reader).map_err(record)?;
            TxnOp::Create {
                txn_type,
                path: t.path,
                data: t.data,
                acl: t.acl,
                kind: CreateKind::Container,
                parent_cversion: t.parent_cversion,
            }
        }
        txn_type::CREATE_TTL => {
            let t = CreateTtlTxn::decode(reader).map_err(record)?;
            TxnOp::Create {
                txn_type,
                path: t.path,
                data: t.data,
                acl: t.acl,
                kind: CreateKind::Ttl(t.ttl),
                parent_cversion: t.parent_cversion,
            }
        }
        txn_type::DELETE | txn_type::DELETE_CONTAINER => TxnOp::Delete {
            path: DeleteTxn::decode(reader).map_err(record)?.path,
        },
        txn_type::SET_DATA | txn_type::RECONFIG => {
            let t = SetDataTxn::decode(reader).map_err(record)?;
            TxnOp::SetData {
                path: t.path,
                data: t.data,
                version: t.version,
            }
        }
        txn_type::SET_ACL if top_level => {
            let t = SetAclTxn::decode(reader).map_err(record)?;
            TxnOp::SetAcl {
                path: t.path,
                acl: t.acl,
                version: t.version,
            }
        }
        txn_type::CREATE_SESSION if top_level => TxnOp::CreateSession {
            timeout_ms: CreateSessionTxn::decode(reader).map_err(record)?.timeout,
        },
        txn_type::CLOSE_SESSION if top_level => {
            let before = reader.clone();
            match CloseSessionTxn::decode(reader) {
                Ok(t) => TxnOp::CloseSession {
                    paths: Some(t.paths),
                },
                Err(_) => {
                    *reader = before;
                    TxnOp::CloseSession { paths: None }
                }
            }
        }
        txn_type::ERROR => TxnOp::Error {
            err: ErrorTxn::decode(reader).map_err(record)?.err,
        },
        txn_type::CHECK => TxnOp::Check {
            path: CheckVersionTxn::decode(reader).map_err(record)?.path,
        },
        txn_type::MULTI if top_level => {
            let multi = MultiTxn::decode(reader).map_err(record)?;
            if multi.txns.iter().any(|t| t.txn_type == txn_type::ERROR) {
                return Ok(TxnOp::Multi {
                    ops: Vec::new(),
                    failed: true,
                });
            }
            let mut ops = Vec::with_capacity(multi.txns.len());
            for (i, sub) in multi.txns.iter().enumerate() {
                let data = sub.data.as_deref().unwrap_or_default();
                let mut sub_reader = Reader::new(data);
                let op = decode_body(sub.txn_type, &mut sub_reader, false).map_err(|e| {
                    FormatError::new(
                        e.offset,
                        format!("multi operation {i} (type {}): {}", sub.txn_type, e.reason),
                    )
                })?;
                ops.push(op);
            }
            TxnOp::Multi { ops, failed: false }
        }
        other if top_level => {
            return Err(FormatError::new(0, format!("unknown txn type {other}")));
        }
        other => {
            return Err(FormatError::new(
                0,
                format!("txn type {other} cannot be part of a multi"),
            ));
        }
    })
}

fn create(
    txn_type: i32,
    path: String,
    data: Option<Bytes>,
    acl: Vec<Acl>,
    ephemeral: bool,
    parent_cversion: i32,
) -> TxnOp {
    TxnOp::Create {
        txn_type,
        path,
        data,
        acl,
        kind: if ephemeral {
            CreateKind::Ephemeral
        } else {
            CreateKind::Persistent
        },
        parent_cversion,
    }
}

/// Encodes a transaction as ZooKeeper logs it (for tests and fixtures).
pub fn encode(header: &TxnHeader, body: &impl Jute, digest: Option<&TxnDigest>) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    header.encode(&mut out);
    body.encode(&mut out);
    if let Some(digest) = digest {
        digest.encode(&mut out);
    }
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SubTxn;

    fn header(txn_type: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x77,
            cxid: 1,
            zxid: 0x1_0000_0001,
            time: 1000,
            txn_type,
        }
    }

    #[test]
    fn create_with_digest_and_v0() {
        let body = CreateTxn {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"x")),
            acl: vec![Acl::new(31, "world", "anyone")],
            ephemeral: true,
            parent_cversion: 3,
        };
        let digest = TxnDigest {
            version: 2,
            tree_digest: 99,
        };
        let entry = decode(&encode(&header(1), &body, Some(&digest))).unwrap();
        assert_eq!(entry.digest, Some(digest));
        assert!(matches!(
            entry.op,
            TxnOp::Create {
                kind: CreateKind::Ephemeral,
                parent_cversion: 3,
                ..
            }
        ));
        let v0 = CreateTxnV0 {
            path: "/a".into(),
            data: None,
            acl: vec![],
            ephemeral: false,
        };
        let entry = decode(&encode(&header(1), &v0, None)).unwrap();
        assert!(matches!(
            entry.op,
            TxnOp::Create {
                parent_cversion: -1,
                ..
            }
        ));
    }

    #[test]
    fn close_session_with_and_without_paths() {
        let body = CloseSessionTxn {
            paths: vec!["/e".into()],
        };
        let entry = decode(&encode(&header(-11), &body, None)).unwrap();
        assert_eq!(
            entry.op,
            TxnOp::CloseSession {
                paths: Some(vec!["/e".into()])
            }
        );
        let mut bare = bytes::BytesMut::new();
        header(-11).encode(&mut bare);
        let entry = decode(&bare).unwrap();
        assert_eq!(entry.op, TxnOp::CloseSession { paths: None });
    }

    #[test]
    fn multi_and_failed_multi() {
        let sub = |t: i32, body: &dyn Fn(&mut bytes::BytesMut)| {
            let mut b = bytes::BytesMut::new();
            body(&mut b);
            SubTxn {
                txn_type: t,
                data: Some(b.freeze()),
            }
        };
        let ok = MultiTxn {
            txns: vec![
                sub(2, &|b| DeleteTxn { path: "/d".into() }.encode(b)),
                sub(13, &|b| {
                    CheckVersionTxn {
                        path: "/c".into(),
                        version: 1,
                    }
                    .encode(b)
                }),
            ],
        };
        let entry = decode(&encode(&header(14), &ok, None)).unwrap();
        assert!(matches!(entry.op, TxnOp::Multi { ref ops, failed: false } if ops.len() == 2));
        let failed = MultiTxn {
            txns: vec![
                sub(-1, &|b| ErrorTxn { err: 0 }.encode(b)),
                sub(-1, &|b| ErrorTxn { err: -101 }.encode(b)),
            ],
        };
        let entry = decode(&encode(&header(14), &failed, None)).unwrap();
        assert_eq!(
            entry.op,
            TxnOp::Multi {
                ops: vec![],
                failed: true
            }
        );
        let nested = MultiTxn {
            txns: vec![sub(14, &|b| ok.encode(b))],
        };
        assert!(decode(&encode(&header(14), &nested, None)).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = decode(&bytes);
        }
        assert!(decode(&encode(&header(77), &ErrorTxn { err: 0 }, None)).is_err());
    }
}
