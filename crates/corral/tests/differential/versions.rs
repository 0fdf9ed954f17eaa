//! The one place that lists how Apache ZooKeeper 3.8.0 (what Debian ships, what we compare
//! against) and 3.9 (what Corral implements) are expected to differ, and what the differential
//! tests do about each: the generator avoids exactly the requests that would show the
//! difference, or the comparison normalises exactly the fields that differ. Nothing else is
//! excused. Each entry has a test in `corral39.rs` that asserts Corral's 3.9 behaviour directly.
//!
//! Sources: `apache/zookeeper`, `git diff release-3.8.0-1 release-3.9.4` of the server, and the
//! JIRA issues named below. What runs is Debian's `3.8.0-11+deb12u2`, which carries one 3.9.2
//! fix: ZOOKEEPER-4799 / CVE-2024-23944 (watch events are dropped for connections that may not
//! READ the node). So event ACL filtering is no difference and is compared strictly. Each entry
//! below was checked against that build by turning its handling off and watching sequences
//! fail, except `CREATE_TTL_NON_TTL_MODE`, which would stop the shared server.

use corral_proto::consts::{watcher_type, CreateMode};
use corral_proto::OpCode;

use crate::model::{Model, WatchStyle};

/// One expected difference.
#[derive(Debug)]
pub struct VersionDifference {
    pub key: &'static str,
    /// ZooKeeper JIRA (and the first release with the 3.9 behaviour).
    pub reference: &'static str,
    pub what: &'static str,
    pub handling: &'static str,
}

pub const NOTIFICATION_ZXID: &str = "notification-zxid";
pub const EXISTS_NEEDS_READ: &str = "exists-needs-read";
pub const BARE_CHECK: &str = "bare-check";
pub const MULTI_CREATE_TYPES: &str = "multi-create-types";
pub const CREATE_TTL_NON_TTL_MODE: &str = "create-ttl-non-ttl-mode";
pub const WATCH_MODES: &str = "watch-modes";

/// The table. `corral39.rs` has one test per entry.
pub const DIFFERENCES: &[VersionDifference] = &[
    VersionDifference {
        key: NOTIFICATION_ZXID,
        reference: "ZOOKEEPER-4655 (3.9.0)",
        what: "a watch notification's header zxid is the zxid of the txn that fired it; 3.8 \
               sends -1 (events replayed by setWatches carry -1 in both)",
        handling: "normalised: an event matches when 3.8 sent -1 and Corral sent a positive \
                   zxid (or -1 for a setWatches replay, where both must be -1)",
    },
    VersionDifference {
        key: EXISTS_NEEDS_READ,
        reference: "ZOOKEEPER-2590 (3.9.2, 3.8.4)",
        what: "exists on an existing node the caller may not READ fails with NOAUTH and sets \
               no watch; 3.8.0 answers the Stat and sets the watch",
        handling: "avoided: the generator sends exists only for missing nodes or nodes the \
                   session may read (per the model)",
    },
    VersionDifference {
        key: BARE_CHECK,
        reference: "ZOOKEEPER-2623 (3.9.3)",
        what: "a check (13) outside multi is answered UNIMPLEMENTED and the connection closed; \
               3.8 executes it",
        handling: "avoided: check is only generated inside multi",
    },
    VersionDifference {
        key: MULTI_CREATE_TYPES,
        reference: "ZOOKEEPER-4026 (3.9.0)",
        what: "multi keeps each create op's header type: create2 (15) answers Create2{path, \
               stat} (3.8: Create{path}); a createContainer header makes a container whatever \
               the flags (3.8: the flags decide); flags that are no CreateMode, or a TTL mode \
               under a create/create2/createContainer header, fail the whole multi with \
               MARSHALLINGERROR (3.8: that op fails with BADARGUMENTS)",
        handling: "create2 results normalised (3.8's Create{path} matches Corral's Create2 with \
                   the same path); createContainer headers only with CONTAINER flags; no \
                   invalid or TTL flags under create/create2/createContainer headers",
    },
    VersionDifference {
        key: CREATE_TTL_NON_TTL_MODE,
        reference: "corral-tree SEMANTICS.md (3.8.0 and 3.9 alike throw in processTxn)",
        what: "createTTL (21) with a non-TTL mode and ttl < 0 passes validation and then throws \
               in processTxn: Apache ZooKeeper 3.8.0 stops serving; Corral answers \
               BADARGUMENTS (a deliberate deviation)",
        handling: "avoided (it would take the shared Apache server down)",
    },
    VersionDifference {
        key: WATCH_MODES,
        reference: "ZOOKEEPER-4466, ZOOKEEPER-4471, ZOOKEEPER-4472 (3.9.0)",
        what: "3.9 keeps standard, persistent and persistent-recursive watches of one \
               connection on one path apart; 3.8 keeps one mode per (connection, path), the \
               last set. checkWatches (3.8: true when *any* connection watches the path) and \
               removeWatches with type Data/Children (3.8: remove any mode) follow; watcher \
               types Persistent (4) and PersistentRecursive (5) do not exist in 3.8; and while \
               any connection holds a recursive watch, 3.8's checkWatches walks the path's \
               parents, which fails with MARSHALLINGERROR for a path without '/'",
        handling: "avoided: a session uses one watch style per path for the whole sequence; \
                   checkWatches only on a path no other session ever watched, with \
                   Data/Children only on standard-style paths; removeWatches Data/Children \
                   only on standard-style paths; types 4 and 5 never generated; checkWatches \
                   only on absolute paths",
    },
];

/// `NOTIFICATION_ZXID`: does Apache 3.8's event zxid match Corral's?
pub fn notification_zxid_matches(apache: i64, corral: i64, replayed: bool) -> bool {
    if replayed {
        apache == -1 && corral == -1
    } else {
        apache == -1 && corral > 0
    }
}

/// `EXISTS_NEEDS_READ`: may `s` send exists on `path`?
pub fn exists_allowed(model: &Model, s: usize, path: &str) -> bool {
    model.can_read(s, path).unwrap_or(true)
}

/// `MULTI_CREATE_TYPES` and `CREATE_TTL_NON_TTL_MODE` inside multi: may this create op (header
/// `op`, `flags`) be sent?
pub fn multi_create_allowed(op: OpCode, flags: i32) -> bool {
    let Some(mode) = CreateMode::from_flags(flags) else {
        return false;
    };
    match op {
        OpCode::Create | OpCode::Create2 => !mode.is_ttl(),
        OpCode::CreateContainer => mode == CreateMode::Container,
        OpCode::CreateTtl => true,
        _ => false,
    }
}

/// `MULTI_CREATE_TYPES`: the multi result of a create2 op, which 3.8 answers as a create.
pub fn multi_create2_result_differs(op: OpCode, flags: i32) -> bool {
    op == OpCode::Create2 && flags != CreateMode::Container.flags()
}

/// `CREATE_TTL_NON_TTL_MODE`: may a top-level createTTL with these arguments be sent?
pub fn create_ttl_allowed(flags: i32, ttl: i64) -> bool {
    let ttl_mode = CreateMode::from_flags(flags).is_some_and(CreateMode::is_ttl);
    ttl_mode || ttl >= 0
}

/// `WATCH_MODES`: may `s` arm a watch of `style` on `path`?
pub fn watch_allowed(model: &Model, s: usize, path: &str, style: WatchStyle) -> bool {
    model.style_allows(s, path, style)
}

/// `WATCH_MODES`: may `s` send checkWatches of `kind` on `path`?
pub fn check_watches_allowed(model: &Model, s: usize, path: &str, kind: i32) -> bool {
    let standard_or_none = model.style_allows(s, path, WatchStyle::Standard);
    let kind_ok = match kind {
        watcher_type::ANY => true,
        watcher_type::DATA | watcher_type::CHILDREN => standard_or_none,
        _ => false,
    };
    kind_ok && model.watched_only_by(s, path) && check_watches_path_allowed(path)
}

/// `WATCH_MODES`: checkWatches on a path without '/' depends, in 3.8, on whether any
/// connection of the server holds a recursive watch.
pub fn check_watches_path_allowed(path: &str) -> bool {
    path.starts_with('/')
}

/// `WATCH_MODES`: may `s` send removeWatches of `kind` on `path`?
pub fn remove_watches_allowed(model: &Model, s: usize, path: &str, kind: i32) -> bool {
    match kind {
        watcher_type::ANY => true,
        watcher_type::DATA | watcher_type::CHILDREN => {
            model.style_allows(s, path, WatchStyle::Standard)
        }
        _ => false,
    }
}

/// Known differences between Corral and ZooKeeper that are *not* 3.8 vs 3.9: deliberate
/// deviations, ZooKeeper races, and open Corral bugs (each bug has an `#[ignore = "BUG: ..."]`
/// test in `targeted.rs` that reproduces it).
pub const CORRAL_DIFFERENCES: &[VersionDifference] = &[
    VersionDifference {
        key: "close-deletion-order",
        reference: "corral-tree SEMANTICS.md (deliberate)",
        what: "a closed or expired session's ephemerals are deleted in path order; ZooKeeper \
               iterates a HashSet, so the events of different nodes come in another order",
        handling: "events of a close/expiry step are compared as a multiset (replies in order)",
    },
    VersionDifference {
        key: "expired-connection-flush",
        reference: "ZooKeeper NIOServerCnxn.close (a race in ZooKeeper)",
        what: "ZooKeeper closes an expired session's socket without flushing, so events queued \
               to it while the expiry was applied may be lost; Corral flushes them",
        handling: "for the expired session's own connection, 3.8's events must be a \
                   sub-multiset of Corral's",
    },
    VersionDifference {
        key: "non-bmp-strings",
        reference: "jute BinaryOutputArchive.stringToByteBuffer (3.8 and 3.9); BUG test \
                    bug_non_bmp_string_encoding",
        what: "ZooKeeper writes each UTF-16 unit of a string as its own UTF-8 sequence, so a \
               character outside the BMP goes out as two 3-byte surrogates (CESU-8); Corral \
               sends proper 4-byte UTF-8. Visible where a reply echoes a client string: the \
               sync path",
        handling: "avoided: no sync on a path with a character outside the BMP",
    },
];

/// `non-bmp-strings`: may a request whose reply echoes `text` be sent?
pub fn echo_allowed(text: &str) -> bool {
    text.chars().all(|c| (c as u32) <= 0xFFFF)
}
