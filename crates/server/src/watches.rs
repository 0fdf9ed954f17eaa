//! Watches of this server's connections. Never replicated: they live with the connection and
//! die with it (the client re-arms them with setWatches after reconnecting).
//!
//! Two tables as in ZooKeeper: data watches (armed by exists/getData, and persistent ones) and
//! child watches (armed by getChildren, and non-recursive persistent ones). Each (path,
//! connection) holds a small bit set of modes, so a connection with a standard and a persistent
//! watch on one path gets one event per change and only the standard bit is consumed.

use std::collections::{HashMap, HashSet};

use corral_proto::consts::{event_type, watcher_type};
use corral_tree::WatchEvent;

use crate::ids::ConnectionId;

const STANDARD: u8 = 1;
const PERSISTENT: u8 = 2;
const RECURSIVE: u8 = 4;

/// Watches one connection may hold. ZooKeeper has no such limit; this one only exists so a
/// client cannot grow server memory without bound, and is far above any real use.
pub(crate) const WATCHES_PER_CONNECTION_MAX: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Table {
    Data,
    Child,
}

#[derive(Default)]
struct WatchTable {
    by_path: HashMap<String, HashMap<ConnectionId, u8>>,
}

impl WatchTable {
    fn add(&mut self, path: &str, conn: ConnectionId, bits: u8) {
        let watchers = self.by_path.entry(path.to_owned()).or_default();
        *watchers.entry(conn).or_insert(0) |= bits;
    }

    /// Clears `bits` of (path, conn); returns whether any of them was set and whether the
    /// entry is now empty.
    fn clear(&mut self, path: &str, conn: ConnectionId, bits: u8) -> (bool, bool) {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return (false, false);
        };
        let Some(current) = watchers.get_mut(&conn) else {
            return (false, false);
        };
        let had = *current & bits != 0;
        *current &= !bits;
        let empty = *current == 0;
        if empty {
            watchers.remove(&conn);
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
        }
        (had, empty)
    }

    fn bits(&self, path: &str, conn: ConnectionId) -> u8 {
        self.by_path
            .get(path)
            .and_then(|w| w.get(&conn))
            .copied()
            .unwrap_or(0)
    }
}

/// One event to deliver to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub connection: ConnectionId,
    pub event_type: i32,
}

#[derive(Default)]
pub(crate) struct WatchRegistry {
    data: WatchTable,
    child: WatchTable,
    by_conn: HashMap<ConnectionId, HashSet<(Table, String)>>,
    recursive_count: usize,
}

/// What a read arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StandardWatch {
    /// exists and getData.
    Data,
    /// getChildren.
    Child,
}

impl WatchRegistry {
    fn note(&mut self, conn: ConnectionId, table: Table, path: &str) -> bool {
        let set = self.by_conn.entry(conn).or_default();
        if set.len() >= WATCHES_PER_CONNECTION_MAX && !set.contains(&(table, path.to_owned())) {
            tracing::warn!(connection = conn, "watch limit reached; watch not set");
            return false;
        }
        set.insert((table, path.to_owned()));
        true
    }

    fn forget(&mut self, conn: ConnectionId, table: Table, path: &str) {
        if let Some(set) = self.by_conn.get_mut(&conn) {
            set.remove(&(table, path.to_owned()));
            if set.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
    }

    fn table(&mut self, table: Table) -> &mut WatchTable {
        match table {
            Table::Data => &mut self.data,
            Table::Child => &mut self.child,
        }
    }

    fn add(&mut self, conn: ConnectionId, table: Table, path: &str, bits: u8) {
        if !self.note(conn, table, path) {
            return;
        }
        if bits & RECURSIVE != 0 && self.table(table).bits(path, conn) & RECURSIVE == 0 {
            self.recursive_count += 1;
        }
        self.table(table).add(path, conn, bits);
    }

    fn clear(&mut self, conn: ConnectionId, table: Table, path: &str, bits: u8) -> bool {
        let before = self.table(table).bits(path, conn);
        let (had, empty) = self.table(table).clear(path, conn, bits);
        if before & bits & RECURSIVE != 0 {
            self.recursive_count -= 1;
        }
        if empty {
            self.forget(conn, table, path);
        }
        had
    }

    pub(crate) fn add_standard(&mut self, conn: ConnectionId, path: &str, kind: StandardWatch) {
        let table = match kind {
            StandardWatch::Data => Table::Data,
            StandardWatch::Child => Table::Child,
        };
        self.add(conn, table, path, STANDARD);
    }

    /// addWatch: PERSISTENT arms both tables, PERSISTENT_RECURSIVE only the data table
    /// (recursive watches never see NodeChildrenChanged).
    pub(crate) fn add_persistent(&mut self, conn: ConnectionId, path: &str, recursive: bool) {
        if recursive {
            self.add(conn, Table::Data, path, RECURSIVE);
        } else {
            self.add(conn, Table::Data, path, PERSISTENT);
            self.add(conn, Table::Child, path, PERSISTENT);
        }
    }

    /// checkWatches: whether the connection holds a watch of `watcher_type` on `path`.
    pub(crate) fn contains(&self, conn: ConnectionId, path: &str, kind: i32) -> bool {
        let data = self.data.bits(path, conn);
        let child = self.child.bits(path, conn);
        match kind {
            watcher_type::CHILDREN => child & STANDARD != 0,
            watcher_type::DATA => data & STANDARD != 0,
            watcher_type::ANY => data != 0 || child != 0,
            watcher_type::PERSISTENT => (data | child) & PERSISTENT != 0,
            watcher_type::PERSISTENT_RECURSIVE => data & RECURSIVE != 0,
            _ => false,
        }
    }

    /// removeWatches: removes the watches of `watcher_type`; returns whether any was removed.
    pub(crate) fn remove(&mut self, conn: ConnectionId, path: &str, kind: i32) -> bool {
        let all = STANDARD | PERSISTENT | RECURSIVE;
        match kind {
            watcher_type::CHILDREN => self.clear(conn, Table::Child, path, STANDARD),
            watcher_type::DATA => self.clear(conn, Table::Data, path, STANDARD),
            watcher_type::ANY => {
                let child = self.clear(conn, Table::Child, path, all);
                let data = self.clear(conn, Table::Data, path, all);
                child || data
            }
            watcher_type::PERSISTENT => {
                let child = self.clear(conn, Table::Child, path, PERSISTENT);
                let data = self.clear(conn, Table::Data, path, PERSISTENT);
                child || data
            }
            watcher_type::PERSISTENT_RECURSIVE => self.clear(conn, Table::Data, path, RECURSIVE),
            _ => false,
        }
    }

    /// Drops every watch of a closed connection.
    pub(crate) fn remove_connection(&mut self, conn: ConnectionId) {
        let Some(entries) = self.by_conn.remove(&conn) else {
            return;
        };
        for (table, path) in entries {
            let bits = self.table(table).bits(&path, conn);
            if bits & RECURSIVE != 0 {
                self.recursive_count -= 1;
            }
            self.table(table)
                .clear(&path, conn, STANDARD | PERSISTENT | RECURSIVE);
        }
    }

    /// Consumes the watches a change fires and returns who gets which event, in ZooKeeper's
    /// order (data table first; on delete the child table's watchers already notified through
    /// the data table are suppressed).
    pub(crate) fn trigger(&mut self, path: &str, event: WatchEvent) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        let mut seen = HashSet::new();
        match event {
            WatchEvent::NodeCreated | WatchEvent::NodeDataChanged => {
                let code = if event == WatchEvent::NodeCreated {
                    event_type::NODE_CREATED
                } else {
                    event_type::NODE_DATA_CHANGED
                };
                self.fire(Table::Data, path, code, true, &mut seen, &mut deliveries);
            }
            WatchEvent::NodeDeleted => {
                let code = event_type::NODE_DELETED;
                self.fire(Table::Data, path, code, true, &mut seen, &mut deliveries);
                self.fire(Table::Child, path, code, false, &mut seen, &mut deliveries);
            }
            WatchEvent::NodeChildrenChanged => {
                let code = event_type::NODE_CHILDREN_CHANGED;
                self.fire(Table::Child, path, code, false, &mut seen, &mut deliveries);
            }
        }
        deliveries
    }

    fn fire(
        &mut self,
        table: Table,
        path: &str,
        code: i32,
        with_ancestors: bool,
        seen: &mut HashSet<ConnectionId>,
        deliveries: &mut Vec<Delivery>,
    ) {
        let mut consumed = Vec::new();
        if let Some(watchers) = self.table(table).by_path.get(path) {
            let mut conns: Vec<(ConnectionId, u8)> =
                watchers.iter().map(|(c, b)| (*c, *b)).collect();
            conns.sort_unstable();
            for (conn, bits) in conns {
                if bits & STANDARD != 0 {
                    consumed.push(conn);
                }
                if seen.insert(conn) {
                    deliveries.push(Delivery {
                        connection: conn,
                        event_type: code,
                    });
                }
            }
        }
        for conn in consumed {
            self.clear(conn, table, path, STANDARD);
        }
        if !with_ancestors || self.recursive_count == 0 {
            return;
        }
        let mut ancestor = path;
        while let Some(cut) = ancestor.rfind('/') {
            ancestor = if cut == 0 { "/" } else { &ancestor[..cut] };
            if ancestor == path {
                break;
            }
            if let Some(watchers) = self.table(table).by_path.get(ancestor) {
                let mut conns: Vec<ConnectionId> = watchers
                    .iter()
                    .filter(|(_, b)| **b & RECURSIVE != 0)
                    .map(|(c, _)| *c)
                    .collect();
                conns.sort_unstable();
                for conn in conns {
                    if seen.insert(conn) {
                        deliveries.push(Delivery {
                            connection: conn,
                            event_type: code,
                        });
                    }
                }
            }
            if ancestor == "/" {
                break;
            }
        }
    }

    /// Whether no connection holds any watch (a connection's entry goes with its last watch).
    pub(crate) fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }

    /// Every watch of every kind (`mntr`'s `zk_watch_count`).
    pub(crate) fn total_watches(&self) -> usize {
        self.by_conn.values().map(|s| s.len()).sum()
    }

    /// (connections watching, distinct paths, total watches) for `wchs`. Like ZooKeeper, the
    /// `wch*` words report the data-watch table only (exists/getData and persistent watches).
    pub(crate) fn summary(&self) -> (usize, usize, usize) {
        let mut conns = HashSet::new();
        let mut total = 0;
        for watchers in self.data.by_path.values() {
            conns.extend(watchers.keys().copied());
            total += watchers.len();
        }
        (conns.len(), self.data.by_path.len(), total)
    }

    /// Data-watched paths by connection (for `wchc`), sorted.
    pub(crate) fn by_connection(&self) -> Vec<(ConnectionId, Vec<String>)> {
        let mut map: HashMap<ConnectionId, Vec<String>> = HashMap::new();
        for (path, watchers) in &self.data.by_path {
            for conn in watchers.keys() {
                map.entry(*conn).or_default().push(path.clone());
            }
        }
        let mut out: Vec<(ConnectionId, Vec<String>)> = map
            .into_iter()
            .map(|(conn, mut paths)| {
                paths.sort();
                (conn, paths)
            })
            .collect();
        out.sort();
        out
    }

    /// Connections by data-watched path (for `wchp`), sorted.
    pub(crate) fn by_path(&self) -> Vec<(String, Vec<ConnectionId>)> {
        let mut out: Vec<(String, Vec<ConnectionId>)> = self
            .data
            .by_path
            .iter()
            .map(|(path, watchers)| {
                let mut conns: Vec<ConnectionId> = watchers.keys().copied().collect();
                conns.sort_unstable();
                (path.clone(), conns)
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conns(deliveries: &[Delivery]) -> Vec<(ConnectionId, i32)> {
        deliveries
            .iter()
            .map(|d| (d.connection, d.event_type))
            .collect()
    }

    #[test]
    fn standard_watches_fire_once() {
        let mut w = WatchRegistry::default();
        w.add_standard(1, "/a", StandardWatch::Data);
        let first = w.trigger("/a", WatchEvent::NodeDataChanged);
        assert_eq!(conns(&first), vec![(1, event_type::NODE_DATA_CHANGED)]);
        assert!(w.trigger("/a", WatchEvent::NodeDataChanged).is_empty());
        assert_eq!(w.total_watches(), 0);
        assert!(
            w.is_empty(),
            "the apply path skips triggers on an empty registry"
        );
    }

    #[test]
    fn is_empty_follows_every_way_a_watch_goes() {
        let mut w = WatchRegistry::default();
        assert!(w.is_empty());
        w.add_persistent(1, "/a", true);
        w.add_standard(2, "/b", StandardWatch::Child);
        assert!(!w.is_empty());
        assert!(w.remove(1, "/a", watcher_type::PERSISTENT_RECURSIVE));
        assert!(!w.is_empty());
        w.trigger("/b", WatchEvent::NodeChildrenChanged);
        assert!(w.is_empty());
        w.add_standard(3, "/c", StandardWatch::Data);
        w.remove_connection(3);
        assert!(w.is_empty());
    }

    #[test]
    fn delete_notifies_a_connection_once_across_tables() {
        let mut w = WatchRegistry::default();
        w.add_standard(1, "/a", StandardWatch::Data);
        w.add_standard(1, "/a", StandardWatch::Child);
        w.add_standard(2, "/a", StandardWatch::Child);
        let got = w.trigger("/a", WatchEvent::NodeDeleted);
        assert_eq!(
            conns(&got),
            vec![(1, event_type::NODE_DELETED), (2, event_type::NODE_DELETED)]
        );
        assert_eq!(w.total_watches(), 0);
    }

    #[test]
    fn persistent_survives_and_recursive_sees_descendants_but_not_children_changed() {
        let mut w = WatchRegistry::default();
        w.add_persistent(1, "/a", false);
        w.add_persistent(2, "/a", true);
        for _ in 0..2 {
            let got = w.trigger("/a", WatchEvent::NodeDataChanged);
            assert_eq!(got.len(), 2);
        }
        assert_eq!(
            conns(&w.trigger("/a/b/c", WatchEvent::NodeCreated)),
            vec![(2, event_type::NODE_CREATED)]
        );
        assert_eq!(
            conns(&w.trigger("/a", WatchEvent::NodeChildrenChanged)),
            vec![(1, event_type::NODE_CHILDREN_CHANGED)]
        );
        assert!(w.contains(1, "/a", watcher_type::PERSISTENT));
        assert!(!w.contains(1, "/a", watcher_type::DATA));
        assert!(w.remove(2, "/a", watcher_type::PERSISTENT_RECURSIVE));
        assert!(w.trigger("/a/b", WatchEvent::NodeCreated).is_empty());
    }

    #[test]
    fn standard_and_persistent_on_one_path_give_one_event() {
        let mut w = WatchRegistry::default();
        w.add_persistent(1, "/a", false);
        w.add_standard(1, "/a", StandardWatch::Data);
        assert_eq!(w.trigger("/a", WatchEvent::NodeDataChanged).len(), 1);
        assert!(!w.contains(1, "/a", watcher_type::DATA));
        assert!(w.contains(1, "/a", watcher_type::PERSISTENT));
    }

    #[test]
    fn root_recursive_watch_sees_everything() {
        let mut w = WatchRegistry::default();
        w.add_persistent(9, "/", true);
        assert_eq!(w.trigger("/x", WatchEvent::NodeDeleted).len(), 1);
        assert_eq!(w.trigger("/", WatchEvent::NodeDataChanged).len(), 1);
    }

    #[test]
    fn closing_a_connection_drops_its_watches() {
        let mut w = WatchRegistry::default();
        w.add_standard(1, "/a", StandardWatch::Data);
        w.add_persistent(1, "/b", true);
        w.remove_connection(1);
        assert_eq!(w.total_watches(), 0);
        assert_eq!(w.recursive_count, 0);
    }
}
