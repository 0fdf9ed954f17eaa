//! Memory per znode, measured (ignored by default: run with
//! `cargo test -p corral-tree --release --test memory -- --ignored --nocapture`).
mod common;

use corral_proto::records::CreateTtlRequest;
use corral_proto::OpCode;
use corral_tree::{DataTree, TreeConfig, Txn, TxnKind, WriteOp};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn tree_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DataTree>();
}

#[test]
#[ignore]
fn overhead_per_znode_beyond_path_and_data() {
    const N: usize = 1_000_000;
    let mut tree = DataTree::new(TreeConfig::default());
    let session = TxnKind::CreateSession {
        timeout_ms: 1,
        password: [0; 16],
    };
    tree.apply(
        1,
        &Txn {
            session_id: 9,
            cxid: 0,
            time_ms: 0,
            kind: session,
        },
    );
    let acl = common::open();
    let mut zxid = 1;
    let mut payload = 0u64;
    let mut create = |tree: &mut DataTree, path: String, data: &[u8], payload: &mut u64| {
        zxid += 1;
        *payload += (path.len() + data.len()) as u64;
        let op = WriteOp::Create {
            op: OpCode::Create,
            request: CreateTtlRequest {
                path,
                data: Some(bytes::Bytes::copy_from_slice(data)),
                acl: acl.clone(),
                flags: 0,
                ttl: -1,
            },
        };
        let out = tree.apply(
            zxid,
            &Txn {
                session_id: 9,
                cxid: 0,
                time_ms: zxid,
                kind: TxnKind::Write {
                    identities: vec![],
                    op,
                },
            },
        );
        assert!(out.result.is_ok());
    };
    for i in 0..1000 {
        create(&mut tree, format!("/bench{i:04}"), b"", &mut payload);
    }
    let before = rss_bytes();
    let payload_before = payload;
    for i in 0..N {
        create(
            &mut tree,
            format!("/bench{:04}/node-{i:010}", i % 1000),
            &[7u8; 10],
            &mut payload,
        );
    }
    let grown = rss_bytes().saturating_sub(before);
    let payload = payload - payload_before;
    println!(
        "{N} znodes: RSS +{} MB, path+data {} MB, overhead {} bytes/znode",
        grown >> 20,
        payload >> 20,
        grown.saturating_sub(payload) / N as u64
    );
}
