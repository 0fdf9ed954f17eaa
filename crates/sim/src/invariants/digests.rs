//! Equal `DataTree` digests at equal applied index: after every step each running server's
//! `hash` (applied zxid, digest of the tree) is compared with every digest seen before at that
//! zxid, on any server.

use std::collections::BTreeMap;

use super::Violation;

const PROPERTY: &str = "equal digests at equal applied index";

#[derive(Debug, Default)]
pub struct Digests {
    /// Applied zxid -> (digest, the server that showed it first).
    by_zxid: BTreeMap<i64, (u64, u64)>,
}

impl Digests {
    pub fn observe(&mut self, node: u64, zxid: i64, digest: u64) -> Result<(), Violation> {
        match self.by_zxid.get(&zxid) {
            None => {
                self.by_zxid.insert(zxid, (digest, node));
                Ok(())
            }
            Some((first, _)) if *first == digest => Ok(()),
            Some((first, by)) => Err(Violation::new(
                PROPERTY,
                format!(
                    "at zxid {zxid} server {node}'s tree has digest {digest:016x}, server {by}'s \
                     had {first:016x}"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_digest_at_one_zxid_is_a_violation() {
        let mut digests = Digests::default();
        digests.observe(1, 5, 0xaa).unwrap();
        digests.observe(2, 5, 0xaa).unwrap();
        digests.observe(2, 6, 0xbb).unwrap();
        assert!(digests.observe(3, 5, 0xab).is_err());
    }
}
