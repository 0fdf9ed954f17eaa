//! Golden bytes of the log entry format: a change to any of these bytes is a change of the
//! on-disk and on-wire format, and must come with a new format version (see `log_entry.rs`).
//!
//! The entries are encoded as the log store writes them: openraft's whole `Entry` (log id and
//! payload) through postcard, so an openraft upgrade that changes its own layout fails here too.

use std::sync::Arc;

use bytes::Bytes;
use corral_entry::{
    decode_snapshot_meta, encode_snapshot_meta, Entry, LogEntry, Origin, SnapshotMeta, TypeConfig,
};
use corral_proto::multi::MultiOp;
use corral_proto::records::{Acl, CreateRequest, CreateTtlRequest, DeleteRequest, SetDataRequest};
use corral_proto::{Id, OpCode};
use corral_tree::{Txn, TxnKind, WriteOp};
use openraft::entry::RaftEntry;

fn entry(term: u64, index: u64, origin: Option<Origin>, kind: TxnKind) -> Entry {
    let log_id = openraft::testing::log_id::<TypeConfig>(term, 1, index);
    Entry::new_normal(
        log_id,
        LogEntry {
            origin,
            txn: Arc::new(Txn {
                session_id: 0x0100_0000_0000_0001,
                cxid: 7,
                time_ms: 1_700_000_000_000,
                kind,
            }),
        },
    )
}

fn ip(addr: &str) -> Arc<[Id]> {
    Arc::from([Id {
        scheme: "ip".to_owned(),
        id: addr.to_owned(),
    }])
}

fn origin() -> Option<Origin> {
    Some(Origin {
        server_id: 3,
        connection_id: 0x1234_5678,
    })
}

fn samples() -> Vec<(&'static str, Entry)> {
    vec![
        (
            "create_session",
            entry(
                1,
                1,
                origin(),
                TxnKind::CreateSession {
                    timeout_ms: 30_000,
                    password: [0xab; 16],
                },
            ),
        ),
        (
            "set_data",
            entry(
                2,
                10,
                origin(),
                TxnKind::Write {
                    identities: ip("127.0.0.1"),
                    op: WriteOp::SetData(SetDataRequest {
                        path: "/a".to_owned(),
                        data: Some(Bytes::from_static(b"xyz")),
                        version: -1,
                    }),
                },
            ),
        ),
        (
            "multi",
            entry(
                2,
                11,
                origin(),
                TxnKind::Write {
                    identities: ip("10.0.0.1"),
                    op: WriteOp::Multi(vec![
                        MultiOp::Create {
                            op: OpCode::Create,
                            request: CreateRequest {
                                path: "/b".to_owned(),
                                data: None,
                                acl: vec![Acl {
                                    perms: 31,
                                    id: Id {
                                        scheme: "world".to_owned(),
                                        id: "anyone".to_owned(),
                                    },
                                }],
                                flags: 1,
                            },
                        },
                        MultiOp::Delete(DeleteRequest {
                            path: "/c".to_owned(),
                            version: 4,
                        }),
                    ]),
                },
            ),
        ),
        (
            "create",
            entry(
                3,
                12,
                origin(),
                TxnKind::Write {
                    identities: ip("::1"),
                    op: WriteOp::Create {
                        op: OpCode::Create2,
                        request: CreateTtlRequest {
                            path: "/n".to_owned(),
                            data: Some(Bytes::from_static(b"1")),
                            acl: vec![],
                            flags: 0,
                            ttl: -1,
                        },
                    },
                },
            ),
        ),
        (
            "expiry",
            entry(3, 13, None, TxnKind::CloseSession { expired: true }),
        ),
        (
            "reap",
            entry(
                3,
                14,
                None,
                TxnKind::DeleteContainer {
                    path: "/container".to_owned(),
                },
            ),
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const GOLDEN: &[(&str, &str)] = &[
    ("create_session", "01010101020103f8acd191018280808080808080020e80a0abfef96200e0d403abababababababababababababababab"),
    ("set_data", "02010a01020103f8acd191018280808080808080020e80a0abfef9620201026970093132372e302e302e3102022f61010378797a01"),
    ("multi", "02010b01020103f8acd191018280808080808080020e80a0abfef96202010269700831302e302e302e3104020001022f6200013e05776f726c6406616e796f6e650202022f6308"),
    ("create", "03010c01020103f8acd191018280808080808080020e80a0abfef9620201026970033a3a31000e022f6e010131000001"),
    ("expiry", "03010d0102008280808080808080020e80a0abfef9620101"),
    ("reap", "03010e0102008280808080808080020e80a0abfef962030a2f636f6e7461696e6572"),
];

#[test]
fn entries_encode_to_their_golden_bytes() {
    let mut mismatches = Vec::new();
    for (name, entry) in samples() {
        let bytes = postcard::to_allocvec(&entry).unwrap();
        let actual = hex(&bytes);
        let expected = GOLDEN.iter().find(|(n, _)| *n == name).map(|(_, h)| *h);
        if expected != Some(actual.as_str()) {
            mismatches.push(format!("    (\"{name}\", \"{actual}\"),"));
        }
        let decoded: Entry = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, entry, "{name} round trip");
    }
    assert!(
        mismatches.is_empty(),
        "log entry bytes changed; if deliberate, bump LOG_ENTRY_FORMAT_VERSION. Now:\n{}",
        mismatches.join("\n")
    );
}

/// Strips the log id and the payload tag openraft writes before the `LogEntry` bytes.
fn payload_offset(entry: &Entry) -> usize {
    let whole = postcard::to_allocvec(entry).unwrap();
    let LogEntryPayload(payload) = payload_of(entry);
    let alone = postcard::to_allocvec(&payload).unwrap();
    assert!(whole.ends_with(&alone));
    whole.len() - alone.len()
}

struct LogEntryPayload(LogEntry);

fn payload_of(entry: &Entry) -> LogEntryPayload {
    match &entry.payload {
        openraft::EntryPayload::Normal(e) => LogEntryPayload(e.clone()),
        _ => unreachable!("samples are normal entries"),
    }
}

#[test]
fn version_one_entries_still_read() {
    // Version 1 had no version byte: `[Option<Origin>][Txn]`.
    for (name, entry) in samples() {
        let LogEntryPayload(payload) = payload_of(&entry);
        let mut v1 = postcard::to_allocvec(&payload.origin).unwrap();
        v1 = postcard::to_extend(&*payload.txn, v1).unwrap();
        let decoded: LogEntry = postcard::from_bytes(&v1).unwrap();
        assert_eq!(decoded, payload, "{name}");
    }
}

#[test]
fn an_unknown_version_is_refused_with_a_clear_message() {
    let (_, entry) = samples().remove(0);
    let mut bytes = postcard::to_allocvec(&entry).unwrap();
    let at = payload_offset(&entry);
    assert_eq!(bytes[at], corral_entry::LOG_ENTRY_FORMAT_VERSION);
    bytes[at] = 9;
    assert!(postcard::from_bytes::<Entry>(&bytes).is_err());
    let why = corral_entry::explain_undecodable(&bytes).expect("explained");
    assert!(why.contains("format version 9"), "{why}");
    assert!(corral_entry::explain_undecodable(&postcard::to_allocvec(&entry).unwrap()).is_none());
    let LogEntryPayload(payload) = payload_of(&entry);
    let mut alone = postcard::to_allocvec(&payload).unwrap();
    alone[0] = 9;
    assert!(postcard::from_bytes::<LogEntry>(&alone).is_err());
}

#[test]
fn truncated_entries_are_errors_not_panics() {
    for (name, entry) in samples() {
        let bytes = postcard::to_allocvec(&entry).unwrap();
        for len in 0..bytes.len() {
            assert!(
                postcard::from_bytes::<Entry>(&bytes[..len]).is_err(),
                "{name} cut at {len} decoded"
            );
        }
    }
}

#[test]
fn snapshot_meta_round_trips_and_refuses_unknown_versions() {
    let meta = SnapshotMeta {
        last_log_id: Some(openraft::testing::log_id::<TypeConfig>(4, 2, 99)),
        last_membership: Default::default(),
    };
    let bytes = encode_snapshot_meta(&meta).unwrap();
    assert_eq!(bytes[0], corral_entry::SNAPSHOT_META_FORMAT_VERSION);
    assert_eq!(decode_snapshot_meta(&bytes).unwrap(), meta);
    // Version 1: the bare postcard encoding.
    let v1 = postcard::to_allocvec(&meta).unwrap();
    assert_eq!(decode_snapshot_meta(&v1).unwrap(), meta);
    let mut future = bytes.clone();
    future[0] = 7;
    let err = decode_snapshot_meta(&future).unwrap_err().to_string();
    assert!(err.contains("version 7 is unknown"), "{err}");
    assert!(decode_snapshot_meta(&[]).is_err());
}
