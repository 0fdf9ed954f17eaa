//! Finds each crate of the workspace and the module path of each of its source files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One `.rs` file of a crate's `src/` and the module it is.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The module path inside the crate: `[]` for the crate root (`lib.rs`/`main.rs`),
    /// `["connection"]` for `connection/mod.rs` or `connection.rs`, and so on.
    pub module: Vec<String>,
    pub text: String,
}

/// A crate of the workspace: its directory name and its source files.
#[derive(Debug, Clone)]
pub struct CrateSource {
    pub name: String,
    pub files: Vec<SourceFile>,
}

/// Every crate under `crates_dir` that has `src/lib.rs` or `src/main.rs`, in name order.
pub fn crate_sources(crates_dir: &Path) -> io::Result<Vec<CrateSource>> {
    let mut crates = Vec::new();
    let mut dirs: Vec<PathBuf> = fs::read_dir(crates_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let src = dir.join("src");
        if !src.join("lib.rs").is_file() && !src.join("main.rs").is_file() {
            continue;
        }
        let mut files = Vec::new();
        collect(&src, &src, &mut files)?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crates.push(CrateSource { name, files });
    }
    Ok(crates)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            // `src/bin/*` are crates of their own, not modules of this one.
            if dir == root && path.file_name().is_some_and(|n| n == "bin") {
                continue;
            }
            collect(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path)?;
            let module = module_path(root, &path);
            out.push(SourceFile { path, module, text });
        }
    }
    Ok(())
}

/// `src/a/b.rs` → `[a, b]`; `src/a/mod.rs` → `[a]`; `src/lib.rs` and `src/main.rs` → `[]`.
fn module_path(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_owned();
        let is_root = parts.is_empty() && (stem == "lib" || stem == "main");
        if stem != "mod" && !is_root {
            parts.push(stem);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_follow_rust_rules() {
        let root = Path::new("/c/src");
        let m = |p: &str| module_path(root, Path::new(p));
        assert!(m("/c/src/lib.rs").is_empty());
        assert!(m("/c/src/main.rs").is_empty());
        assert_eq!(m("/c/src/node.rs"), vec!["node"]);
        assert_eq!(m("/c/src/raft/mod.rs"), vec!["raft"]);
        assert_eq!(m("/c/src/raft/role.rs"), vec!["raft", "role"]);
        assert_eq!(m("/c/src/a/lib.rs"), vec!["a", "lib"]);
    }
}
