//! Bounded fuzzing of every decoder the server runs on bytes from the network, and of the
//! client-side reply decoder: arbitrary bytes and mutated valid frames must decode to a value
//! or a typed error — never a panic, never an allocation the input does not pay for — and
//! every generated request, reply and handshake must survive encode → decode unchanged.
//!
//! The number of cases is proptest's default configuration, so `PROPTEST_CASES` (512 in
//! `scripts/test.sh`) sets it; each case takes microseconds, the whole file seconds.

use bytes::{Bytes, BytesMut};
use corral_proto::connect::{ConnectRequest, ConnectResponse};
use corral_proto::frame::split_frame;
use corral_proto::multi::{self, MultiOp, MultiResult};
use corral_proto::records::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, ClientInfo, CreateRequest, CreateTtlRequest,
    DeleteRequest, PathRequest, PathWatchRequest, ReconfigRequest, SaslPacket, SetAclRequest,
    SetDataRequest, SetWatches, SetWatches2, WatchesRequest,
};
use corral_proto::request::{Request, RequestDecodeError, RequestFrame};
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, Id, Jute, OpCode, Reader, Stat};
use proptest::prelude::*;

/// Every opcode, and every error code, the protocol defines.
fn all_opcodes() -> Vec<OpCode> {
    (-20..200).filter_map(OpCode::from_i32).collect()
}

fn all_error_codes() -> Vec<ErrorCode> {
    (-200..=0).filter_map(ErrorCode::from_i32).collect()
}

// ---------------------------------------------------------------------------------------------
// Strategies for valid values.

/// Paths: mostly path-like, sometimes any Unicode (the codec does not judge paths).
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "(/[a-z0-9._-]{0,6}){1,3}",
        1 => ".{0,10}",
    ]
}

fn data() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from))
}

fn id() -> impl Strategy<Value = Id> {
    ("[a-z]{0,8}", ".{0,12}").prop_map(|(scheme, id)| Id { scheme, id })
}

fn acl() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(
        (any::<i32>(), id()).prop_map(|(perms, id)| Acl { perms, id }),
        0..4,
    )
}

fn stat() -> impl Strategy<Value = Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |(
                (czxid, mzxid, ctime, mtime),
                (version, cversion, aversion),
                (ephemeral_owner, data_length, num_children, pzxid),
            )| Stat {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length,
                num_children,
                pzxid,
            },
        )
}

fn paths() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(path(), 0..4)
}

fn create_request() -> impl Strategy<Value = CreateRequest> {
    (path(), data(), acl(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

fn create_ttl_request() -> impl Strategy<Value = CreateTtlRequest> {
    (path(), data(), acl(), any::<i32>(), any::<i64>()).prop_map(|(path, data, acl, flags, ttl)| {
        CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        }
    })
}

fn path_watch() -> impl Strategy<Value = PathWatchRequest> {
    (path(), any::<bool>()).prop_map(|(path, watch)| PathWatchRequest { path, watch })
}

fn path_only() -> impl Strategy<Value = PathRequest> {
    path().prop_map(|path| PathRequest { path })
}

fn multi_write_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (
            prop::sample::select(vec![
                OpCode::Create,
                OpCode::Create2,
                OpCode::CreateContainer
            ]),
            create_request()
        )
            .prop_map(|(op, request)| MultiOp::Create { op, request }),
        create_ttl_request().prop_map(MultiOp::CreateTtl),
        (path(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        (path(), data(), any::<i32>()).prop_map(|(path, data, version)| MultiOp::SetData(
            SetDataRequest {
                path,
                data,
                version
            }
        )),
        (path(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
    ]
}

fn multi_read_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        path_watch().prop_map(MultiOp::GetChildren),
        path_watch().prop_map(MultiOp::GetData),
    ]
}

fn set_watches2() -> impl Strategy<Value = SetWatches2> {
    (any::<i64>(), paths(), paths(), paths(), paths(), paths()).prop_map(
        |(relative_zxid, data, exist, child, persistent, recursive)| SetWatches2 {
            relative_zxid,
            data_watches: data,
            exist_watches: exist,
            child_watches: child,
            persistent_watches: persistent,
            persistent_recursive_watches: recursive,
        },
    )
}

/// One request of every kind a client can send.
fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create_request().prop_map(Request::Create),
        create_request().prop_map(Request::Create2),
        create_request().prop_map(Request::CreateContainer),
        create_ttl_request().prop_map(Request::CreateTtl),
        (path(), any::<i32>())
            .prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        path_watch().prop_map(Request::Exists),
        path_watch().prop_map(Request::GetData),
        (path(), data(), any::<i32>()).prop_map(|(path, data, version)| Request::SetData(
            SetDataRequest {
                path,
                data,
                version
            }
        )),
        path_only().prop_map(Request::GetAcl),
        (path(), acl(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        path_watch().prop_map(Request::GetChildren),
        path_watch().prop_map(Request::GetChildren2),
        path_only().prop_map(Request::Sync),
        Just(Request::Ping),
        (path(), any::<i32>())
            .prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version })),
        prop::collection::vec(multi_write_op(), 0..6).prop_map(Request::Multi),
        prop::collection::vec(multi_read_op(), 0..6).prop_map(Request::MultiRead),
        (".{0,8}", ".{0,8}", ".{0,8}", any::<i64>()).prop_map(|(j, l, n, c)| {
            Request::Reconfig(ReconfigRequest {
                joining_servers: j,
                leaving_servers: l,
                new_members: n,
                cur_config_id: c,
            })
        }),
        (path(), any::<i32>()).prop_map(|(path, watcher_type)| Request::CheckWatches(
            WatchesRequest { path, watcher_type }
        )),
        (path(), any::<i32>()).prop_map(|(path, watcher_type)| Request::RemoveWatches(
            WatchesRequest { path, watcher_type }
        )),
        (any::<i32>(), "[a-z]{0,8}", data()).prop_map(|(auth_type, scheme, auth)| {
            Request::Auth(AuthPacket {
                auth_type,
                scheme,
                auth,
            })
        }),
        (any::<i64>(), paths(), paths(), paths()).prop_map(|(z, d, e, c)| {
            Request::SetWatches(SetWatches {
                relative_zxid: z,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
            })
        }),
        set_watches2().prop_map(Request::SetWatches2),
        data().prop_map(|token| Request::Sasl(SaslPacket { token })),
        path_only().prop_map(Request::GetEphemerals),
        path_only().prop_map(Request::GetAllChildrenNumber),
        (path(), any::<i32>())
            .prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        path().prop_map(|path| MultiResult::Create { path }),
        (path(), stat()).prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
        Just(MultiResult::Delete),
        stat().prop_map(|stat| MultiResult::SetData { stat }),
        Just(MultiResult::Check),
        paths().prop_map(|children| MultiResult::GetChildren { children }),
        (data(), stat()).prop_map(|(data, stat)| MultiResult::GetData { data, stat }),
        prop::sample::select(all_error_codes()).prop_map(MultiResult::Error),
    ]
}

/// A successful reply body together with an opcode whose reply it is.
fn response() -> impl Strategy<Value = (OpCode, Response)> {
    use OpCode::*;
    prop_oneof![
        prop::sample::select(vec![
            Delete,
            Ping,
            Auth,
            SetWatches,
            SetWatches2,
            CheckWatches,
            RemoveWatches,
            CloseSession
        ])
        .prop_map(|op| (op, Response::Empty)),
        path().prop_map(|path| (Create, Response::Create { path })),
        (
            prop::sample::select(vec![Create2, CreateContainer, CreateTtl]),
            path(),
            stat()
        )
            .prop_map(|(op, path, stat)| (op, Response::Create2 { path, stat })),
        (prop::sample::select(vec![Exists, SetData, SetAcl]), stat())
            .prop_map(|(op, stat)| (op, Response::Stat(stat))),
        (
            prop::sample::select(vec![GetData, Reconfig]),
            data(),
            stat()
        )
            .prop_map(|(op, data, stat)| (op, Response::GetData { data, stat })),
        (acl(), stat()).prop_map(|(acl, stat)| (GetAcl, Response::GetAcl { acl, stat })),
        paths().prop_map(|children| (GetChildren, Response::GetChildren { children })),
        (paths(), stat())
            .prop_map(|(children, stat)| (GetChildren2, Response::GetChildren2 { children, stat })),
        path().prop_map(|path| (Sync, Response::Sync { path })),
        (
            prop::sample::select(vec![Multi, MultiRead]),
            prop::collection::vec(multi_result(), 0..6)
        )
            .prop_map(|(op, results)| (op, Response::Multi(results))),
        any::<i32>().prop_map(|n| (GetAllChildrenNumber, Response::Number(n))),
        paths().prop_map(|paths| (GetEphemerals, Response::Paths(paths))),
        prop::collection::vec(
            ("[a-z]{0,6}", ".{0,8}")
                .prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user }),
            0..4
        )
        .prop_map(|infos| (WhoAmI, Response::WhoAmI(infos))),
        Just((AddWatch, Response::AddWatch)),
        data().prop_map(|token| (Sasl, Response::Sasl { token })),
    ]
}

fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        data(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(protocol_version, last_zxid_seen, timeout_ms, session_id, password, read_only)| {
                ConnectRequest {
                    protocol_version,
                    last_zxid_seen,
                    timeout_ms,
                    session_id,
                    password,
                    read_only,
                }
            },
        )
}

fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        data(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(protocol_version, timeout_ms, session_id, password, read_only)| ConnectResponse {
                protocol_version,
                timeout_ms,
                session_id,
                password,
                read_only,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Mutations of valid encodings.

/// One way of damaging an encoded frame.
#[derive(Debug, Clone)]
enum Mutation {
    /// Overwrite one byte.
    Byte { at: usize, value: u8 },
    /// Overwrite four bytes with a value chosen to break a length field.
    Int { at: usize, value: i32 },
    /// Cut the frame.
    Truncate { at: usize },
    /// Insert bytes.
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let hostile = prop::sample::select(vec![
        -1,
        -2,
        i32::MIN,
        i32::MAX,
        0,
        1,
        0xfffff,
        0x100000,
        0x7fff_fff0,
        1000,
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Byte { at, value }),
        (any::<usize>(), hostile).prop_map(|(at, value)| Mutation::Int { at, value }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Byte { at, value } if len > 0 => bytes[at % len] = *value,
            Mutation::Int { at, value } if len >= 4 => {
                let at = at % (len - 3);
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
            Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
            Mutation::Insert { at, bytes: extra } => {
                let at = at % (len + 1);
                bytes.splice(at..at, extra.iter().copied());
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties of the decoders on any input.

/// Decodes a request frame; whatever comes back must be consistent with the input.
fn check_request_frame(bytes: &[u8]) {
    match Request::decode_frame(bytes) {
        Ok(frame) => {
            // A decoded request is stable: its own encoding decodes to it again.
            let mut again = BytesMut::new();
            frame.request.encode_frame(frame.xid, &mut again);
            let redecoded = Request::decode_frame(&again).expect("a re-encoded request decodes");
            assert_eq!(redecoded, frame);
            assert_eq!(frame.request.opcode(), frame.op);
        }
        Err(RequestDecodeError::Header(_)) => assert!(bytes.len() < 8),
        Err(RequestDecodeError::Unimplemented { xid, op_type }) => {
            assert_eq!(xid, i32::from_be_bytes(bytes[..4].try_into().unwrap()));
            assert_eq!(op_type, i32::from_be_bytes(bytes[4..8].try_into().unwrap()));
        }
        Err(RequestDecodeError::Marshalling { xid, .. }) => {
            assert_eq!(xid, i32::from_be_bytes(bytes[..4].try_into().unwrap()));
        }
    }
}

/// Runs every other decoder over the same bytes; each must return, not panic.
fn check_other_decoders(bytes: &[u8]) {
    if let Ok(request) = ConnectRequest::decode(bytes) {
        let mut out = BytesMut::new();
        request.encode(&mut out);
        assert_eq!(ConnectRequest::decode(&out).unwrap(), request);
    }
    if let Ok(response) = ConnectResponse::decode(bytes) {
        let mut out = BytesMut::new();
        response.encode(&mut out);
        assert_eq!(ConnectResponse::decode(&out).unwrap(), response);
    }
    let _ = multi::decode_ops(&mut Reader::new(bytes));
    let _ = multi::decode_results(&mut Reader::new(bytes));
    for op in all_opcodes() {
        let _ = Response::decode(op, &mut Reader::new(bytes));
    }
    let _ = Stat::from_slice(bytes);
    let _ = Vec::<Acl>::from_slice(bytes);
    let _ = Vec::<String>::from_slice(bytes);
    let _ = SetWatches2::from_slice(bytes);
}

/// Splits `bytes` into frames as the connection reader does; every frame is within the
/// limit, and frames plus what is left account for every byte.
fn check_split(bytes: &[u8], max_bytes: usize) {
    let mut buffer = BytesMut::from(bytes);
    let mut consumed = 0;
    loop {
        match split_frame(&mut buffer, max_bytes) {
            Ok(Some(frame)) => {
                assert!(frame.len() <= max_bytes);
                consumed += 4 + frame.len();
                assert_eq!(consumed + buffer.len(), bytes.len());
            }
            Ok(None) => {
                // Not enough for the frame the prefix announces (or for a prefix).
                if buffer.len() >= 4 {
                    let length = i32::from_be_bytes(buffer[..4].try_into().unwrap());
                    assert!(length >= 0 && buffer.len() < 4 + length as usize);
                }
                break;
            }
            Err(_) => {
                let length = i32::from_be_bytes(buffer[..4].try_into().unwrap());
                assert!(length < 0 || length as usize > max_bytes);
                break;
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        max_bytes in 0usize..400,
    ) {
        check_request_frame(&bytes);
        check_other_decoders(&bytes);
        check_split(&bytes, max_bytes);
    }

    #[test]
    fn a_plausible_header_with_arbitrary_body_never_panics(
        xid in any::<i32>(),
        op in prop::sample::select(all_opcodes()),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = xid.to_be_bytes().to_vec();
        bytes.extend_from_slice(&op.as_i32().to_be_bytes());
        bytes.extend_from_slice(&body);
        check_request_frame(&bytes);
        let _ = Response::decode(op, &mut Reader::new(&body));
    }

    #[test]
    fn requests_round_trip(xid in any::<i32>(), request in request()) {
        let mut bytes = BytesMut::new();
        request.encode_frame(xid, &mut bytes);
        let decoded = Request::decode_frame(&bytes).expect("a valid request decodes");
        prop_assert_eq!(
            decoded,
            RequestFrame { xid, op: request.opcode(), request: request.clone() }
        );
        // Framed, it comes out of the splitter whole.
        let mut framed = BytesMut::new();
        corral_proto::frame::put_frame(&mut framed, &bytes);
        let body = split_frame(&mut framed, bytes.len()).unwrap().unwrap();
        prop_assert_eq!(&body[..], &bytes[..]);
        prop_assert!(framed.is_empty());
    }

    #[test]
    fn mutated_requests_never_panic(
        xid in any::<i32>(),
        request in request(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = BytesMut::new();
        request.encode_frame(xid, &mut bytes);
        let mut bytes = bytes.to_vec();
        mutate(&mut bytes, &mutations);
        check_request_frame(&bytes);
        if bytes.len() >= 8 {
            check_other_decoders(&bytes[8..]);
        }
    }

    #[test]
    fn responses_round_trip((op, response) in response()) {
        let mut bytes = BytesMut::new();
        response.encode(&mut bytes);
        let decoded = Response::decode(op, &mut Reader::new(&bytes));
        prop_assert_eq!(decoded, Ok(response));
    }

    #[test]
    fn mutated_responses_never_panic(
        (op, response) in response(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = BytesMut::new();
        response.encode(&mut bytes);
        let mut bytes = bytes.to_vec();
        mutate(&mut bytes, &mutations);
        if let Ok(decoded) = Response::decode(op, &mut Reader::new(&bytes)) {
            // What decodes re-encodes to something that decodes the same.
            let mut again = BytesMut::new();
            decoded.encode(&mut again);
            prop_assert_eq!(Response::decode(op, &mut Reader::new(&again)), Ok(decoded));
        }
        let _ = multi::decode_results(&mut Reader::new(&bytes));
    }

    #[test]
    fn handshakes_round_trip_and_survive_mutation(
        request in connect_request(),
        response in connect_response(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = BytesMut::new();
        request.encode(&mut bytes);
        prop_assert_eq!(ConnectRequest::decode(&bytes), Ok(request.clone()));
        let mut bytes = bytes.to_vec();
        mutate(&mut bytes, &mutations);
        check_other_decoders(&bytes);

        let mut bytes = BytesMut::new();
        response.encode(&mut bytes);
        prop_assert_eq!(ConnectResponse::decode(&bytes), Ok(response));
        let mut bytes = bytes.to_vec();
        mutate(&mut bytes, &mutations);
        let _ = ConnectResponse::decode(&bytes);
    }

    #[test]
    fn multi_ops_round_trip_unless_mixed(
        writes in prop::collection::vec(multi_write_op(), 0..5),
        reads in prop::collection::vec(multi_read_op(), 0..5),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        for ops in [&writes, &reads] {
            let mut bytes = BytesMut::new();
            multi::encode_ops(ops, &mut bytes);
            prop_assert_eq!(&multi::decode_ops(&mut Reader::new(&bytes)).unwrap(), ops);
        }
        // A write and a read in one record never parse.
        if !writes.is_empty() && !reads.is_empty() {
            let mixed: Vec<MultiOp> = writes.iter().chain(&reads).cloned().collect();
            let mut bytes = BytesMut::new();
            multi::encode_ops(&mixed, &mut bytes);
            prop_assert!(multi::decode_ops(&mut Reader::new(&bytes)).is_err());
        }
        let mut bytes = BytesMut::new();
        multi::encode_ops(&writes, &mut bytes);
        let mut bytes = bytes.to_vec();
        mutate(&mut bytes, &mutations);
        let _ = multi::decode_ops(&mut Reader::new(&bytes));
    }
}

/// Lengths that promise more than the frame holds are refused before anything is allocated:
/// a vector count of i32::MAX in a few bytes must fail at once, not reserve gigabytes.
#[test]
fn huge_counts_fail_fast() {
    let started = std::time::Instant::now();
    let mut body = 0i64.to_be_bytes().to_vec();
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    body.extend_from_slice(&[0; 16]);
    assert!(SetWatches2::from_slice(&body).is_err());
    assert!(Vec::<Acl>::from_slice(&i32::MAX.to_be_bytes()).is_err());
    assert!(Vec::<String>::from_slice(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
    assert!(Option::<Bytes>::from_slice(&[0x7f, 0xff, 0xff, 0xff, 1]).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}
