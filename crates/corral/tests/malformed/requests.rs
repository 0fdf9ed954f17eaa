//! Hostile requests on an established session: unknown opcodes and a bare `check`
//! (UNIMPLEMENTED, then the close), records whose string, buffer or vector lengths lie
//! (MARSHALLINGERROR, the connection stays), multis that do not parse, a huge but legal
//! multi, and streams of garbage.

use corral_proto::multi::{self, MultiOp};
use corral_proto::records::{CheckVersionRequest, CreateRequest, PathWatchRequest};
use corral_proto::request::Request;
use corral_proto::response::Response;
use corral_proto::{Acl, ErrorCode, Jute, OpCode, Reader};

use crate::support::*;

const MARSHALLING: i32 = ErrorCode::MarshallingError as i32;
const UNIMPLEMENTED: i32 = ErrorCode::Unimplemented as i32;

fn header(xid: i32, op: i32) -> Vec<u8> {
    [xid.to_be_bytes(), op.to_be_bytes()].concat()
}

fn string(text: &str) -> Vec<u8> {
    let mut out = (text.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

fn int(value: i32) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}

fn open_acl() -> Vec<u8> {
    [int(1), int(31), string("world"), string("anyone")].concat()
}

#[tokio::test]
async fn unknown_opcodes_and_bare_check_are_refused_then_closed() {
    let mut target = Target::start().await;
    let addr = target.addr();
    let check = CheckVersionRequest {
        path: "/".into(),
        version: -1,
    };
    let mut cases: Vec<(String, Vec<u8>)> = [10, 23, 99, 108, 999, -3, -12, i32::MAX, i32::MIN]
        .into_iter()
        .map(|op| (format!("opcode {op}"), header(7, op)))
        .collect();
    // Opcodes that exist but no client may send: notification, deleteContainer,
    // createSession, error.
    for op in [0, 20, -10, -1] {
        cases.push((format!("internal opcode {op}"), header(7, op)));
    }
    // Since 3.9.3 a check outside multi is refused (ZOOKEEPER-2623).
    cases.push((
        "bare check".into(),
        [header(7, OpCode::Check.as_i32()), check.to_bytes().to_vec()].concat(),
    ));
    for (case, body) in cases {
        let mut raw = Raw::session(&addr).await;
        raw.send_frame(&body).await;
        let reply = raw
            .read_reply()
            .await
            .expect("an error reply before the close");
        assert_eq!(
            (reply.header.xid, reply.header.err),
            (7, UNIMPLEMENTED),
            "{case}"
        );
        assert!(reply.body.is_empty(), "{case}: an error has no body");
        raw.expect_silent_close(&case).await;
        target.bystander_works(&case).await;
    }

    // A frame shorter than a request header: nothing to answer, closed.
    for len in [0, 3, 7] {
        let mut raw = Raw::session(&addr).await;
        raw.send_frame(&vec![0x11; len]).await;
        raw.expect_silent_close("short frame").await;
    }
    target.assert_healthy().await;
}

#[tokio::test]
async fn lying_lengths_inside_records_answer_marshalling_error() {
    let mut target = Target::start().await;
    let addr = target.addr();
    let create = OpCode::Create.as_i32();
    let get_data = OpCode::GetData.as_i32();
    let set_acl = OpCode::SetAcl.as_i32();
    let set_watches = OpCode::SetWatches.as_i32();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "path length i32::MAX",
            [int(i32::MAX), b"/a".to_vec()].concat(),
        ),
        ("path length -2", [int(-2), b"/a".to_vec()].concat()),
        (
            "path length beyond the frame",
            [int(3), b"/a".to_vec()].concat(),
        ),
        (
            "data length i32::MAX",
            [string("/a"), int(i32::MAX), open_acl(), int(0)].concat(),
        ),
        (
            "data length -7",
            [string("/a"), int(-7), open_acl(), int(0)].concat(),
        ),
        (
            "ACL count i32::MAX",
            [string("/a"), int(0), int(i32::MAX), int(0)].concat(),
        ),
        (
            "ACL count 1,000,000 in a short frame",
            [string("/a"), int(0), int(1_000_000), open_acl()].concat(),
        ),
        (
            "ACL count -3",
            [string("/a"), int(0), int(-3), int(0)].concat(),
        ),
        (
            "scheme length i32::MAX inside an ACL",
            [string("/a"), int(0), int(1), int(31), int(i32::MAX)].concat(),
        ),
        ("a record cut short", [string("/a"), int(0)].concat()),
        ("no record at all", Vec::new()),
    ];
    let mut raw = Raw::session(&addr).await;
    let mut xid = 100;
    for (case, record) in &cases {
        xid += 1;
        raw.send_frame(&[header(xid, create), record.clone()].concat())
            .await;
        let reply = raw.read_reply().await.expect("a reply, not a close");
        assert_eq!(
            (reply.header.xid, reply.header.err),
            (xid, MARSHALLING),
            "create with {case}"
        );
        raw.expect_alive(case).await;
    }
    // The same lies in other records.
    for (case, op, record) in [
        (
            "getData path length -5",
            get_data,
            [int(-5), int(0)].concat(),
        ),
        (
            "setACL ACL count i32::MAX",
            set_acl,
            [string("/"), int(i32::MAX), int(-1)].concat(),
        ),
        (
            "setWatches vector count i32::MAX",
            set_watches,
            [0i64.to_be_bytes().to_vec(), int(i32::MAX)].concat(),
        ),
    ] {
        xid += 1;
        raw.send_frame(&[header(xid, op), record].concat()).await;
        let reply = raw.read_reply().await.expect("a reply, not a close");
        assert_eq!(
            (reply.header.xid, reply.header.err),
            (xid, MARSHALLING),
            "{case}"
        );
    }
    raw.expect_alive("after every lie").await;
    target.bystander_works("lying lengths").await;
    // Nothing was created by any of it.
    let children = target.bystander().list_children("/").await.unwrap();
    assert_eq!(children, ["zookeeper"]);
    target.assert_healthy().await;
}

fn create_op(path: &str, flags: i32) -> MultiOp {
    MultiOp::Create {
        op: OpCode::Create,
        request: CreateRequest {
            path: path.into(),
            data: None,
            acl: vec![Acl::new(31, "world", "anyone")],
            flags,
        },
    }
}

fn multi_body(xid: i32, op: OpCode, ops: &[MultiOp]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    out.extend_from_slice(&header(xid, op.as_i32()));
    multi::encode_ops(ops, &mut out);
    out.to_vec()
}

#[tokio::test]
async fn multis_that_do_not_parse_and_one_that_is_huge() {
    let mut target = Target::start().await;
    let addr = target.addr();
    let read = MultiOp::GetData(PathWatchRequest {
        path: "/".into(),
        watch: false,
    });
    let write = create_op("/mixed", 0);
    let multi_header = |op: i32| [int(op), vec![0], int(-1)].concat();
    let end = [int(-1), vec![1], int(-1)].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "multi mixing a write and a read",
            multi_body(1, OpCode::Multi, &[write.clone(), read.clone()]),
        ),
        (
            "multi mixing a read and a write",
            multi_body(1, OpCode::Multi, &[read.clone(), write.clone()]),
        ),
        (
            "multiRead holding a write",
            multi_body(1, OpCode::MultiRead, std::slice::from_ref(&write)),
        ),
        (
            "create flags that are no mode",
            multi_body(1, OpCode::Multi, &[create_op("/bad-flags", 9)]),
        ),
        (
            "an op type that is not allowed in a multi",
            [
                header(1, 14),
                multi_header(OpCode::Sync.as_i32()),
                string("/"),
                end.clone(),
            ]
            .concat(),
        ),
        (
            "an unknown op type",
            [header(1, 14), multi_header(4242), string("/"), end.clone()].concat(),
        ),
        (
            "an op list without its end marker",
            multi_body(1, OpCode::Multi, &[create_op("/unended", 0)])[..40].to_vec(),
        ),
        (
            "an ACL vector count of i32::MAX inside a create op",
            [
                header(1, 14),
                multi_header(OpCode::Create.as_i32()),
                string("/huge"),
                int(0),
                int(i32::MAX),
                int(0),
                end.clone(),
            ]
            .concat(),
        ),
    ];
    let mut raw = Raw::session(&addr).await;
    for (case, body) in &cases {
        raw.send_frame(body).await;
        let reply = raw.read_reply().await.expect("a reply, not a close");
        assert_eq!(
            (reply.header.xid, reply.header.err),
            (1, MARSHALLING),
            "{case}"
        );
        assert!(reply.body.is_empty(), "{case}");
        target.bystander_works(case).await;
    }
    raw.expect_alive("after the bad multis").await;

    // Legal but huge: as many check ops as fit in one frame, each answered.
    let check = MultiOp::Check(CheckVersionRequest {
        path: "/".into(),
        version: -1,
    });
    let per_op = {
        let mut one = bytes::BytesMut::new();
        multi::encode_ops(std::slice::from_ref(&check), &mut one);
        one.len() - 9
    };
    let count = (MAX_FRAME - 8 - 9) / per_op;
    let ops = vec![check; count];
    let body = multi_body(2, OpCode::Multi, &ops);
    assert!(body.len() <= MAX_FRAME);
    let reply = raw.call(2, &Request::Multi(Vec::new())).await;
    assert_eq!(reply.header.err, 0, "an empty multi");
    raw.send_frame(&body).await;
    let reply = raw.read_reply().await.expect("the huge multi's reply");
    assert_eq!((reply.header.xid, reply.header.err), (2, 0));
    let Ok(Response::Multi(results)) =
        Response::decode(OpCode::Multi, &mut Reader::new(&reply.body))
    else {
        panic!("the reply does not decode as a multi");
    };
    assert_eq!(results.len(), count);
    assert!(results
        .iter()
        .all(|r| *r == corral_proto::multi::MultiResult::Check));
    target.bystander_works("huge multi").await;
    // Nothing from the bad multis exists.
    let children = target.bystander().list_children("/").await.unwrap();
    assert_eq!(children, ["zookeeper"]);
    target.assert_healthy().await;
}

/// A deterministic byte stream (xorshift), so a failure reproduces.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn garbage_after_the_handshake() {
    let mut target = Target::start().await;
    let addr = target.addr();
    for seed in 1..=40u64 {
        let case = format!("noise seed {seed}");
        let mut raw = Raw::session(&addr).await;
        // Half the cases: a plausible frame length with noise inside; the others: raw noise.
        let bytes = if seed % 2 == 0 {
            let body = noise(seed, 8 + (seed as usize * 37) % 400);
            frame(&body)
        } else {
            noise(seed, 4096)
        };
        raw.send(&bytes).await;
        raw.shutdown_write().await;
        // Whatever the server answers, it must be well-framed replies with error codes or
        // results, and then the close (our side stopped writing).
        while let Some(reply) = raw.read_reply().await {
            assert!(reply.header.err <= 0, "{case}: {reply:?}");
        }
        target.bystander_works(&case).await;
    }
    target.assert_healthy().await;
}
