//! A shadow of what one generated sequence has done to its subtree, kept only as far as the
//! generator and the comparison need it to stay clear of the known 3.8 vs 3.9 differences
//! (`versions.rs`): which nodes exist, their ACLs (to know what a session may read), their
//! ephemeral owners (to know what a session close deletes), each session's identities, the
//! watch style each session uses on each path, and the watches each session's client would
//! re-register after a reconnect.
//!
//! The model never decides what a reply should be: both servers' replies are compared with each
//! other. It is updated from the Apache ZooKeeper side's successful replies (which, once the
//! comparison passed, are Corral's too). A wrong model can only make the generator avoid too
//! much or too little, which shows up as a mismatch and is fixed here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use corral_proto::consts::{event_type, perms};
use corral_proto::{Acl, Id};

/// The address every test connection comes from.
pub const CLIENT_IP: &str = "127.0.0.1";

#[derive(Debug, Clone)]
pub struct Node {
    pub acl: Vec<Acl>,
    /// The ACL came from expanding `auth` over two or more ids, whose order in ZooKeeper is the
    /// hash order of the connection's id set (see `compare.rs`).
    pub acl_unordered: bool,
    /// The session that owns this ephemeral node.
    pub owner: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Live,
    /// The connection is gone (dropped by the test or closed by the server), the session not.
    Disconnected,
    /// Closed or expired.
    Gone,
}

/// How a session watches one path; it keeps one style per path for the whole sequence (see
/// `versions::WATCH_MODES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStyle {
    Standard,
    Persistent,
    Recursive,
}

/// The watches a client library would hold for its session and re-register with setWatches.
#[derive(Debug, Clone, Default)]
pub struct ClientWatches {
    pub data: BTreeSet<String>,
    pub exist: BTreeSet<String>,
    pub child: BTreeSet<String>,
    pub persistent: BTreeSet<String>,
    pub recursive: BTreeSet<String>,
}

impl ClientWatches {
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// What a delivered event consumes on the client side.
    pub fn on_event(&mut self, event: i32, path: &str) {
        match event {
            event_type::NODE_CREATED | event_type::NODE_DATA_CHANGED => {
                self.data.remove(path);
                self.exist.remove(path);
            }
            event_type::NODE_DELETED => {
                self.data.remove(path);
                self.exist.remove(path);
                self.child.remove(path);
            }
            event_type::NODE_CHILDREN_CHANGED => {
                self.child.remove(path);
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone)]
pub struct SessionModel {
    pub state: SessionState,
    /// Created with a short timeout so that it can be expired.
    pub short_timeout: bool,
    /// Successful auth packets `(scheme, auth)`, replayed after a reconnect.
    pub auth_packets: Vec<(String, Vec<u8>)>,
    /// Identities besides `ip:127.0.0.1`, as a set in the order first added.
    pub ids: Vec<Id>,
    pub styles: HashMap<String, WatchStyle>,
    pub client_watches: ClientWatches,
}

impl SessionModel {
    pub fn new(short_timeout: bool) -> SessionModel {
        SessionModel {
            state: SessionState::Live,
            short_timeout,
            auth_packets: Vec::new(),
            ids: Vec::new(),
            styles: HashMap::new(),
            client_watches: ClientWatches::default(),
        }
    }

    /// Every identity of the connection, `ip` first.
    pub fn all_ids(&self) -> Vec<Id> {
        let mut ids = vec![Id {
            scheme: "ip".into(),
            id: CLIENT_IP.into(),
        }];
        ids.extend(self.ids.iter().cloned());
        ids
    }

    fn add_id(&mut self, id: Id) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub root: String,
    pub nodes: BTreeMap<String, Node>,
    pub sessions: Vec<SessionModel>,
    /// Sessions that ever set a watch on a path.
    pub ever_watched: HashMap<String, BTreeSet<usize>>,
}

pub fn open_acl() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

impl Model {
    pub fn new(root: String) -> Model {
        Model {
            root,
            nodes: BTreeMap::new(),
            sessions: Vec::new(),
            ever_watched: HashMap::new(),
        }
    }

    pub fn live(&self, s: usize) -> bool {
        self.sessions[s].state == SessionState::Live
    }

    /// Whether `perm` is granted by `acl` to `ids`, as `ZooKeeperServer.checkACL` decides.
    pub fn permits(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
        if acl.is_empty() || ids.iter().any(|id| id.scheme == "super") {
            return true;
        }
        acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
            if a.id.scheme == "world" && a.id.id == "anyone" {
                return true;
            }
            ids.iter()
                .filter(|id| id.scheme == a.id.scheme)
                .any(|id| match a.id.scheme.as_str() {
                    "digest" => id.id == a.id.id,
                    "ip" => ip_matches(&id.id, &a.id.id),
                    _ => false,
                })
        })
    }

    pub fn session_permits(&self, s: usize, acl: &[Acl], perm: i32) -> bool {
        Model::permits(acl, perm, &self.sessions[s].all_ids())
    }

    /// `Some(readable)` for an existing node, `None` for a missing one.
    pub fn can_read(&self, s: usize, path: &str) -> Option<bool> {
        let node = self.nodes.get(path)?;
        Some(self.session_permits(s, &node.acl, perms::READ))
    }

    /// The ACL ZooKeeper stores for a create/setACL by `s` that succeeded (`fixupACL`):
    /// duplicates removed, `auth` entries expanded to the session's digest ids.
    pub fn fixup(&self, s: usize, acl: &[Acl]) -> (Vec<Acl>, bool) {
        let mut unique: Vec<&Acl> = Vec::new();
        for a in acl {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        let digests: Vec<&Id> = self.sessions[s]
            .ids
            .iter()
            .filter(|id| id.scheme == "digest")
            .collect();
        let mut out = Vec::new();
        let mut unordered = false;
        for a in unique {
            if a.id.scheme == "auth" {
                unordered |= digests.len() > 1;
                for id in &digests {
                    out.push(Acl {
                        perms: a.perms,
                        id: (*id).clone(),
                    });
                }
            } else {
                out.push(a.clone());
            }
        }
        (out, unordered)
    }

    pub fn note_auth(&mut self, s: usize, scheme: &str, auth: &[u8], super_digest: &str) {
        let session = &mut self.sessions[s];
        session
            .auth_packets
            .push((scheme.to_owned(), auth.to_vec()));
        match scheme {
            "digest" => {
                let digest = crate::servers::digest_id(&String::from_utf8_lossy(auth));
                if digest == super_digest {
                    session.add_id(Id {
                        scheme: "super".into(),
                        id: String::new(),
                    });
                }
                session.add_id(Id {
                    scheme: "digest".into(),
                    id: digest,
                });
            }
            "ip" => session.add_id(Id {
                scheme: "ip".into(),
                id: CLIENT_IP.into(),
            }),
            _ => {}
        }
    }

    /// A successful create by `s` of `path` (the path the server answered).
    pub fn created(&mut self, s: usize, path: &str, requested_acl: &[Acl], ephemeral: bool) {
        let (acl, acl_unordered) = self.fixup(s, requested_acl);
        self.nodes.insert(
            path.to_owned(),
            Node {
                acl,
                acl_unordered,
                owner: ephemeral.then_some(s),
            },
        );
    }

    pub fn deleted(&mut self, path: &str) {
        self.nodes.remove(path);
    }

    pub fn acl_set(&mut self, s: usize, path: &str, requested_acl: &[Acl]) {
        let (acl, acl_unordered) = self.fixup(s, requested_acl);
        if let Some(node) = self.nodes.get_mut(path) {
            node.acl = acl;
            node.acl_unordered = acl_unordered;
        }
    }

    /// The session ended (close or expiry): its ephemerals go.
    pub fn session_ended(&mut self, s: usize) {
        self.nodes.retain(|_, n| n.owner != Some(s));
        let session = &mut self.sessions[s];
        session.state = SessionState::Gone;
        session.client_watches = ClientWatches::default();
    }

    pub fn note_watch(&mut self, s: usize, path: &str, style: WatchStyle) {
        self.sessions[s]
            .styles
            .entry(path.to_owned())
            .or_insert(style);
        self.ever_watched
            .entry(path.to_owned())
            .or_default()
            .insert(s);
    }

    /// Whether `s` may use `style` on `path` without mixing modes on one path.
    pub fn style_allows(&self, s: usize, path: &str, style: WatchStyle) -> bool {
        self.sessions[s]
            .styles
            .get(path)
            .is_none_or(|have| *have == style)
    }

    /// Whether no session but `s` ever watched `path`.
    pub fn watched_only_by(&self, s: usize, path: &str) -> bool {
        self.ever_watched
            .get(path)
            .is_none_or(|set| set.iter().all(|w| *w == s))
    }
}

/// IPv4 `addr` against an ACL expression `a.b.c.d[/bits]`, as `IPAuthenticationProvider`.
fn ip_matches(addr: &str, expr: &str) -> bool {
    let (net, bits) = match expr.split_once('/') {
        Some((net, bits)) => match bits.parse::<u32>() {
            Ok(bits) if bits <= 32 => (net, bits),
            _ => return false,
        },
        None => (expr, 32),
    };
    let (Some(a), Some(n)) = (ipv4(addr), ipv4(net)) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    a & mask == n & mask
}

fn ipv4(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut value = 0u32;
    for part in parts {
        value = (value << 8) | u32::from(part.parse::<u8>().ok()?);
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_prefixes() {
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(ip_matches("127.0.0.1", "127.0.0.0/8"));
        assert!(!ip_matches("127.0.0.1", "10.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "10.0.0.0/0"));
    }

    #[test]
    fn auth_expands_to_digest_ids_only() {
        let mut model = Model::new("/r".into());
        model.sessions.push(SessionModel::new(false));
        model.note_auth(0, "digest", b"u1:p1", "super:x");
        let (acl, unordered) = model.fixup(
            0,
            &[
                Acl::new(31, "auth", ""),
                Acl::new(1, "world", "anyone"),
                Acl::new(1, "world", "anyone"),
            ],
        );
        assert_eq!(acl.len(), 2);
        assert_eq!(acl[0].id.scheme, "digest");
        assert!(!unordered);
    }
}
