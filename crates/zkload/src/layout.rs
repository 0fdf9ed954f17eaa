//! Where a run puts its nodes, so setup, the ops and cleanup agree.
//!
//! ```text
//! <root>                       /zkload-<pid>-<nanos> unless --root names it
//!   /keys/k<i>                 the keys set, get and mixed pick from
//!   /create/s<session>/n<i>    nodes made by create, one parent per session
//! ```
//!
//! A created node's path follows from its session and a per-session counter, so cleanup
//! deletes by name and never lists a parent (whose children could outgrow a reply frame after
//! a long create run).

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: String,
}

impl Layout {
    /// Under `root`, or under a root unique to this process and moment.
    pub fn new(root: Option<&str>) -> Layout {
        let root = root.map(str::to_owned).unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("/zkload-{}-{nanos}", std::process::id())
        });
        Layout { root }
    }

    pub fn keys_parent(&self) -> String {
        format!("{}/keys", self.root)
    }

    pub fn key(&self, index: usize) -> String {
        format!("{}/keys/k{index}", self.root)
    }

    pub fn create_parent(&self) -> String {
        format!("{}/create", self.root)
    }

    pub fn session_parent(&self, session: usize) -> String {
        format!("{}/create/s{session}", self.root)
    }

    pub fn created(&self, session: usize, index: u64) -> String {
        format!("{}/create/s{session}/n{index}", self.root)
    }

    /// The nodes above the keys and the created nodes, by depth: each level's parents are in
    /// the one before.
    pub fn parent_levels(&self, sessions: usize) -> [Vec<String>; 3] {
        [
            vec![self.root.clone()],
            vec![self.keys_parent(), self.create_parent()],
            (0..sessions).map(|s| self.session_parent(s)).collect(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_under_the_root() {
        let layout = Layout::new(Some("/r"));
        assert_eq!(layout.key(3), "/r/keys/k3");
        assert_eq!(layout.created(2, 7), "/r/create/s2/n7");
        assert_eq!(
            layout.parent_levels(2),
            [
                vec!["/r"],
                vec!["/r/keys", "/r/create"],
                vec!["/r/create/s0", "/r/create/s1"]
            ]
        );
        let unique = Layout::new(None);
        assert!(unique
            .root
            .starts_with(&format!("/zkload-{}-", std::process::id())));
    }
}
