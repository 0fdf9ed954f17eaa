//! Golden bytes for every client-protocol record: each vector below is what Apache
//! ZooKeeper's own jute serializer (`zookeeper-jute` 3.8.0 from Debian, `BinaryOutputArchive`)
//! wrote for the same field values. Each test encodes the Rust value and compares the bytes,
//! then decodes the bytes and compares the value.
//!
//! The vectors were produced once by a throwaway Java program that built each record with the
//! values used here and printed its serialization in hex; they are data, not code.

use bytes::{Bytes, BytesMut};
use corral_proto::connect::{ConnectRequest, ConnectResponse};
use corral_proto::jute::{Jute, Reader};
use corral_proto::multi::{self, MultiOp, MultiResult};
use corral_proto::records::*;
use corral_proto::{ErrorCode, OpCode};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn buf(bytes: &[u8]) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(bytes))
}

fn id() -> Id {
    Id {
        scheme: s("digest"),
        id: s("bob:x="),
    }
}

fn acls() -> Vec<Acl> {
    vec![Acl::new(31, "world", "anyone"), Acl { perms: 1, id: id() }]
}

fn paths() -> Vec<String> {
    vec![s("/a"), s("/b/c")]
}

fn stat() -> Stat {
    Stat {
        czxid: -1,
        mzxid: 2,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_001,
        version: 5,
        cversion: -6,
        aversion: 7,
        ephemeral_owner: 0x0100_0000_0000_0001,
        data_length: 9,
        num_children: 10,
        pzxid: 11,
    }
}

fn check<T: Jute + PartialEq + std::fmt::Debug>(name: &str, value: T, golden: &str) {
    let expected = hex(golden);
    assert_eq!(
        value.to_bytes().as_ref(),
        &expected[..],
        "{name}: encoding differs from ZooKeeper's"
    );
    let decoded = T::from_slice(&expected).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(decoded, value, "{name}: decoding ZooKeeper's bytes");
}

#[test]
fn golden_id() {
    check::<Id>("Id", id(), "0000000664696765737400000006626f623a783d");
}

#[test]
fn golden_acl() {
    check::<Acl>(
        "ACL",
        Acl::new(31, "world", "anyone"),
        "0000001f00000005776f726c6400000006616e796f6e65",
    );
}

#[test]
fn golden_stat() {
    check::<Stat>("Stat", stat(), "ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_client_info() {
    check::<ClientInfo>(
        "ClientInfo",
        ClientInfo {
            auth_scheme: s("digest"),
            user: s("bob"),
        },
        "0000000664696765737400000003626f62",
    );
}

#[test]
fn golden_request_header() {
    check::<RequestHeader>(
        "RequestHeader",
        RequestHeader { xid: 7, op_type: 4 },
        "0000000700000004",
    );
}

#[test]
fn golden_reply_header() {
    check::<ReplyHeader>(
        "ReplyHeader",
        ReplyHeader {
            xid: 7,
            zxid: 0x1_0000_002a,
            err: -101,
        },
        "00000007000000010000002affffff9b",
    );
}

#[test]
fn golden_multi_header() {
    check::<MultiHeader>(
        "MultiHeader",
        MultiHeader {
            op_type: 1,
            done: false,
            err: -1,
        },
        "0000000100ffffffff",
    );
}

#[test]
fn golden_auth_packet() {
    check::<AuthPacket>(
        "AuthPacket",
        AuthPacket {
            auth_type: 0,
            scheme: s("digest"),
            auth: buf(b"bob:pw"),
        },
        "000000000000000664696765737400000006626f623a7077",
    );
}

#[test]
fn golden_set_watches() {
    check::<SetWatches>(
        "SetWatches",
        SetWatches {
            relative_zxid: 42,
            data_watches: paths(),
            exist_watches: vec![s("/e")],
            child_watches: vec![],
        },
        "000000000000002a00000002000000022f61000000042f622f6300000001000000022f6500000000",
    );
}

#[test]
fn golden_set_watches2() {
    check::<SetWatches2>("SetWatches2", SetWatches2 { relative_zxid: 42, data_watches: paths(), exist_watches: vec![s("/e")], child_watches: vec![], persistent_watches: vec![s("/p")], persistent_recursive_watches: vec![s("/r")] }, "000000000000002a00000002000000022f61000000042f622f6300000001000000022f650000000000000001000000022f7000000001000000022f72");
}

#[test]
fn golden_create_request() {
    check::<CreateRequest>("CreateRequest", CreateRequest { path: s("/n-"), data: buf(b"data"), acl: acls(), flags: 3 }, "000000032f6e2d0000000464617461000000020000001f00000005776f726c6400000006616e796f6e65000000010000000664696765737400000006626f623a783d00000003");
}

#[test]
fn golden_create_request_null_data() {
    check::<CreateRequest>("CreateRequestNullData", CreateRequest { path: s("/n"), data: None, acl: acls(), flags: 0 }, "000000022f6effffffff000000020000001f00000005776f726c6400000006616e796f6e65000000010000000664696765737400000006626f623a783d00000000");
}

#[test]
fn golden_create_ttl_request() {
    check::<CreateTtlRequest>("CreateTTLRequest", CreateTtlRequest { path: s("/t"), data: buf(b"data"), acl: acls(), flags: 5, ttl: 60_000 }, "000000022f740000000464617461000000020000001f00000005776f726c6400000006616e796f6e65000000010000000664696765737400000006626f623a783d00000005000000000000ea60");
}

#[test]
fn golden_create_response() {
    check::<CreateResponse>(
        "CreateResponse",
        CreateResponse {
            path: s("/n-0000000001"),
        },
        "0000000d2f6e2d30303030303030303031",
    );
}

#[test]
fn golden_create2_response() {
    check::<Create2Response>("Create2Response", Create2Response { path: s("/n-0000000001"), stat: stat() }, "0000000d2f6e2d30303030303030303031ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_delete_request() {
    check::<DeleteRequest>(
        "DeleteRequest",
        DeleteRequest {
            path: s("/n"),
            version: -1,
        },
        "000000022f6effffffff",
    );
}

#[test]
fn golden_exists_request() {
    check::<PathWatchRequest>(
        "ExistsRequest",
        PathWatchRequest {
            path: s("/n"),
            watch: true,
        },
        "000000022f6e01",
    );
}

#[test]
fn golden_exists_response() {
    check::<StatResponse>("ExistsResponse", StatResponse { stat: stat() }, "ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_get_data_request() {
    check::<PathWatchRequest>(
        "GetDataRequest",
        PathWatchRequest {
            path: s("/n"),
            watch: false,
        },
        "000000022f6e00",
    );
}

#[test]
fn golden_get_data_response() {
    check::<GetDataResponse>("GetDataResponse", GetDataResponse { data: buf(b"data"), stat: stat() }, "0000000464617461ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_set_data_request() {
    check::<SetDataRequest>(
        "SetDataRequest",
        SetDataRequest {
            path: s("/n"),
            data: buf(b"data"),
            version: 4,
        },
        "000000022f6e000000046461746100000004",
    );
}

#[test]
fn golden_set_data_response() {
    check::<StatResponse>("SetDataResponse", StatResponse { stat: stat() }, "ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_get_acl_request() {
    check::<PathRequest>(
        "GetACLRequest",
        PathRequest { path: s("/n") },
        "000000022f6e",
    );
}

#[test]
fn golden_get_acl_response() {
    check::<GetAclResponse>("GetACLResponse", GetAclResponse { acl: acls(), stat: stat() }, "000000020000001f00000005776f726c6400000006616e796f6e65000000010000000664696765737400000006626f623a783dffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_set_acl_request() {
    check::<SetAclRequest>("SetACLRequest", SetAclRequest { path: s("/n"), acl: acls(), version: 2 }, "000000022f6e000000020000001f00000005776f726c6400000006616e796f6e65000000010000000664696765737400000006626f623a783d00000002");
}

#[test]
fn golden_set_acl_response() {
    check::<StatResponse>("SetACLResponse", StatResponse { stat: stat() }, "ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_get_children_request() {
    check::<PathWatchRequest>(
        "GetChildrenRequest",
        PathWatchRequest {
            path: s("/n"),
            watch: true,
        },
        "000000022f6e01",
    );
}

#[test]
fn golden_get_children_response() {
    check::<GetChildrenResponse>(
        "GetChildrenResponse",
        GetChildrenResponse { children: paths() },
        "00000002000000022f61000000042f622f63",
    );
}

#[test]
fn golden_get_children2_request() {
    check::<PathWatchRequest>(
        "GetChildren2Request",
        PathWatchRequest {
            path: s("/n"),
            watch: false,
        },
        "000000022f6e00",
    );
}

#[test]
fn golden_get_children2_response() {
    check::<GetChildren2Response>("GetChildren2Response", GetChildren2Response { children: paths(), stat: stat() }, "00000002000000022f61000000042f622f63ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b");
}

#[test]
fn golden_get_all_children_number_request() {
    check::<PathRequest>(
        "GetAllChildrenNumberRequest",
        PathRequest { path: s("/n") },
        "000000022f6e",
    );
}

#[test]
fn golden_get_all_children_number_response() {
    check::<GetAllChildrenNumberResponse>(
        "GetAllChildrenNumberResponse",
        GetAllChildrenNumberResponse { total_number: 12 },
        "0000000c",
    );
}

#[test]
fn golden_check_version_request() {
    check::<CheckVersionRequest>(
        "CheckVersionRequest",
        CheckVersionRequest {
            path: s("/n"),
            version: 9,
        },
        "000000022f6e00000009",
    );
}

#[test]
fn golden_sync_request() {
    check::<PathRequest>("SyncRequest", PathRequest { path: s("/n") }, "000000022f6e");
}

#[test]
fn golden_sync_response() {
    check::<PathRequest>(
        "SyncResponse",
        PathRequest { path: s("/n") },
        "000000022f6e",
    );
}

#[test]
fn golden_get_sasl_request() {
    check::<SaslPacket>(
        "GetSASLRequest",
        SaslPacket { token: buf(b"tok") },
        "00000003746f6b",
    );
}

#[test]
fn golden_set_sasl_response() {
    check::<SaslPacket>(
        "SetSASLResponse",
        SaslPacket { token: buf(b"tok") },
        "00000003746f6b",
    );
}

#[test]
fn golden_add_watch_request() {
    check::<AddWatchRequest>(
        "AddWatchRequest",
        AddWatchRequest {
            path: s("/w"),
            mode: 1,
        },
        "000000022f7700000001",
    );
}

#[test]
fn golden_check_watches_request() {
    check::<WatchesRequest>(
        "CheckWatchesRequest",
        WatchesRequest {
            path: s("/w"),
            watcher_type: 2,
        },
        "000000022f7700000002",
    );
}

#[test]
fn golden_remove_watches_request() {
    check::<WatchesRequest>(
        "RemoveWatchesRequest",
        WatchesRequest {
            path: s("/w"),
            watcher_type: 3,
        },
        "000000022f7700000003",
    );
}

#[test]
fn golden_get_ephemerals_request() {
    check::<PathRequest>(
        "GetEphemeralsRequest",
        PathRequest { path: s("/e") },
        "000000022f65",
    );
}

#[test]
fn golden_get_ephemerals_response() {
    check::<GetEphemeralsResponse>(
        "GetEphemeralsResponse",
        GetEphemeralsResponse {
            ephemerals: paths(),
        },
        "00000002000000022f61000000042f622f63",
    );
}

#[test]
fn golden_who_ami_response() {
    check::<WhoAmIResponse>(
        "WhoAmIResponse",
        WhoAmIResponse {
            client_info: vec![
                ClientInfo {
                    auth_scheme: s("ip"),
                    user: s("127.0.0.1"),
                },
                ClientInfo {
                    auth_scheme: s("digest"),
                    user: s("bob"),
                },
            ],
        },
        "00000002000000026970000000093132372e302e302e310000000664696765737400000003626f62",
    );
}

#[test]
fn golden_watcher_event() {
    check::<WatcherEvent>(
        "WatcherEvent",
        WatcherEvent {
            event_type: 4,
            state: 3,
            path: s("/w"),
        },
        "0000000400000003000000022f77",
    );
}

#[test]
fn golden_error_response() {
    check::<ErrorResponse>("ErrorResponse", ErrorResponse { err: -110 }, "ffffff92");
}

#[test]
fn golden_reconfig_request_decodes_null_as_empty() {
    // ZooKeeper writes a null newMembers as length -1; Corral reads null strings as empty.
    let decoded = ReconfigRequest::from_slice(&hex(
        "0000000e7365727665722e343d683a313a320000000133ffffffffffffffffffffffff",
    ))
    .unwrap();
    assert_eq!(decoded.joining_servers, "server.4=h:1:2");
    assert_eq!(decoded.leaving_servers, "3");
    assert_eq!(decoded.new_members, "");
    assert_eq!(decoded.cur_config_id, -1);
}

#[test]
fn golden_connect_request_and_response() {
    // 3.8's jute records stop before readOnly; the client appends the byte itself.
    let mut with_read_only = hex(
        "0000000000000000000012340000753000000000000000000000001000000000000000000000000000000000",
    );
    with_read_only.push(0);
    let request = ConnectRequest::decode(&with_read_only).unwrap();
    assert_eq!(request.last_zxid_seen, 0x1234);
    assert_eq!(request.timeout_ms, 30_000);
    assert_eq!(request.read_only, Some(false));
    let mut out = BytesMut::new();
    request.encode(&mut out);
    assert_eq!(&out[..], &with_read_only[..]);

    let response = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: 0x0100_0000_0000_0007,
        password: buf(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
        read_only: None,
    };
    let mut out = BytesMut::new();
    response.encode(&mut out);
    assert_eq!(
        &out[..],
        &hex("00000000000075300100000000000007000000100102030405060708090a0b0c0d0e0f10")[..]
    );
}

fn create_op() -> MultiOp {
    MultiOp::Create {
        op: OpCode::Create,
        request: CreateRequest {
            path: s("/m"),
            data: buf(b"data"),
            acl: vec![Acl::new(31, "world", "anyone")],
            flags: 0,
        },
    }
}

#[test]
fn golden_multi_operation_record() {
    let ops = vec![
        create_op(),
        MultiOp::Delete(DeleteRequest {
            path: s("/m"),
            version: 3,
        }),
        MultiOp::SetData(SetDataRequest {
            path: s("/m"),
            data: buf(b"data"),
            version: -1,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: s("/m"),
            version: 2,
        }),
    ];
    let golden = hex("0000000100ffffffff000000022f6d0000000464617461000000010000001f00000005776f726c6400000006616e796f6e65000000000000000200ffffffff000000022f6d000000030000000500ffffffff000000022f6d0000000464617461ffffffff0000000d00ffffffff000000022f6d00000002ffffffff01ffffffff");
    let mut out = BytesMut::new();
    multi::encode_ops(&ops, &mut out);
    assert_eq!(&out[..], &golden[..]);
    assert_eq!(multi::decode_ops(&mut Reader::new(&golden)).unwrap(), ops);
}

#[test]
fn golden_multi_read_record() {
    let ops = vec![
        MultiOp::GetChildren(PathWatchRequest {
            path: s("/m"),
            watch: false,
        }),
        MultiOp::GetData(PathWatchRequest {
            path: s("/m"),
            watch: false,
        }),
    ];
    let golden =
        hex("0000000800ffffffff000000022f6d000000000400ffffffff000000022f6d00ffffffff01ffffffff");
    let mut out = BytesMut::new();
    multi::encode_ops(&ops, &mut out);
    assert_eq!(&out[..], &golden[..]);
    assert_eq!(multi::decode_ops(&mut Reader::new(&golden)).unwrap(), ops);
}

#[test]
fn golden_multi_response() {
    let results = vec![
        MultiResult::Create { path: s("/m") },
        MultiResult::Create2 {
            path: s("/m2"),
            stat: stat(),
        },
        MultiResult::Delete,
        MultiResult::SetData { stat: stat() },
        MultiResult::Check,
        MultiResult::Error(ErrorCode::NoNode),
    ];
    let golden = hex("000000010000000000000000022f6d0000000f0000000000000000032f6d32ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b000000020000000000000000050000000000ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000b0000000d0000000000ffffffff00ffffff9bffffff9bffffffff01ffffffff");
    let mut out = BytesMut::new();
    multi::encode_results(&results, &mut out);
    assert_eq!(&out[..], &golden[..]);
    assert_eq!(
        multi::decode_results(&mut Reader::new(&golden)).unwrap(),
        results
    );
}

#[test]
fn golden_multi_read_response() {
    let results = vec![
        MultiResult::GetChildren { children: paths() },
        MultiResult::GetData {
            data: buf(b"data"),
            stat: stat(),
        },
        MultiResult::Error(ErrorCode::NoNode),
    ];
    let golden = hex("00000008000000000000000002000000022f61000000042f622f630000000400000000000000000464617461ffffffffffffffff00000000000000020000018bcfe568000000018bcfe5680100000005fffffffa000000070100000000000001000000090000000a000000000000000bffffffff00ffffff9bffffff9bffffffff01ffffffff");
    let mut out = BytesMut::new();
    multi::encode_results(&results, &mut out);
    assert_eq!(&out[..], &golden[..]);
    assert_eq!(
        multi::decode_results(&mut Reader::new(&golden)).unwrap(),
        results
    );
}
