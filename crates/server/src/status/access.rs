//! The one ACL question the operator view asks: may these identities do `perm` on a node
//! (the AdminServer's protected commands need ALL on `/`). Answered under the tree's read
//! lock, which is released before returning.

use corral_proto::records::Id;

use super::StatusSource;

impl StatusSource {
    /// Whether `ids` hold every bit of `perm` on `path` (each bit checked on its own, as
    /// ZooKeeper's AdminServer does); false when the node does not exist.
    pub fn permits(&self, path: &str, perm: i32, ids: &[Id]) -> bool {
        let tree = self.replica.tree();
        let Some(acl) = tree.node_acl(path) else {
            return false;
        };
        (0..i32::BITS)
            .map(|b| 1i32 << b)
            .filter(|bit| perm & bit != 0)
            .all(|bit| tree.permits(&acl, bit, ids))
    }
}
