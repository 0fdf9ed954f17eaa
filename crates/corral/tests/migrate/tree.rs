//! Reading a whole tree through the client API (data, Stat, ACL, children of every node) and
//! comparing two such readings node by node.

use std::collections::BTreeMap;

use bytes::Bytes;
use corral_client::Client;
use corral_proto::response::Response;
use corral_proto::{Acl, Stat};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub data: Option<Bytes>,
    pub stat: Stat,
    pub acl: Vec<Acl>,
    pub children: Vec<String>,
}

/// Every node reachable from "/", by path.
pub async fn snapshot_tree(client: &Client) -> BTreeMap<String, NodeView> {
    let mut out = BTreeMap::new();
    let mut pending = vec!["/".to_string()];
    while let Some(path) = pending.pop() {
        let data = client.get_data(&path, false).await.unwrap();
        let Ok(Response::GetData { data, stat }) = data.result else {
            panic!("getData {path}: {:?}", data.result);
        };
        let acl = client.get_acl(&path).await.unwrap();
        let Ok(Response::GetAcl { acl, .. }) = acl.result else {
            panic!("getACL {path}: {:?}", acl.result);
        };
        let children = client.get_children(&path, false).await.unwrap();
        let Ok(Response::GetChildren { mut children }) = children.result else {
            panic!("getChildren {path}: {:?}", children.result);
        };
        children.sort();
        for child in &children {
            pending.push(if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            });
        }
        out.insert(
            path,
            NodeView {
                data,
                stat,
                acl,
                children,
            },
        );
    }
    out
}

pub fn assert_same_tree(
    a: &BTreeMap<String, NodeView>,
    b: &BTreeMap<String, NodeView>,
    a_name: &str,
    b_name: &str,
) {
    let mut problems = Vec::new();
    for (path, node) in a {
        match b.get(path) {
            None => problems.push(format!("{path}: only in {a_name}")),
            Some(other) if other != node => problems.push(format!(
                "{path}:\n  {a_name}: {node:?}\n  {b_name}: {other:?}"
            )),
            Some(_) => {}
        }
    }
    for path in b.keys().filter(|p| !a.contains_key(*p)) {
        problems.push(format!("{path}: only in {b_name}"));
    }
    assert!(
        problems.is_empty(),
        "{} of {} nodes differ:\n{}",
        problems.len(),
        a.len(),
        problems.join("\n")
    );
    assert!(
        a.len() > 30,
        "the workload should have made a sizeable tree"
    );
}
