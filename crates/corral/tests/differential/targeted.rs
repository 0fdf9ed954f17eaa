//! Hand-written differential cases for what the generator does not reach or where an exact
//! byte or a fresh tree matters: built-in nodes, path validation, sequential names, cversion
//! and pzxid, getACL masking, the handshake with and without the readOnly byte, reconnecting
//! with a wrong password, and setWatches after a reconnect. Each compares Apache ZooKeeper with
//! Corral; none asserts a value of its own unless both servers agree on it.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use corral_client::ConnectOptions;
use corral_proto::connect::ConnectRequest;
use corral_proto::consts::{add_watch_mode, event_type, perms};
use corral_proto::frame::{begin_frame, finish_frame};
use corral_proto::records::{SetWatches, SetWatches2};
use corral_proto::request::Request;
use corral_proto::{Acl, OpCode, Stat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::compare::{self, NBody, NReply};
use crate::duo::*;
use crate::gen::{BAD_SUFFIXES, USERS};
use crate::model::open_acl;
use crate::pair::{self, Pair};
use crate::runtime;
use crate::servers::{self, digest_id};

/// The raw result of a reply, stat fields and all (for a fresh tree, where even zxids agree).
fn raw(outcome: &crate::pair::Outcome) -> String {
    match outcome {
        Ok(reply) => format!("{:?}", reply.result),
        Err(e) => format!("client error: {e}"),
    }
}

#[test]
fn builtin_nodes() {
    let Some(targets) = servers::fresh("builtin_nodes") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets, 1).await;
        let paths = [
            "/",
            "/zookeeper",
            "/zookeeper/config",
            "/zookeeper/quota",
            "",
        ];
        for path in paths {
            for request in [
                get_data(path, false),
                exists(path, false),
                get_acl(path),
                get_children(path, false),
                get_children2(path, false),
                all_children(path),
                Request::MultiRead(vec![multi_get_data(path)]),
            ] {
                let (zk, corral) = duo.pairs[0].request(request.clone()).await;
                // A fresh tree: every field, zxids and times included, must agree.
                assert_eq!(
                    raw(&zk),
                    raw(&corral),
                    "fresh tree, {request:?}: apache 3.8 vs corral"
                );
            }
        }
        for path in paths {
            duo.same(0, "built-in delete", delete(path, -1)).await;
            duo.same(0, "built-in delete, version", delete(path, 0))
                .await;
        }
        duo.same(
            0,
            "config is read-only",
            set_data("/zookeeper/config", b"x", -1),
        )
        .await;
        duo.same(0, "whoAmI", Request::WhoAmI).await;
        duo.same(0, "getEphemerals", ephemerals("/")).await;
        duo.same(0, "sync /", sync("/")).await;
        duo.close().await;
    });
}

#[test]
fn path_validation() {
    let Some(targets) = servers::shared("path_validation") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets, 1).await;
        let root = "/t-paths";
        duo.mkdir(root).await;
        duo.mkdir(&format!("{root}/a")).await;
        let mut paths: Vec<String> = BAD_SUFFIXES
            .iter()
            .chain(&["/a/", "/a//b", "/a/./b", "/a/../a", "/a/b/", "/zookeeper"])
            .map(|suffix| format!("{root}{suffix}"))
            .collect();
        paths.extend(["noslash", "a/b", "zookeeper", "/zookeeper/"].map(String::from));
        for path in &paths {
            let requests = vec![
                create(path, b"", open_acl(), 0),
                create(path, b"", open_acl(), 2),
                create2(path, b"", open_acl(), 1),
                Request::CreateContainer(create_record(path, b"", open_acl(), 4)),
                create_ttl(path, 5, 1000),
                delete(path, -1),
                set_data(path, b"x", -1),
                set_acl(path, open_acl(), -1),
                exists(path, false),
                get_data(path, false),
                get_children(path, false),
                get_acl(path),
                all_children(path),
                Request::Multi(vec![multi_check(path, -1)]),
                Request::Multi(vec![multi_create(OpCode::Create, path, 0)]),
                Request::Multi(vec![multi_delete(path, -1)]),
                Request::MultiRead(vec![multi_get_data(path)]),
            ];
            for request in requests {
                duo.same(0, "path validation", request).await;
            }
            if crate::versions::check_watches_path_allowed(path) {
                duo.same(0, "checkWatches", check_watches(path, 3)).await;
            }
            if crate::versions::echo_allowed(path) {
                duo.same(0, "sync echoes the path", sync(path)).await;
            }
        }
        duo.same(0, "what got created", get_children(root, false))
            .await;
        duo.close().await;
    });
}

#[test]
fn sequential_names() {
    let Some(targets) = servers::shared("sequential_names") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets, 2).await;
        let root = "/t-seq";
        duo.mkdir(root).await;
        let steps = vec![
            create(&format!("{root}/s-"), b"", open_acl(), 2),
            create(&format!("{root}/s-"), b"", open_acl(), 2),
            create(&format!("{root}/plain"), b"", open_acl(), 0),
            delete(&format!("{root}/s-0000000001"), -1),
            create(&format!("{root}/"), b"", open_acl(), 2),
            create2(&format!("{root}/e-"), b"", open_acl(), 3),
            Request::CreateContainer(create_record(&format!("{root}/c-"), b"", open_acl(), 2)),
            create_ttl(&format!("{root}/t-"), 6, 60_000),
            Request::Multi(vec![
                multi_create(OpCode::Create, &format!("{root}/m-"), 2),
                multi_create(OpCode::Create, &format!("{root}/m-"), 2),
            ]),
            Request::Multi(vec![
                multi_create(OpCode::Create, &format!("{root}/f-"), 2),
                multi_check(&format!("{root}/missing"), -1),
            ]),
            create(&format!("{root}/s-"), b"", open_acl(), 2),
            create(&format!("{root}/plain/"), b"", open_acl(), 2),
            create(&format!("{root}/plain/x"), b"", open_acl(), 2),
            get_children2(root, false),
            get_children2(&format!("{root}/plain"), false),
        ];
        for (i, request) in steps.into_iter().enumerate() {
            let s = i % 2;
            duo.same(s, "sequential naming", request).await;
        }
        duo.close().await;
    });
}

#[test]
fn cversion_and_pzxid() {
    let Some(targets) = servers::shared("cversion_and_pzxid") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets, 2).await;
        let root = "/t-cversion";
        duo.mkdir(root).await;
        let child = |name: &str| format!("{root}/{name}");
        // Relations between the parent's and the children's zxids, per server.
        let mut relations: (Vec<bool>, Vec<bool>) = (Vec::new(), Vec::new());
        let stat_of = |outcome: &crate::pair::Outcome| -> Stat {
            outcome
                .as_ref()
                .ok()
                .and_then(|r| r.stat().cloned())
                .unwrap_or_else(|| panic!("no stat in {outcome:?}"))
        };
        let parent = |duo: &Duo| {
            let pair = duo.pairs[0].clone();
            async move { pair.request(exists(root, false)).await }
        };
        let (p0z, p0c) = parent(&duo).await;
        let steps: Vec<(usize, Request)> = vec![
            (0, create2(&child("a"), b"", open_acl(), 0)),
            (1, create2(&child("b"), b"", open_acl(), 1)),
            (0, delete(&child("a"), -1)),
            (0, set_data(&child("b"), b"data", -1)),
            (
                0,
                Request::Multi(vec![
                    multi_create(OpCode::Create, &child("c"), 0),
                    multi_delete(&child("c"), -1),
                ]),
            ),
            (0, create2(&child("d"), b"", open_acl(), 0)),
            (0, set_acl(&child("d"), open_acl(), -1)),
            (0, create2(&child("d/x"), b"", open_acl(), 0)),
        ];
        for (s, request) in steps {
            let (zk, corral) = duo.pairs[s].request(request.clone()).await;
            duo.assert_same("cversion step", &request, &zk, &corral);
            let (pz, pc) = parent(&duo).await;
            duo.assert_same("parent stat", &exists(root, false), &pz, &pc);
            for (side, (op, p, p0)) in [(&zk, &pz, &p0z), (&corral, &pc, &p0c)]
                .into_iter()
                .enumerate()
            {
                let (p, p0) = (stat_of(p), stat_of(p0));
                let list = if side == 0 {
                    &mut relations.0
                } else {
                    &mut relations.1
                };
                list.push(p.mzxid == p0.mzxid);
                list.push(p.pzxid > p0.pzxid);
                if let Some(stat) = op.as_ref().ok().and_then(|r| r.stat()) {
                    list.push(p.pzxid == stat.czxid);
                }
            }
        }
        // Session 1 owns /b: closing it deletes /b, which moves the parent's cversion/pzxid.
        let (zk, corral) = duo.pairs[1].close().await;
        duo.assert_same("close", &Request::CloseSession, &zk, &corral);
        duo.same(
            0,
            "after the ephemeral child went",
            get_children2(root, false),
        )
        .await;
        assert_eq!(relations.0, relations.1, "zxid relations differ");
        let _ = duo.pairs[0].close().await;
    });
}

#[test]
fn get_acl_masking() {
    let Some(targets) = servers::shared("get_acl_masking") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets, 4).await;
        let root = "/t-acl";
        duo.mkdir(root).await;
        let (alice, bob) = (digest_id(USERS[0]), digest_id(USERS[1]));
        for (s, login) in [(1, USERS[0]), (2, USERS[1]), (3, USERS[0]), (3, USERS[1])] {
            let (zk, corral) = duo.pairs[s].auth("digest", login.as_bytes()).await;
            duo.assert_same("addauth", &Request::WhoAmI, &zk, &corral);
        }
        let nodes: Vec<(&str, Vec<Acl>)> = vec![
            (
                "readable",
                vec![
                    Acl::new(perms::READ, "world", "anyone"),
                    Acl::new(perms::ALL, "digest", &alice),
                    Acl::new(perms::ADMIN, "digest", &bob),
                ],
            ),
            ("alice-only", vec![Acl::new(perms::ALL, "digest", &alice)]),
            (
                "admin-only",
                vec![Acl::new(perms::ADMIN, "world", "anyone")],
            ),
            (
                "ip",
                vec![
                    Acl::new(perms::READ, "ip", "127.0.0.1"),
                    Acl::new(perms::ALL, "digest", &bob),
                    Acl::new(perms::WRITE, "ip", "10.0.0.0/8"),
                ],
            ),
            ("nothing", vec![Acl::new(0, "world", "anyone")]),
        ];
        for (name, acl) in &nodes {
            let path = format!("{root}/{name}");
            duo.same(0, "create", create(&path, b"", acl.clone(), 0))
                .await;
            for s in 0..3 {
                duo.same(s, "getACL", get_acl(&path)).await;
                duo.same(s, "getData", get_data(&path, false)).await;
            }
        }
        // `auth` by a session with one identity, then by one with two (whose order ZooKeeper
        // leaves to a hash set: compared sorted).
        let one = format!("{root}/auth-one");
        duo.same(
            1,
            "auth ACL",
            create(&one, b"", vec![Acl::new(31, "auth", "")], 0),
        )
        .await;
        for s in 0..4 {
            duo.same(s, "getACL of auth", get_acl(&one)).await;
        }
        let two = format!("{root}/auth-two");
        duo.same(
            3,
            "auth ACL",
            create(&two, b"", vec![Acl::new(31, "auth", "")], 0),
        )
        .await;
        for s in 0..4 {
            let (zk, corral) = duo.pairs[s].request(get_acl(&two)).await;
            let (mut nz, mut nc) = duo.normal(&zk, &corral);
            for n in [&mut nz, &mut nc] {
                if let NReply::Ok(NBody::Acl { acl, .. }) = n {
                    compare::sort_acl(acl);
                }
            }
            assert_eq!(nz, nc, "getACL of a two-identity auth ACL");
        }
        for s in 0..4 {
            duo.same(s, "whoAmI", Request::WhoAmI).await;
        }
        duo.close().await;
    });
}

/// Sends a raw ConnectRequest and returns the ConnectResponse frame's body, or `None` when the
/// server closed the connection without answering.
async fn raw_handshake(addr: &str, request: &ConnectRequest) -> (Option<Bytes>, bool) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut out = BytesMut::new();
    let start = begin_frame(&mut out);
    request.encode(&mut out);
    finish_frame(&mut out, start);
    stream.write_all(&out).await.expect("write");
    let read = async {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).await.is_err() {
            return (None, true);
        }
        let len = i32::from_be_bytes(len);
        let mut body = vec![0; usize::try_from(len).expect("length")];
        stream.read_exact(&mut body).await.expect("body");
        // Does the server close the connection afterwards (invalid session)?
        let mut probe = [0u8; 1];
        let closed = matches!(
            tokio::time::timeout(Duration::from_millis(1500), stream.read(&mut probe)).await,
            Ok(Ok(0)) | Ok(Err(_))
        );
        (Some(Bytes::from(body)), closed)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("handshake answer")
}

fn connect_request(session_id: i64, password: Bytes, read_only: Option<bool>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 30_000,
        session_id,
        password: Some(password),
        read_only,
    }
}

/// The fields of a ConnectResponse that do not depend on the server's session ids.
fn response_shape(body: &Option<Bytes>, session_id: i64, password: &Bytes) -> String {
    let Some(body) = body else {
        return "no response".to_owned();
    };
    let r = corral_proto::connect::ConnectResponse::decode(body).expect("ConnectResponse");
    format!(
        "{} bytes, protocol {}, timeout {}, session id {}, password {}, readOnly {:?}",
        body.len(),
        r.protocol_version,
        r.timeout_ms,
        match r.session_id {
            0 => "0".to_owned(),
            id if id == session_id => "the requested one".to_owned(),
            _ => "new".to_owned(),
        },
        match &r.password {
            Some(p) if p.iter().all(|b| *b == 0) => format!("{} zero bytes", p.len()),
            Some(p) if p == password => "the session's".to_owned(),
            Some(p) => format!("{} bytes", p.len()),
            None => "null".to_owned(),
        },
        r.read_only
    )
}

#[test]
fn handshake_with_and_without_read_only_byte() {
    let Some(targets) = servers::shared("handshake_with_and_without_read_only_byte") else {
        return;
    };
    runtime().block_on(async {
        let zero = Bytes::from_static(&[0; 16]);
        for read_only in [None, Some(false), Some(true)] {
            let request = connect_request(0, zero.clone(), read_only);
            let (zk, zk_closed) = raw_handshake(&targets.zk, &request).await;
            let (corral, corral_closed) = raw_handshake(&targets.corral, &request).await;
            let (zs, cs) = (
                response_shape(&zk, 0, &zero),
                response_shape(&corral, 0, &zero),
            );
            assert_eq!(zs, cs, "new session, readOnly byte {read_only:?}");
            assert_eq!(zk_closed, corral_closed, "connection kept open");
            let expected_len = if read_only.is_some() { 37 } else { 36 };
            assert!(zs.starts_with(&format!("{expected_len} bytes")), "{zs}");
        }
        // Timeouts are clamped to [minSessionTimeout, maxSessionTimeout].
        for timeout_ms in [1, 5_000, 1_000_000_000, -5] {
            let request = ConnectRequest {
                timeout_ms,
                ..connect_request(0, zero.clone(), Some(false))
            };
            let (zk, _) = raw_handshake(&targets.zk, &request).await;
            let (corral, _) = raw_handshake(&targets.corral, &request).await;
            assert_eq!(
                response_shape(&zk, 0, &zero),
                response_shape(&corral, 0, &zero),
                "requested timeout {timeout_ms}"
            );
        }
        // A client that has seen a zxid the server has not reached is refused silently.
        let ahead = ConnectRequest {
            last_zxid_seen: i64::MAX / 2,
            ..connect_request(0, zero.clone(), Some(false))
        };
        let (zk, zk_closed) = raw_handshake(&targets.zk, &ahead).await;
        let (corral, corral_closed) = raw_handshake(&targets.corral, &ahead).await;
        assert_eq!(
            (zk.is_some(), zk_closed),
            (corral.is_some(), corral_closed),
            "lastZxidSeen ahead"
        );
        assert!(zk.is_none());
    });
}

#[test]
fn reconnect_with_a_wrong_password() {
    let Some(targets) = servers::shared("reconnect_with_a_wrong_password") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets.clone(), 1).await;
        let pair = &duo.pairs[0];
        let sides = [
            (&targets.zk, pair.zk.session_id(), pair.zk.password()),
            (
                &targets.corral,
                pair.corral.session_id(),
                pair.corral.password(),
            ),
        ];
        for read_only in [None, Some(false)] {
            let mut shapes = Vec::new();
            for (addr, id, password) in &sides {
                let mut wrong = password.to_vec();
                wrong[0] ^= 0xff;
                let request = connect_request(*id, Bytes::from(wrong), read_only);
                let (body, closed) = raw_handshake(addr, &request).await;
                // The invalid-session response is all zeros: compare the bytes themselves.
                shapes.push((body.clone(), closed, response_shape(&body, *id, password)));
            }
            assert_eq!(
                shapes[0], shapes[1],
                "wrong password, readOnly byte {read_only:?}"
            );
            assert!(
                shapes[0].1,
                "the connection is closed after an invalid session"
            );
            // An unknown session id is refused the same way.
            let mut unknown = Vec::new();
            for (addr, id, password) in &sides {
                let request = connect_request(*id ^ 0x5555, password.clone(), read_only);
                let (body, closed) = raw_handshake(addr, &request).await;
                unknown.push((body, closed));
            }
            assert_eq!(
                unknown[0], unknown[1],
                "unknown session, readOnly {read_only:?}"
            );
        }
        // The session itself is unharmed, on both.
        duo.same(0, "session still usable", Request::WhoAmI).await;
        // The Client's view of a refused re-attach, too.
        let attach = |id: i64| ConnectOptions {
            session_id: id,
            password: Some(Bytes::from_static(&[7; 16])),
            ..pair::options(30_000, false)
        };
        let (zk, corral) = Pair::connect_both(
            &targets,
            attach(pair.zk.session_id()),
            attach(pair.corral.session_id()),
        )
        .await;
        assert_eq!(
            format!("{:?}", zk.map(|_| ())),
            format!("{:?}", corral.map(|_| ())),
            "Client::connect with a wrong password"
        );
        duo.close().await;
    });
}

/// A request written right behind the ConnectRequest, before the response arrived, is
/// served after the handshake; the reply bytes (a never-modified built-in node) agree.
#[test]
fn request_pipelined_behind_the_handshake() {
    let Some(targets) = servers::shared("request_pipelined_behind_the_handshake") else {
        return;
    };
    runtime().block_on(async {
        for request in [
            get_data("/zookeeper/config", false),
            get_acl("/zookeeper/quota"),
        ] {
            let zk = raw_reply(&targets.zk, &request);
            let corral = raw_reply(&targets.corral, &request);
            let (zk, corral) = tokio::join!(
                tokio::time::timeout(Duration::from_secs(10), zk),
                tokio::time::timeout(Duration::from_secs(10), corral)
            );
            assert_eq!(
                zk.expect("apache reply"),
                corral.expect("corral reply"),
                "{request:?}: reply body bytes (apache 3.8, corral)"
            );
        }
    });
}

/// Re-attaching to a session whose connection is still open moves the session: the old
/// connection is closed, the new one serves it (ephemerals and all).
#[test]
fn reattach_while_connected() {
    let Some(targets) = servers::shared("reattach_while_connected") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets.clone(), 1).await;
        let root = "/t-reattach";
        duo.mkdir(root).await;
        let mine = format!("{root}/mine");
        duo.same(0, "ephemeral", create(&mine, b"", open_acl(), 1))
            .await;
        let old = duo.pairs[0].clone();
        let attach = |id: i64, password: Bytes| ConnectOptions {
            session_id: id,
            password: Some(password),
            ..pair::options(30_000, true)
        };
        let (zk, corral) = Pair::connect_both(
            &targets,
            attach(old.zk.session_id(), old.zk.password()),
            attach(old.corral.session_id(), old.corral.password()),
        )
        .await;
        let new = Pair {
            zk: zk.expect("re-attach to Apache ZooKeeper"),
            corral: corral.expect("re-attach to Corral"),
        };
        let (zk_closed, corral_closed) = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(old.zk.closed(), old.corral.closed())
        })
        .await
        .expect("both servers close the old connection");
        assert_eq!(
            compare::is_lost(&zk_closed),
            compare::is_lost(&corral_closed),
            "how the old connection ended: {zk_closed:?} / {corral_closed:?}"
        );
        let moved = Duo {
            targets: targets.clone(),
            pairs: vec![new],
        };
        moved
            .same(0, "the session's ephemerals", ephemerals(root))
            .await;
        moved
            .same(0, "delete own ephemeral", delete(&mine, -1))
            .await;
        moved.close().await;
    });
}

/// Drops session 0's connection, lets session 1 change things, reconnects session 0 and sends
/// `watches` (with each server's own last zxid); returns the events both servers replayed.
async fn reconnect_and_replay(
    duo: &mut Duo,
    changes: Vec<Request>,
    watches: SetWatches2,
    v2: bool,
) {
    let old = duo.pairs[0].clone();
    let last = (old.zk.last_zxid(), old.corral.last_zxid());
    let ids = old.session_ids();
    let passwords = (old.zk.password(), old.corral.password());
    duo.same_frames(0, "before the disconnect", false).await;
    old.disconnect();
    for request in changes {
        duo.same(1, "change while disconnected", request).await;
    }
    duo.same_frames(1, "changer", false).await;
    let attach = |id: i64, password: Bytes, zxid: i64| ConnectOptions {
        session_id: id,
        password: Some(password),
        last_zxid_seen: zxid,
        ..pair::options(30_000, true)
    };
    let (zk, corral) = Pair::connect_both(
        &duo.targets,
        attach(ids.0, passwords.0, last.0),
        attach(ids.1, passwords.1, last.1),
    )
    .await;
    let pair = Pair {
        zk: zk.expect("reconnect to Apache ZooKeeper"),
        corral: corral.expect("reconnect to Corral"),
    };
    let request = |zxid: i64| {
        let w = SetWatches2 {
            relative_zxid: zxid,
            ..watches.clone()
        };
        if v2 {
            Request::SetWatches2(w)
        } else {
            Request::SetWatches(SetWatches {
                relative_zxid: w.relative_zxid,
                data_watches: w.data_watches,
                exist_watches: w.exist_watches,
                child_watches: w.child_watches,
            })
        }
    };
    let (zk, corral) = tokio::join!(
        pair.zk.request(request(last.0)),
        pair.corral.request(request(last.1))
    );
    duo.pairs[0] = pair;
    duo.assert_same("setWatches reply", &request(0), &zk, &corral);
}

fn list(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn set_watches_after_reconnect() {
    let Some(targets) = servers::shared("set_watches_after_reconnect") else {
        return;
    };
    runtime().block_on(async {
        for v2 in [false, true] {
            let mut duo = Duo::new(targets.clone(), 2).await;
            let root = format!("/t-setwatches-{v2}");
            let p = |name: &str| format!("{root}/{name}");
            duo.mkdir(&root).await;
            for name in ["data", "same", "gone", "kids", "kids2", "pers", "rec"] {
                duo.mkdir(&p(name)).await;
            }
            // Watches session 0 sets before its connection drops.
            for request in [
                get_data(&p("data"), true),
                get_data(&p("same"), true),
                get_data(&p("gone"), true),
                exists(&p("born"), true),
                exists(&p("never"), true),
                get_children(&p("kids"), true),
                get_children(&p("kids2"), true),
            ] {
                duo.same(0, "arm", request).await;
            }
            if v2 {
                duo.same(
                    0,
                    "persistent",
                    add_watch(&p("pers"), add_watch_mode::PERSISTENT),
                )
                .await;
                duo.same(
                    0,
                    "recursive",
                    add_watch(&p("rec"), add_watch_mode::PERSISTENT_RECURSIVE),
                )
                .await;
            }
            let changes = vec![
                set_data(&p("data"), b"new", -1),
                delete(&p("gone"), -1),
                create(&p("born"), b"", open_acl(), 0),
                create(&p("kids/c"), b"", open_acl(), 0),
                set_data(&p("pers"), b"missed", -1),
                create(&p("rec/c"), b"", open_acl(), 0),
            ];
            let watches = SetWatches2 {
                relative_zxid: 0,
                data_watches: list(&[&p("data"), &p("same"), &p("gone")]),
                exist_watches: list(&[&p("born"), &p("never")]),
                child_watches: list(&[&p("kids"), &p("kids2")]),
                persistent_watches: if v2 { list(&[&p("pers")]) } else { Vec::new() },
                persistent_recursive_watches: if v2 { list(&[&p("rec")]) } else { Vec::new() },
            };
            reconnect_and_replay(&mut duo, changes, watches, v2).await;
            let replayed = duo.same_frames(0, "replayed on reconnect", true).await;
            assert!(
                replayed.contains(&event(event_type::NODE_DATA_CHANGED, &p("data")))
                    && replayed.contains(&event(event_type::NODE_CREATED, &p("born"))),
                "missed changes are reported: {replayed:?}"
            );
            // The re-armed watches fire on later changes, with the txn's zxid.
            for request in [
                set_data(&p("same"), b"later", -1),
                create(&p("never"), b"", open_acl(), 0),
                create(&p("kids2/c"), b"", open_acl(), 0),
                set_data(&p("pers"), b"later", -1),
                set_data(&p("pers"), b"again", -1),
                create(&p("rec/c/d"), b"", open_acl(), 0),
            ] {
                duo.same(1, "change after reconnect", request).await;
            }
            duo.same_frames(0, "re-armed watches", false).await;
            duo.close().await;
        }
    });
}

/// ZooKeeper 3.9 (like 3.8) does not ACL-check the events setWatches replays
/// (`DataTree.setWatches` calls `process(event)` without an ACL); Corral used to drop them
/// when the session may not READ the node.
#[test]
fn set_watches_replay_is_not_acl_filtered() {
    let Some(targets) = servers::shared("set_watches_replay_is_not_acl_filtered") else {
        return;
    };
    runtime().block_on(async {
        let mut duo = Duo::new(targets, 2).await;
        let root = "/t-setwatches-acl";
        duo.mkdir(root).await;
        let secret = format!("{root}/secret");
        let bob = digest_id(USERS[1]);
        duo.same(0, "exist watch on a missing node", exists(&secret, true))
            .await;
        let changes = vec![create(
            &secret,
            b"",
            vec![Acl::new(perms::ALL, "digest", &bob)],
            0,
        )];
        let watches = SetWatches2 {
            relative_zxid: 0,
            data_watches: Vec::new(),
            exist_watches: vec![secret.clone()],
            child_watches: Vec::new(),
            persistent_watches: Vec::new(),
            persistent_recursive_watches: Vec::new(),
        };
        reconnect_and_replay(&mut duo, changes, watches, false).await;
        let replayed = duo
            .same_frames(0, "replay of an unreadable node", true)
            .await;
        assert_eq!(replayed, vec![event(event_type::NODE_CREATED, &secret)]);
        duo.close().await;
    });
}

/// ZOOKEEPER-4799 (CVE-2024-23944, in 3.9.2 and in Debian's 3.8.0-11+deb12u2): an event goes
/// only to a connection that may READ the node (the parent for NodeChildrenChanged), whether
/// a standard or a persistent watch fired it.
#[test]
fn events_need_read_permission() {
    let Some(targets) = servers::shared("events_need_read_permission") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets, 2).await;
        let (zk, corral) = duo.pairs[1].auth("digest", USERS[1].as_bytes()).await;
        duo.assert_same("addauth", &Request::WhoAmI, &zk, &corral);
        let bob = vec![Acl::new(perms::ALL, "digest", &digest_id(USERS[1]))];
        let root = "/t-event-acl";
        duo.mkdir(root).await;
        let node = format!("{root}/n");
        duo.mkdir(&node).await;
        duo.same(0, "data watch", get_data(&node, true)).await;
        duo.same(0, "child watch", get_children(&node, true)).await;
        duo.same(
            0,
            "subtree watch",
            add_watch(root, add_watch_mode::PERSISTENT_RECURSIVE),
        )
        .await;
        for (s, request) in [
            (1, set_acl(&node, bob.clone(), -1)),
            (1, set_data(&node, b"secret", -1)),
            (1, create(&format!("{node}/open"), b"", open_acl(), 0)),
            (1, create(&format!("{node}/closed"), b"", bob.clone(), 0)),
            (1, create(&format!("{root}/closed"), b"", bob.clone(), 0)),
            (1, set_data(&format!("{root}/closed"), b"x", -1)),
            (1, delete(&format!("{root}/closed"), -1)),
            (1, set_acl(&node, open_acl(), -1)),
            (1, delete(&format!("{node}/closed"), -1)),
        ] {
            duo.same(s, "change", request).await;
            duo.same_frames(0, "watcher after a change", false).await;
        }
        duo.close().await;
    });
}

/// Requests no well-behaved client sends: unknown and server-internal opcodes, truncated and
/// padded bodies, out-of-range enums. Each runs on a fresh session; the reply and whether the
/// connection survives must agree.
#[test]
fn odd_requests() {
    let Some(targets) = servers::shared("odd_requests") else {
        return;
    };
    runtime().block_on(async {
        let setup = Duo::new(targets.clone(), 1).await;
        let root = "/t-odd";
        setup.mkdir(root).await;
        setup.close().await;
        let path = jute_string(root);
        let with = |parts: &[&[u8]]| parts.concat();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("unknown opcode", raw_body(1, 999, &[])),
            ("notification opcode", raw_body(1, 0, &[])),
            ("error opcode", raw_body(1, -1, &[])),
            (
                "reconfig",
                raw_body(
                    1,
                    16,
                    &with(&[
                        &jute_string(""),
                        &jute_string(""),
                        &jute_string(""),
                        &(-1i64).to_be_bytes(),
                    ]),
                ),
            ),
            (
                "getData, truncated path",
                raw_body(1, 4, &[0, 0, 0, 10, b'/', b'x']),
            ),
            (
                "getData, trailing bytes",
                raw_body(1, 4, &with(&[&path, &[0], &[1, 2, 3]])),
            ),
            ("getData, no watch byte", raw_body(1, 4, &path)),
            (
                "getData, negative length",
                raw_body(1, 4, &with(&[&(-5i32).to_be_bytes(), &[0]])),
            ),
            (
                "create, data length -5",
                raw_body(
                    1,
                    1,
                    &with(&[&jute_string(&format!("{root}/x")), &(-5i32).to_be_bytes()]),
                ),
            ),
            (
                "create, null ACL list",
                raw_body(
                    1,
                    1,
                    &with(&[
                        &jute_string(&format!("{root}/y")),
                        &(-1i32).to_be_bytes(),
                        &(-1i32).to_be_bytes(),
                        &0i32.to_be_bytes(),
                    ]),
                ),
            ),
            ("ping with a body", raw_body(-2, 11, &[1, 2, 3, 4])),
            ("sync with xid -8", raw_body(-8, 9, &path)),
            (
                "setWatches with xid -8",
                raw_body(
                    -8,
                    101,
                    &with(&[
                        &0i64.to_be_bytes(),
                        &0i32.to_be_bytes(),
                        &0i32.to_be_bytes(),
                        &0i32.to_be_bytes(),
                    ]),
                ),
            ),
            ("whoAmI with a body", raw_body(1, 107, &[9, 9])),
            (
                "multi, unknown op type",
                raw_body(
                    1,
                    14,
                    &with(&[&99i32.to_be_bytes(), &[0], &(-1i32).to_be_bytes(), &path]),
                ),
            ),
            (
                "multi, no end marker",
                raw_body(
                    1,
                    14,
                    &with(&[
                        &13i32.to_be_bytes(),
                        &[0],
                        &(-1i32).to_be_bytes(),
                        &path,
                        &(-1i32).to_be_bytes(),
                    ]),
                ),
            ),
            (
                "multiRead with a write",
                raw_body(
                    1,
                    22,
                    &with(&[
                        &13i32.to_be_bytes(),
                        &[0],
                        &(-1i32).to_be_bytes(),
                        &path,
                        &(-1i32).to_be_bytes(),
                        &(-1i32).to_be_bytes(),
                        &[1],
                        &(-1i32).to_be_bytes(),
                    ]),
                ),
            ),
            (
                "addWatch, mode 7",
                raw_body(1, 106, &with(&[&path, &7i32.to_be_bytes()])),
            ),
            (
                "checkWatches, type 9",
                raw_body(1, 17, &with(&[&path, &9i32.to_be_bytes()])),
            ),
            (
                "removeWatches, type 0",
                raw_body(1, 18, &with(&[&path, &0i32.to_be_bytes()])),
            ),
            (
                "getEphemerals, null prefix",
                raw_body(1, 103, &(-1i32).to_be_bytes()),
            ),
            ("getAllChildrenNumber, empty", raw_body(1, 104, &[])),
        ];
        let mut differ = Vec::new();
        for (name, body) in cases {
            let duo = Duo::new(targets.clone(), 1).await;
            let pair = &duo.pairs[0];
            let (zk, corral) =
                tokio::join!(pair.zk.raw_request(&body), pair.corral.raw_request(&body));
            let (nz, nc) = duo.normal(&zk, &corral);
            let xids = (
                zk.as_ref().map(|r| r.xid).ok(),
                corral.as_ref().map(|r| r.xid).ok(),
            );
            let (pz, pc) = pair.barrier().await;
            let alive = (pz.is_ok(), pc.is_ok());
            if (&nz, xids.0, alive.0) != (&nc, xids.1, alive.1) {
                differ.push(format!(
                    "{name}: reply, reply xid, connection alive differ\n  apache 3.8: {:?}\n  \
                     corral:     {:?}\n  raw apache: {zk:?}\n  raw corral: {corral:?}",
                    (&nz, xids.0, alive.0),
                    (&nc, xids.1, alive.1),
                ));
            }
            if alive.0 && alive.1 {
                duo.close().await;
            }
        }
        assert!(differ.is_empty(), "{}", differ.join("\n"));
    });
}

/// BUG: a null string (length -1) where a request has a path reads as "" in Corral, which is
/// the root's alias, so e.g. getData answers the root's data; ZooKeeper's handlers get a Java
/// null and fail with MARSHALLINGERROR.
#[test]
#[ignore = "BUG: Corral reads a null path string as \"\" (the root alias); ZooKeeper answers MARSHALLINGERROR"]
fn bug_null_path_string() {
    let Some(targets) = servers::shared("bug_null_path_string") else {
        return;
    };
    runtime().block_on(async {
        let null = (-1i32).to_be_bytes();
        for (name, body) in [
            ("getData", raw_body(1, 4, &[&null[..], &[0]].concat())),
            ("getChildren", raw_body(1, 8, &[&null[..], &[0]].concat())),
            ("getACL", raw_body(1, 6, &null)),
        ] {
            let duo = Duo::new(targets.clone(), 1).await;
            let pair = &duo.pairs[0];
            let (zk, corral) =
                tokio::join!(pair.zk.raw_request(&body), pair.corral.raw_request(&body));
            let (nz, nc) = duo.normal(&zk, &corral);
            assert_eq!(
                nz, nc,
                "{name} with a null path\napache: {zk:?}\ncorral: {corral:?}"
            );
            duo.close().await;
        }
    });
}

/// `addauth` with odd schemes and credentials, and a SASL packet on a server without SASL:
/// the reply, whether the connection survives, and the identities it ends up with.
#[test]
fn auth_variants() {
    let Some(targets) = servers::shared("auth_variants") else {
        return;
    };
    runtime().block_on(async {
        let super_login = format!("super:{}", servers::SUPER_PASSWORD);
        let cases: Vec<(&str, &[u8])> = vec![
            ("digest", b"nocolon"),
            ("digest", b""),
            ("digest", b":"),
            ("digest", b"a:b:c"),
            ("digest", b"\xff\xfe:x"),
            ("digest", super_login.as_bytes()),
            ("digest", b"super:wrong"),
            ("ip", b"garbage"),
            ("ip", b""),
            ("world", b"anyone"),
            ("super", b""),
            ("sasl", b"x"),
            ("", b""),
        ];
        for (scheme, auth) in cases {
            let duo = Duo::new(targets.clone(), 1).await;
            let pair = &duo.pairs[0];
            let (zk, corral) = pair.auth(scheme, auth).await;
            let label = format!("addauth {scheme} {:?}", String::from_utf8_lossy(auth));
            duo.assert_same(&label, &Request::WhoAmI, &zk, &corral);
            let (pz, pc) = pair.barrier().await;
            assert_eq!(
                (pz.is_ok(), pc.is_ok()),
                (pz.is_ok(), pz.is_ok()),
                "{label}: alive"
            );
            if pz.is_ok() {
                duo.same(0, &label, Request::WhoAmI).await;
                duo.close().await;
            }
        }
        let duo = Duo::new(targets.clone(), 1).await;
        let sasl = Request::Sasl(corral_proto::records::SaslPacket {
            token: Some(Bytes::from_static(b"token")),
        });
        duo.same(0, "sasl without SASL", sasl).await;
        let (pz, pc) = duo.pairs[0].barrier().await;
        assert_eq!(pz.is_ok(), pc.is_ok(), "alive after sasl");
    });
}

/// Frames around `jute.maxbuffer` (0xfffff): a request just under the limit is served (and its
/// ~1 MB answer sent), one just over it ends the connection.
#[test]
fn frame_size_limit() {
    let Some(targets) = servers::shared("frame_size_limit") else {
        return;
    };
    runtime().block_on(async {
        let setup = Duo::new(targets.clone(), 1).await;
        let root = "/t-frame";
        let node = format!("{root}/n");
        setup.mkdir(root).await;
        setup.mkdir(&node).await;
        setup.close().await;
        const LIMIT: usize = 0xfffff;
        // setData body: header 8, path 4 + len, data 4 + n, version 4.
        let fixed = 8 + 4 + node.len() + 4 + 4;
        for frame in [LIMIT - 1, LIMIT, LIMIT + 1, LIMIT + 4096] {
            let options = ConnectOptions {
                max_frame_bytes: 4 * LIMIT,
                ..pair::options(30_000, true)
            };
            let duo = Duo {
                targets: targets.clone(),
                pairs: vec![Pair::connect(&targets, options).await],
            };
            let data = vec![0x61; frame - fixed];
            let reply = duo
                .same(0, "setData near the limit", set_data(&node, &data, -1))
                .await;
            let (zk, corral) = duo.pairs[0].barrier().await;
            assert_eq!(
                (zk.is_ok(), corral.is_ok()),
                (frame <= LIMIT, frame <= LIMIT),
                "frame of {frame} bytes: connection alive after {reply:?}"
            );
            if frame <= LIMIT {
                duo.same(0, "getData of ~1 MB", get_data(&node, false))
                    .await;
                duo.close().await;
            }
        }
    });
}

/// Hundreds of children: creates pipelined, the listing (compared sorted), the counts, and a
/// multi deleting them all.
#[test]
fn many_children() {
    let Some(targets) = servers::shared("many_children") else {
        return;
    };
    runtime().block_on(async {
        let duo = Duo::new(targets, 1).await;
        let root = "/t-many";
        duo.mkdir(root).await;
        let names: Vec<String> = (0..300).map(|i| format!("{root}/child-{i:03}")).collect();
        let creates: Vec<Request> = names
            .iter()
            .map(|p| create(p, p.as_bytes(), open_acl(), 0))
            .chain((0..50).map(|_| create(&format!("{root}/seq-"), b"", open_acl(), 2)))
            .collect();
        for (request, (zk, corral)) in creates
            .iter()
            .zip(duo.pairs[0].pipelined(creates.clone()).await)
        {
            duo.assert_same("pipelined create", request, &zk, &corral);
        }
        duo.same(0, "listing", get_children2(root, false)).await;
        duo.same(0, "count", all_children(root)).await;
        duo.same(0, "count from the parent", all_children("/t-many"))
            .await;
        let deletes: Vec<_> = names.iter().map(|p| multi_delete(p, 0)).collect();
        duo.same(0, "delete all in one multi", Request::Multi(deletes))
            .await;
        duo.same(0, "what is left", get_children2(root, false))
            .await;
        duo.close().await;
    });
}

/// Opens a session over a raw socket, sends one request frame and returns the reply body
/// after its header, bytes as received.
async fn raw_reply(addr: &str, request: &Request) -> Bytes {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut out = BytesMut::new();
    let start = begin_frame(&mut out);
    connect_request(0, Bytes::from_static(&[0; 16]), Some(false)).encode(&mut out);
    finish_frame(&mut out, start);
    let start = begin_frame(&mut out);
    request.encode_frame(1, &mut out);
    finish_frame(&mut out, start);
    stream.write_all(&out).await.expect("write");
    let mut frames = Vec::new();
    for _ in 0..2 {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).await.expect("frame length");
        let mut body = vec![0; usize::try_from(i32::from_be_bytes(len)).expect("length")];
        stream.read_exact(&mut body).await.expect("frame");
        frames.push(body);
    }
    Bytes::from(frames.pop().expect("reply")).slice(16..)
}

/// BUG: ZooKeeper's jute writer encodes strings one UTF-16 unit at a time, so a character
/// outside the BMP leaves as two 3-byte surrogate sequences (CESU-8); Corral writes standard
/// 4-byte UTF-8. Visible wherever a reply echoes a client's string (sync).
#[test]
#[ignore = "BUG: Corral encodes non-BMP characters in reply strings as UTF-8; ZooKeeper sends CESU-8 (jute stringToByteBuffer)"]
fn bug_non_bmp_string_encoding() {
    let Some(targets) = servers::shared("bug_non_bmp_string_encoding") else {
        return;
    };
    runtime().block_on(async {
        let request = sync("/t-non-bmp/\u{1F600}");
        let zk = tokio::time::timeout(Duration::from_secs(10), raw_reply(&targets.zk, &request));
        let corral = tokio::time::timeout(
            Duration::from_secs(10),
            raw_reply(&targets.corral, &request),
        );
        let (zk, corral) = tokio::join!(zk, corral);
        assert_eq!(
            zk.expect("apache reply"),
            corral.expect("corral reply"),
            "sync reply bytes (apache 3.8, corral)"
        );
    });
}
