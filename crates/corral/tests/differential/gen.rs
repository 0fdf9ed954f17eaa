//! The seeded generator of operations. It works on a small path space under the sequence's
//! root (so that NONODE, NODEEXISTS, NOTEMPTY, BADVERSION and NOAUTH come up often), with a few
//! sessions at once, and asks `versions.rs` before producing anything that 3.8 and 3.9 answer
//! differently. It looks at the model (never at a server), so a seed replays exactly as long as
//! the servers answer the same.

use bytes::Bytes;
use corral_proto::consts::{add_watch_mode, perms, watcher_type, TTL_MS_MAX};
use corral_proto::multi::MultiOp;
use corral_proto::records::{
    AddWatchRequest, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest,
    PathRequest, PathWatchRequest, SetAclRequest, SetDataRequest, WatchesRequest,
};
use corral_proto::request::Request;
use corral_proto::{Acl, OpCode};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::model::{Model, SessionState, WatchStyle};
use crate::servers::{digest_id, SUPER_PASSWORD};
use crate::versions;

/// Digest logins the sessions use (`user:password`).
pub const USERS: [&str; 2] = ["alice:apw", "bob:bpw"];

/// Names under the root (and under each other) that operations pick from.
const RELATIVE_PATHS: [&str; 9] = [
    "", "/a", "/b", "/c", "/a/a", "/a/b", "/b/a", "/a/b/c", "/c/a",
];

/// Paths that ZooKeeper's `PathUtils.validatePath` rejects (or that only look odd), relative to
/// a parent; the targeted tests use the same list.
pub const BAD_SUFFIXES: [&str; 18] = [
    "/",
    "//a",
    "/./a",
    "/../a",
    "/a/.",
    "/a/..",
    "/a\u{0}b",
    "/a\u{1}",
    "/a\u{7f}",
    "/a\u{9f}",
    "/\u{e000}",
    "/\u{f8ff}",
    "/\u{fff0}",
    "/\u{ffff}",
    "/\u{1F600}",
    "/.a",
    "/a..",
    "/a b",
];

/// One step of a sequence. Everything but the control steps (auth, close, disconnect,
/// reconnect, expire) is a plain request.
#[derive(Debug, Clone)]
pub enum Op {
    Request {
        s: usize,
        request: Request,
    },
    /// Several requests of one session written before any reply is awaited.
    Pipelined {
        s: usize,
        requests: Vec<Request>,
    },
    AddAuth {
        s: usize,
        scheme: String,
        auth: Vec<u8>,
    },
    Close {
        s: usize,
    },
    Disconnect {
        s: usize,
    },
    /// Reconnect to the session (after an optional attempt with a wrong password), replay its
    /// auth and its watches (setWatches / setWatches2).
    Reconnect {
        s: usize,
        wrong_password_first: bool,
    },
    /// Stop talking on a short-timeout session and wait until both servers expire it.
    Expire {
        s: usize,
    },
}

pub struct Gen {
    pub rng: StdRng,
    root: String,
    short_sessions: Vec<usize>,
    /// While a multi is generated: a few paths its ops mostly share, so that ops of one multi
    /// build on each other (create a node, then its child, then change or delete it).
    focus: Vec<String>,
}

fn data(bytes: &[u8]) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(bytes))
}

impl Gen {
    pub fn new(seed: u64, root: String) -> Gen {
        Gen {
            rng: StdRng::seed_from_u64(seed),
            root,
            short_sessions: Vec::new(),
            focus: Vec::new(),
        }
    }

    /// How the sequence is shaped: (number of sessions, index of the short-timeout session,
    /// number of steps).
    /// The first steps after the root exists: some sessions log in, and now and then one
    /// watches the whole subtree (which then sees every change, in order).
    pub fn opening(&mut self, sessions: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        let watcher = self
            .rng
            .gen_bool(0.5)
            .then(|| self.rng.gen_range(0..sessions));
        for s in 0..sessions {
            // The subtree's watcher stays anonymous, so that it meets nodes it may not read.
            if Some(s) != watcher && self.rng.gen_bool(0.4) {
                let user = self.pick(&USERS);
                ops.push(Op::AddAuth {
                    s,
                    scheme: "digest".into(),
                    auth: user.as_bytes().to_vec(),
                });
            }
        }
        if let Some(s) = watcher {
            ops.push(Op::Request {
                s,
                request: Request::AddWatch(AddWatchRequest {
                    path: self.root.clone(),
                    mode: add_watch_mode::PERSISTENT_RECURSIVE,
                }),
            });
        }
        ops
    }

    pub fn shape(&mut self) -> (usize, Option<usize>, usize) {
        let sessions = self.rng.gen_range(2..=4);
        let short = self
            .rng
            .gen_bool(0.3)
            .then(|| self.rng.gen_range(1..sessions));
        let steps = self.rng.gen_range(40..=90);
        self.short_sessions = short.into_iter().collect();
        (sessions, short, steps)
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items.choose(&mut self.rng).expect("non-empty").clone()
    }

    /// A path for any operation: mostly existing nodes and their would-be children, some
    /// fixed names (often missing), a few invalid ones.
    fn path(&mut self, model: &Model) -> String {
        self.path_in(model, false)
    }

    /// A path for a delete or setACL: never the sequence's root, whose removal or lock-down
    /// would leave the rest of the sequence with nothing to do.
    fn write_path(&mut self, model: &Model) -> String {
        self.path_in(model, true)
    }

    fn path_in(&mut self, model: &Model, spare_root: bool) -> String {
        let path = self.any_path(model);
        if spare_root && path == self.root {
            self.child_of_existing(model)
        } else {
            path
        }
    }

    fn any_path(&mut self, model: &Model) -> String {
        if !self.focus.is_empty() && self.rng.gen_bool(0.7) {
            let focus = self.focus.clone();
            return self.pick(&focus);
        }
        match self.rng.gen_range(0..100) {
            0..=3 => self.bad_path(model),
            4..=63 => self.existing(model),
            64..=83 => self.child_of_existing(model),
            _ => {
                let rel = self.pick(&RELATIVE_PATHS);
                format!("{}{rel}", self.root)
            }
        }
    }

    fn bad_path(&mut self, model: &Model) -> String {
        let base = self.existing(model);
        let suffix = self.pick(&BAD_SUFFIXES);
        format!("{base}{suffix}")
    }

    /// An existing node of the subtree; the root itself only now and then, so that an ACL or a
    /// delete on it does not end the sequence's interest early.
    fn existing(&mut self, model: &Model) -> String {
        let nodes: Vec<&String> = model.nodes.keys().filter(|p| **p != self.root).collect();
        if nodes.is_empty() || self.rng.gen_bool(0.1) {
            self.root.clone()
        } else {
            (*self.pick(&nodes)).clone()
        }
    }

    fn child_of_existing(&mut self, model: &Model) -> String {
        let parent = self.existing(model);
        let name = self.pick(&["a", "b", "c"]);
        format!("{parent}/{name}")
    }

    /// A path to create. A sequential create never names the root itself: the suffix would
    /// come from the counter of `/`, which every concurrent sequence moves.
    fn create_path(&mut self, model: &Model, sequential: bool) -> String {
        let path = self.create_path_any(model, sequential);
        if sequential && path == self.root {
            format!("{}/s-", self.root)
        } else {
            path
        }
    }

    fn create_path_any(&mut self, model: &Model, sequential: bool) -> String {
        if !self.focus.is_empty() && self.rng.gen_bool(0.7) {
            let focus = self.focus.clone();
            let base = self.pick(&focus);
            return if sequential {
                format!("{base}/s-")
            } else {
                base
            };
        }
        if sequential && self.rng.gen_bool(0.7) {
            let parent = self.existing(model);
            let suffix = self.pick(&["/s-", "/", "/q"]);
            return format!("{parent}{suffix}");
        }
        match self.rng.gen_range(0..100) {
            0..=2 => self.bad_path(model),
            3..=74 => self.child_of_existing(model),
            75..=84 => self.existing(model),
            _ => {
                let rel = self.pick(&RELATIVE_PATHS);
                format!("{}{rel}", self.root)
            }
        }
    }

    fn data(&mut self) -> Option<Bytes> {
        match self.rng.gen_range(0..10) {
            0 => None,
            1 => data(b""),
            2 => data(&[0x42; 100]),
            _ => {
                let len = self.rng.gen_range(1..8);
                let bytes: Vec<u8> = (0..len).map(|_| self.rng.gen()).collect();
                data(&bytes)
            }
        }
    }

    fn version(&mut self) -> i32 {
        match self.rng.gen_range(0..10) {
            0..=3 => -1,
            4..=5 => 0,
            6 => 1,
            7 => 2,
            8 => -2,
            _ => 1000,
        }
    }

    fn digest(&self, user: &str) -> String {
        digest_id(user)
    }

    pub fn acl(&mut self) -> Vec<Acl> {
        let alice = self.digest(USERS[0]);
        let bob = self.digest(USERS[1]);
        match self.rng.gen_range(0..45) {
            0..=9 | 30.. => vec![Acl::new(perms::ALL, "world", "anyone")],
            10 => vec![Acl::new(perms::READ, "world", "anyone")],
            11 => vec![Acl::new(perms::ALL, "auth", "")],
            12 => vec![Acl::new(perms::ALL, "digest", &alice)],
            13 => vec![
                Acl::new(perms::ALL, "digest", &alice),
                Acl::new(perms::READ, "world", "anyone"),
            ],
            14 => vec![
                Acl::new(perms::READ | perms::CREATE, "world", "anyone"),
                Acl::new(perms::ALL, "digest", &bob),
            ],
            15 => vec![Acl::new(perms::ADMIN, "digest", &bob)],
            16 => vec![Acl::new(perms::ALL, "ip", "127.0.0.1")],
            17 => vec![Acl::new(perms::ALL, "ip", "127.0.0.0/8")],
            18 => vec![
                Acl::new(perms::ALL, "ip", "10.0.0.0/8"),
                Acl::new(perms::CREATE | perms::DELETE, "world", "anyone"),
            ],
            19 => vec![Acl::new(perms::ALL & !perms::READ, "world", "anyone")],
            20 => vec![Acl::new(0, "world", "anyone")],
            21 => {
                let bits = self.rng.gen_range(0..=31);
                vec![Acl::new(bits, "world", "anyone")]
            }
            22 => vec![
                Acl::new(perms::ALL, "world", "anyone"),
                Acl::new(perms::ALL, "world", "anyone"),
            ],
            23 => vec![
                Acl::new(perms::READ, "auth", "whatever"),
                Acl::new(perms::ALL, "digest", &alice),
            ],
            // Invalid ones.
            24 => Vec::new(),
            25 => vec![Acl::new(perms::ALL, "world", "someone")],
            26 => vec![Acl::new(perms::ALL, "digest", "nocolon")],
            27 => vec![Acl::new(perms::ALL, "ip", "1.2.3")],
            28 => vec![Acl::new(perms::ALL, "bogus", "x")],
            _ => vec![Acl::new(perms::ALL, "digest", "u:h:")],
        }
    }

    fn live_session(&mut self, model: &Model) -> Option<usize> {
        let live: Vec<usize> = (0..model.sessions.len())
            .filter(|s| model.live(*s))
            .collect();
        (!live.is_empty()).then(|| self.pick(&live))
    }

    /// The next step; `None` when no session is left.
    pub fn next(&mut self, model: &Model) -> Option<Op> {
        let disconnected: Vec<usize> = (0..model.sessions.len())
            .filter(|s| model.sessions[*s].state == SessionState::Disconnected)
            .collect();
        if !disconnected.is_empty() && self.rng.gen_bool(0.4) {
            let s = self.pick(&disconnected);
            let wrong_password_first = self.rng.gen_bool(0.3);
            return Some(Op::Reconnect {
                s,
                wrong_password_first,
            });
        }
        let expirable: Vec<usize> = (0..model.sessions.len())
            .filter(|s| model.live(*s) && model.sessions[*s].short_timeout)
            .collect();
        if !expirable.is_empty() && self.rng.gen_bool(0.02) {
            return Some(Op::Expire {
                s: self.pick(&expirable),
            });
        }
        let s = match self.live_session(model) {
            Some(s) => s,
            None => {
                let s = *disconnected.first()?;
                return Some(Op::Reconnect {
                    s,
                    wrong_password_first: false,
                });
            }
        };
        loop {
            if let Some(op) = self.try_op(model, s) {
                return Some(op);
            }
        }
    }

    fn try_op(&mut self, model: &Model, s: usize) -> Option<Op> {
        let request = |request| Some(Op::Request { s, request });
        // A small tree makes for dull sequences: grow it first.
        let roll = if model.nodes.len() < 4 && self.rng.gen_bool(0.5) {
            0
        } else {
            self.rng.gen_range(0..1000)
        };
        match roll {
            0..=219 => request(self.create(model)),
            220..=319 => request(Request::Delete(DeleteRequest {
                path: self.write_path(model),
                version: self.version(),
            })),
            320..=419 => request(Request::SetData(SetDataRequest {
                path: self.path(model),
                data: self.data(),
                version: self.version(),
            })),
            420..=489 => {
                let path = if self.rng.gen_bool(0.5) {
                    self.existing(model)
                } else {
                    self.path(model)
                };
                let watch = self.standard_watch(model, s, &path);
                request(Request::GetData(PathWatchRequest { path, watch }))
            }
            490..=539 => {
                let path = self.path(model);
                if !versions::exists_allowed(model, s, &path) {
                    return None;
                }
                let watch = self.standard_watch(model, s, &path);
                request(Request::Exists(PathWatchRequest { path, watch }))
            }
            540..=599 => {
                let path = if self.rng.gen_bool(0.5) {
                    self.existing(model)
                } else {
                    self.path(model)
                };
                let watch = self.standard_watch(model, s, &path);
                let r = PathWatchRequest { path, watch };
                request(if self.rng.gen_bool(0.5) {
                    Request::GetChildren(r)
                } else {
                    Request::GetChildren2(r)
                })
            }
            600..=639 => request(Request::GetAcl(PathRequest {
                path: self.path(model),
            })),
            640..=689 => request(Request::SetAcl(SetAclRequest {
                path: self.write_path(model),
                acl: self.acl(),
                version: self.version(),
            })),
            690..=769 => request(Request::Multi(self.multi(model))),
            770..=794 => request(Request::MultiRead(self.multi_read(model))),
            795..=809 => request(Request::GetAllChildrenNumber(PathRequest {
                path: self.path(model),
            })),
            810..=824 => {
                let prefix = match self.rng.gen_range(0..4) {
                    0 => "/".to_owned(),
                    1 => format!("{}/a", self.root),
                    _ => self.path(model),
                };
                request(Request::GetEphemerals(PathRequest { path: prefix }))
            }
            825..=834 => {
                let path = self.path(model);
                if !crate::versions::echo_allowed(&path) {
                    return None;
                }
                request(Request::Sync(PathRequest { path }))
            }
            835..=844 => request(Request::WhoAmI),
            845..=864 => Some(self.add_auth(s)),
            865..=899 => self.add_watch(model, s),
            900..=919 => self.watches_request(model, s, true),
            920..=939 => self.watches_request(model, s, false),
            940..=964 => self.pipelined(model, s),
            965..=974 => Some(Op::Close { s }),
            // A short-timeout session is never left without a connection: it would expire at
            // a moment of its own choosing instead of at an Expire step.
            _ => (!model.sessions[s].short_timeout).then_some(Op::Disconnect { s }),
        }
    }

    /// Whether a read of `s` on `path` arms a standard watch (only where allowed).
    fn standard_watch(&mut self, model: &Model, s: usize, path: &str) -> bool {
        self.rng.gen_bool(0.65) && versions::watch_allowed(model, s, path, WatchStyle::Standard)
    }

    fn create(&mut self, model: &Model) -> Request {
        let kind = self.rng.gen_range(0..10);
        let flags = match self.rng.gen_range(0..40) {
            0..=17 => 0,
            18..=22 => 1,
            23..=29 => 2,
            30..=33 => 3,
            34..=35 => 4,
            36 => 5,
            37 => 6,
            _ => self.pick(&[7, -1, 100]),
        };
        let (flags, ttl) = match kind {
            7 if self.rng.gen_bool(0.7) => (4, -1),
            8.. => self.ttl_args(flags),
            _ => (flags, -1),
        };
        let request = CreateRequest {
            path: self.create_path(model, matches!(flags, 2 | 3 | 6)),
            data: self.data(),
            acl: self.acl(),
            flags,
        };
        match kind {
            0..=3 => Request::Create(request),
            4..=6 => Request::Create2(request),
            7 => Request::CreateContainer(request),
            _ => Request::CreateTtl(CreateTtlRequest {
                path: request.path,
                data: request.data,
                acl: request.acl,
                flags,
                ttl,
            }),
        }
    }

    /// Flags and ttl of a createTTL, never the combination `versions` rules out.
    fn ttl_args(&mut self, flags: i32) -> (i32, i64) {
        let flags = if self.rng.gen_bool(0.85) {
            self.pick(&[5, 6])
        } else {
            flags
        };
        let ttl = match self.rng.gen_range(0..16) {
            0 => 0,
            1 => -5,
            2 => TTL_MS_MAX,
            3 => TTL_MS_MAX + 1,
            _ => self.rng.gen_range(1..1_000_000),
        };
        if versions::create_ttl_allowed(flags, ttl) {
            (flags, ttl)
        } else {
            (flags, ttl.abs())
        }
    }

    fn multi(&mut self, model: &Model) -> Vec<MultiOp> {
        let near = self.child_of_existing(model);
        let name = self.pick(&["a", "b"]);
        let existing = self.existing(model);
        self.focus = vec![format!("{near}/{name}"), near, existing];
        let ops = self.multi_ops(model);
        self.focus.clear();
        ops
    }

    fn multi_ops(&mut self, model: &Model) -> Vec<MultiOp> {
        let count = self.rng.gen_range(0..=5);
        let mut ops = Vec::with_capacity(count);
        while ops.len() < count {
            let op = match self.rng.gen_range(0..10) {
                0..=3 => {
                    let header =
                        self.pick(&[OpCode::Create, OpCode::Create2, OpCode::CreateContainer]);
                    let flags = self.rng.gen_range(-1..=7);
                    if !versions::multi_create_allowed(header, flags) {
                        continue;
                    }
                    let sequential = matches!(flags, 2 | 3 | 6);
                    MultiOp::Create {
                        op: header,
                        request: CreateRequest {
                            path: self.create_path(model, sequential),
                            data: self.data(),
                            acl: self.acl(),
                            flags,
                        },
                    }
                }
                4 => {
                    let flags = self.pick(&[5, 6, 0, 1, 2, 4]);
                    let (flags, ttl) = self.ttl_args(flags);
                    if !versions::multi_create_allowed(OpCode::CreateTtl, flags) {
                        continue;
                    }
                    MultiOp::CreateTtl(CreateTtlRequest {
                        path: self.create_path(model, matches!(flags, 2 | 3 | 6)),
                        data: self.data(),
                        acl: self.acl(),
                        flags,
                        ttl,
                    })
                }
                5..=6 => MultiOp::Delete(DeleteRequest {
                    path: self.write_path(model),
                    version: self.version(),
                }),
                7..=8 => MultiOp::SetData(SetDataRequest {
                    path: self.path(model),
                    data: self.data(),
                    version: self.version(),
                }),
                _ => MultiOp::Check(CheckVersionRequest {
                    path: self.path(model),
                    version: self.version(),
                }),
            };
            ops.push(op);
        }
        ops
    }

    fn multi_read(&mut self, model: &Model) -> Vec<MultiOp> {
        let count = self.rng.gen_range(0..=4);
        (0..count)
            .map(|_| {
                let r = PathWatchRequest {
                    path: self.path(model),
                    watch: self.rng.gen_bool(0.2),
                };
                if self.rng.gen_bool(0.5) {
                    MultiOp::GetData(r)
                } else {
                    MultiOp::GetChildren(r)
                }
            })
            .collect()
    }

    fn short(&self, s: usize) -> bool {
        self.short_sessions.contains(&s)
    }

    fn add_auth(&mut self, s: usize) -> Op {
        let super_login = format!("super:{SUPER_PASSWORD}");
        let (scheme, auth) = match self.rng.gen_range(0..20) {
            0..=7 => ("digest", USERS[0].to_owned()),
            8..=13 => ("digest", USERS[1].to_owned()),
            14..=15 => ("digest", super_login),
            16 => ("digest", "super:wrong".to_owned()),
            17..=18 => ("ip", "127.0.0.1".to_owned()),
            // An unknown scheme fails and the server closes the connection, which a
            // short-timeout session must not lose (see Disconnect).
            _ if self.short(s) => ("digest", USERS[0].to_owned()),
            _ => ("bogus", "x".to_owned()),
        };
        Op::AddAuth {
            s,
            scheme: scheme.to_owned(),
            auth: auth.into_bytes(),
        }
    }

    fn add_watch(&mut self, model: &Model, s: usize) -> Option<Op> {
        let path = self.path(model);
        let recursive = self.rng.gen_bool(0.5);
        let style = if recursive {
            WatchStyle::Recursive
        } else {
            WatchStyle::Persistent
        };
        if !versions::watch_allowed(model, s, &path, style) {
            return None;
        }
        Some(Op::Request {
            s,
            request: Request::AddWatch(AddWatchRequest {
                path,
                mode: if recursive {
                    add_watch_mode::PERSISTENT_RECURSIVE
                } else {
                    add_watch_mode::PERSISTENT
                },
            }),
        })
    }

    fn watches_request(&mut self, model: &Model, s: usize, check: bool) -> Option<Op> {
        // Mostly paths this session watched, so that the answer is often "yes".
        let watched: Vec<String> = model.sessions[s].styles.keys().cloned().collect();
        let path = if !watched.is_empty() && self.rng.gen_bool(0.7) {
            let mut sorted = watched;
            sorted.sort();
            self.pick(&sorted)
        } else {
            self.path(model)
        };
        let kind = self.pick(&[
            watcher_type::CHILDREN,
            watcher_type::DATA,
            watcher_type::ANY,
        ]);
        let allowed = if check {
            versions::check_watches_allowed(model, s, &path, kind)
        } else {
            versions::remove_watches_allowed(model, s, &path, kind)
        };
        if !allowed {
            return None;
        }
        let r = WatchesRequest {
            path,
            watcher_type: kind,
        };
        Some(Op::Request {
            s,
            request: if check {
                Request::CheckWatches(r)
            } else {
                Request::RemoveWatches(r)
            },
        })
    }

    /// A few requests of one session in flight at once: writes, reads without watches, sync.
    fn pipelined(&mut self, model: &Model, s: usize) -> Option<Op> {
        let count = self.rng.gen_range(2..=5);
        let requests = (0..count)
            .map(|_| match self.rng.gen_range(0..8) {
                0..=1 => self.create(model),
                2 => Request::Delete(DeleteRequest {
                    path: self.write_path(model),
                    version: self.version(),
                }),
                3 => Request::SetData(SetDataRequest {
                    path: self.path(model),
                    data: self.data(),
                    version: self.version(),
                }),
                4 => Request::GetData(PathWatchRequest {
                    path: self.path(model),
                    watch: false,
                }),
                5 => Request::GetChildren2(PathWatchRequest {
                    path: self.path(model),
                    watch: false,
                }),
                6 => Request::Multi(self.multi(model)),
                _ => Request::Sync(PathRequest {
                    path: self.existing(model),
                }),
            })
            .collect();
        Some(Op::Pipelined { s, requests })
    }
}
