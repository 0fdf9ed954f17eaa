//! The workspace's module rules, checked on its source: no crate has a module cycle (at the
//! top level or between siblings one level down), and the server keeps the layout
//! ARCHITECTURE.md states for it.

use std::path::{Path, PathBuf};

use corral_tidy::{crate_sources, cycles, CrateSource, ModuleGraph};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/ holds this crate")
        .to_owned()
}

fn all_crates() -> Vec<CrateSource> {
    let crates = crate_sources(&crates_dir()).expect("read crates/");
    assert!(crates.len() >= 8, "found only {} crates", crates.len());
    crates
}

fn server() -> CrateSource {
    all_crates()
        .into_iter()
        .find(|c| c.name == "server")
        .expect("crates/server")
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut report = Vec::new();
    for krate in all_crates() {
        for depth in [1, 2] {
            for cycle in cycles(&ModuleGraph::of(&krate, depth)) {
                report.push(format!(
                    "crate {} (modules cut at depth {depth}):\n  {}",
                    krate.name,
                    cycle.join("\n  ")
                ));
            }
        }
    }
    assert!(report.is_empty(), "module cycles:\n{}", report.join("\n"));
}

#[test]
fn only_the_crate_root_names_the_composition_root() {
    let graph = ModuleGraph::of(&server(), 1);
    let importers = graph.importers_of(&["node".to_owned()]);
    assert!(importers.is_empty(), "node.rs named by {importers:?}");
}

/// openraft is named only by the raft glue and the composition root (comments aside).
#[test]
fn openraft_stays_in_raft_and_node() {
    let offenders: Vec<String> = server()
        .files
        .iter()
        .filter(|f| !matches!(f.module.first().map(String::as_str), Some("raft" | "node")))
        .filter(|f| corral_tidy::paths::strip_comments_and_strings(&f.text).contains("openraft::"))
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "openraft named in {offenders:?}");
}

/// Apply knows no connection: the replica delivers through its own effects trait, and the
/// raft glue and the proposer never name a client connection.
#[test]
fn apply_and_the_write_path_name_no_connection() {
    let graph = ModuleGraph::of(&server(), 1);
    for from in ["replica", "raft", "proposer", "sessions", "config"] {
        for to in ["clients", "connection"] {
            let edge = graph
                .edges
                .get(&(vec![from.to_owned()], vec![to.to_owned()]));
            assert!(edge.is_none(), "{from} names {to} in {edge:?}");
        }
    }
}

/// The leaves import nothing of the server above them.
#[test]
fn leaves_import_no_other_part_of_the_server() {
    let graph = ModuleGraph::of(&server(), 1);
    for leaf in ["config", "clock", "ids", "watches"] {
        let named: Vec<String> = graph
            .edges
            .keys()
            .filter(|(from, _)| from.as_slice() == [leaf.to_owned()])
            .map(|(_, to)| to.join("::"))
            .filter(|to| !["ids", "clock"].contains(&to.as_str()))
            .collect();
        assert!(named.is_empty(), "{leaf} names {named:?}");
    }
}
