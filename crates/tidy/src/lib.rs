//! Checks of the workspace's own source that the compiler does not make: the module graph of
//! each crate has no cycle, and the layout rules of ARCHITECTURE.md hold (which module may
//! name which). Run by `cargo test -p corral-tidy`, so README's test command fails on a new
//! cycle or a broken rule.
//!
//! The module graph is read from the source text, not from rustc: every `crate::a::b`,
//! `super::x` and `self::y` path in a file (in `use` items and in expressions, with `use`
//! groups expanded) is an edge from the file's module to the module it names. That is an
//! approximation — a path inside a string or a comment counts too — which errs on the side of
//! reporting an edge, never of hiding one.

pub mod graph;
pub mod paths;
pub mod source;

pub use graph::{cycles, ModuleGraph};
pub use source::{crate_sources, CrateSource, SourceFile};
