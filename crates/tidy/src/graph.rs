//! A crate's module graph and its cycles.
//!
//! An edge `a → b` says a file of module `a` names module `b`. Edges between a module and its
//! own ancestors or descendants are left out: a parent declares its children, and a child
//! using what its parent declares for it (`super::ClientServices`) is the structure, not a
//! knot. What counts is modules that are not nested in each other naming each other round a
//! circle — at the crate's top level (`connection` ↔ `clients`) and, one level down, between
//! siblings (`connection::pipeline` ↔ `connection::reads`).

use std::collections::{BTreeMap, BTreeSet};

use crate::paths::referenced_paths;
use crate::source::CrateSource;

pub type Module = Vec<String>;

#[derive(Debug, Default)]
pub struct ModuleGraph {
    pub modules: BTreeSet<Module>,
    /// `from → to`, each with one file that makes the edge (for the report).
    pub edges: BTreeMap<(Module, Module), String>,
}

impl ModuleGraph {
    /// The graph of `krate`, with every module cut to at most `depth` segments.
    pub fn of(krate: &CrateSource, depth: usize) -> ModuleGraph {
        let modules: BTreeSet<Module> = krate.files.iter().map(|f| f.module.clone()).collect();
        let mut graph = ModuleGraph::default();
        for file in &krate.files {
            let from = cut(&file.module, depth);
            if from.is_empty() {
                continue;
            }
            graph.modules.insert(from.clone());
            for path in referenced_paths(&file.text, &file.module) {
                let Some(target) = longest_module(&modules, &path) else {
                    continue;
                };
                let to = cut(&target, depth);
                if to.is_empty() || is_prefix(&from, &to) || is_prefix(&to, &from) {
                    continue;
                }
                graph.modules.insert(to.clone());
                graph
                    .edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| file.path.display().to_string());
            }
        }
        graph
    }

    /// Modules that name `target`.
    pub fn importers_of(&self, target: &[String]) -> Vec<(Module, String)> {
        self.edges
            .iter()
            .filter(|((_, to), _)| to.as_slice() == target)
            .map(|((from, _), file)| (from.clone(), file.clone()))
            .collect()
    }
}

fn cut(module: &[String], depth: usize) -> Module {
    module.iter().take(depth).cloned().collect()
}

fn is_prefix(a: &[String], b: &[String]) -> bool {
    b.len() >= a.len() && b[..a.len()] == *a
}

/// The longest prefix of `path` that is a module of the crate (`[]`, the root, always is).
fn longest_module(modules: &BTreeSet<Module>, path: &[String]) -> Option<Module> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| prefix.is_empty() || modules.contains(prefix))
}

/// Every strongly connected set of two or more modules (Tarjan), each as a readable chain of
/// edges with the file that makes each edge.
pub fn cycles(graph: &ModuleGraph) -> Vec<Vec<String>> {
    let nodes: Vec<&Module> = graph.modules.iter().collect();
    let index_of: BTreeMap<&Module, usize> =
        nodes.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (from, to) in graph.edges.keys() {
        if let (Some(&a), Some(&b)) = (index_of.get(from), index_of.get(to)) {
            next[a].push(b);
        }
    }
    let mut tarjan = Tarjan::new(next.len());
    for v in 0..next.len() {
        if tarjan.index[v].is_none() {
            tarjan.visit(v, &next);
        }
    }
    tarjan
        .components
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|component| describe(graph, &nodes, &component))
        .collect()
}

fn describe(graph: &ModuleGraph, nodes: &[&Module], component: &[usize]) -> Vec<String> {
    let members: BTreeSet<&Module> = component.iter().map(|&i| nodes[i]).collect();
    graph
        .edges
        .iter()
        .filter(|((from, to), _)| members.contains(from) && members.contains(to))
        .map(|((from, to), file)| format!("{} -> {} ({file})", from.join("::"), to.join("::")))
        .collect()
}

/// Tarjan's strongly connected components, iterative enough for module graphs (recursion
/// depth = longest import chain, a few dozen at most).
struct Tarjan {
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    counter: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn new(n: usize) -> Tarjan {
        Tarjan {
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            counter: 0,
            components: Vec::new(),
        }
    }

    fn visit(&mut self, v: usize, next: &[Vec<usize>]) {
        self.index[v] = Some(self.counter);
        self.low[v] = self.counter;
        self.counter += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &next[v] {
            match self.index[w] {
                None => {
                    self.visit(w, next);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn krate(files: &[(&[&str], &str)]) -> CrateSource {
        CrateSource {
            name: "t".into(),
            files: files
                .iter()
                .map(|(module, text)| SourceFile {
                    path: format!("{}.rs", module.join("/")).into(),
                    module: module.iter().map(|s| s.to_string()).collect(),
                    text: text.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_circle_of_top_level_modules_is_found() {
        let k = krate(&[
            (&[], "mod a; mod b; mod c;"),
            (&["a"], "use crate::b::X;"),
            (&["b"], "use crate::c::Y;"),
            (&["c"], "fn f() { crate::a::z(); }"),
        ]);
        let found = cycles(&ModuleGraph::of(&k, 1));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), 3, "{found:?}");
    }

    #[test]
    fn children_using_their_parent_are_not_a_cycle() {
        let k = krate(&[
            (&["conn"], "mod pipe; use pipe::P; pub struct Services;"),
            (
                &["conn", "pipe"],
                "use super::Services; use crate::conn::Services as S;",
            ),
            (&["leaf"], ""),
        ]);
        assert!(cycles(&ModuleGraph::of(&k, 2)).is_empty());
    }

    #[test]
    fn siblings_naming_each_other_are_a_cycle_one_level_down() {
        let k = krate(&[
            (&["conn"], "mod a; mod b;"),
            (&["conn", "a"], "use super::b::B;"),
            (&["conn", "b"], "use super::a::A;"),
        ]);
        assert!(cycles(&ModuleGraph::of(&k, 1)).is_empty());
        assert_eq!(cycles(&ModuleGraph::of(&k, 2)).len(), 1);
    }
}
