//! Path rules of ZooKeeper's server, kept in one place because each operation applies a
//! different subset, and the order of the checks decides which error a client sees.
//!
//! - full validation (`PathUtils.validatePath`): create (after the sequence suffix), setData,
//!   setACL, check;
//! - the light check of create and delete (`lastIndexOf('/') == -1` or a NUL → BADARGUMENTS),
//!   plus, for delete, the four protected paths;
//! - reads do no validation at all: a bad path is simply not found (exists alone rejects NUL).

/// The built-in nodes ZooKeeper refuses to delete (`DataTree.isSpecialPath`).
pub(crate) const SPECIAL_PATHS: [&str; 4] =
    ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

/// `PathUtils.validatePath`: starts with `/`, no trailing `/` (except the root), no empty,
/// `.` or `..` segment, no control, surrogate, private-use or U+FFF0.. character. Java checks
/// UTF-16 code units, so every character outside the BMP (a surrogate pair) is rejected too.
pub(crate) fn is_valid(path: &str) -> bool {
    if !path.starts_with('/') {
        return false;
    }
    if path.len() == 1 {
        return true;
    }
    if path.ends_with('/') {
        return false;
    }
    let segments_ok = path[1..]
        .split('/')
        .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    segments_ok && !path.chars().any(is_forbidden_char)
}

fn is_forbidden_char(c: char) -> bool {
    let u = u32::from(c);
    u <= 0x1f || (0x7f..=0x9f).contains(&u) || (0xd800..=0xf8ff).contains(&u) || u >= 0xfff0
}

/// The parent part of a path given to create or delete: everything before the last `/` (""
/// for a top-level node, which ZooKeeper resolves to the root through its "" alias). `None`
/// when there is no `/` or the path holds a NUL: BADARGUMENTS.
pub(crate) fn parent_for_write(path: &str) -> Option<&str> {
    if path.contains('\0') {
        return None;
    }
    path.rfind('/').map(|slash| &path[..slash])
}

/// The parent of a path known to contain a `/` (stored nodes always do).
pub(crate) fn parent_of(path: &str) -> &str {
    path.rfind('/').map_or("", |slash| &path[..slash])
}

/// The last segment: the name `getChildren` lists.
pub(crate) fn name_of(path: &str) -> &str {
    path.rfind('/').map_or(path, |slash| &path[slash + 1..])
}

/// The path a NodeChildrenChanged for children of `parent` is reported on ("" → "/").
pub(crate) fn watch_path(parent: &str) -> &str {
    if parent.is_empty() {
        "/"
    } else {
        parent
    }
}

pub(crate) fn is_special(path: &str) -> bool {
    SPECIAL_PATHS.contains(&path)
}

/// Java's `String.trim()`: strips every char ≤ U+0020 from both ends.
pub(crate) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| u32::from(c) <= 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_matches_path_utils() {
        for good in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/...",
            "/a/..b",
            "/.a",
            "/zookeeper",
            "/é",
            "/a b",
        ] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/.",
            "/a/../b",
            "/a\0b",
            "/a\u{1}",
            "/a\u{7f}",
            "/a\u{9f}",
            "/\u{d7ff}\u{e000}",
            "/\u{fff0}",
            "/\u{ffff}",
            "/😀",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert!(is_valid("/\u{d7ff}"));
        assert!(is_valid("/\u{f900}"));
    }

    #[test]
    fn parents_and_names() {
        assert_eq!(parent_for_write("/a"), Some(""));
        assert_eq!(parent_for_write("/a/b"), Some("/a"));
        assert_eq!(parent_for_write("/"), Some(""));
        assert_eq!(parent_for_write("a"), None);
        assert_eq!(parent_for_write("/a\0"), None);
        assert_eq!(name_of("/a/bc"), "bc");
        assert_eq!(watch_path(""), "/");
        assert!(is_special("/zookeeper/config"));
        assert!(!is_special(""));
        assert_eq!(java_trim(" \t/a \n"), "/a");
    }
}
