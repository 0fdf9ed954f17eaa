//! ACL rules (`PrepRequestProcessor.fixupACL`, `ZooKeeperServer.checkACL`, the getACL digest
//! masking) and the interned store of ACL lists.
//!
//! Nodes share a handful of distinct ACL lists, so each list is stored once
//! (`ReferenceCountedACLCache` in ZooKeeper) and a node keeps a 4-byte [`AclId`].

use std::borrow::Cow;
use std::hash::{Hash, Hasher, RandomState};
use std::sync::Arc;

use hashbrown::{Equivalent, HashMap};

use corral_proto::consts::perms;
use corral_proto::{Acl, ErrorCode, Id};

use crate::auth::AuthProviders;

/// An index into [`AclStore`].
pub(crate) type AclId = u32;

/// `[ALL, world:anyone]`: the ACL of `/`, `/zookeeper` and `/zookeeper/quota`.
pub(crate) fn open_acl_unsafe() -> Vec<Acl> {
    vec![Acl::new(perms::ALL, "world", "anyone")]
}

/// `[READ, world:anyone]`: the ACL of `/zookeeper/config`.
pub(crate) fn read_acl_unsafe() -> Vec<Acl> {
    vec![Acl::new(perms::READ, "world", "anyone")]
}

fn is_world_anyone(id: &Id) -> bool {
    id.scheme == "world" && id.id == "anyone"
}

/// `fixupACL`: drops duplicate entries, rejects an empty list, expands `auth` into every id of
/// the caller whose provider says it is authenticated (so not `ip`, and not `super`, which has
/// no provider), and rejects unknown schemes and ids their provider finds malformed.
///
/// The list is borrowed back unchanged when fix-up would not change it (no duplicate, no
/// `auth` entry: nearly every create), which saves copying it on every write.
pub(crate) fn fixup<'a>(
    providers: &AuthProviders,
    identities: &[Id],
    acl: &'a [Acl],
) -> Result<Cow<'a, [Acl]>, ErrorCode> {
    let unchanged = !acl.is_empty()
        && acl
            .iter()
            .enumerate()
            .all(|(i, entry)| !acl[..i].contains(entry) && kept_as_given(providers, entry));
    if unchanged {
        return Ok(Cow::Borrowed(acl));
    }
    fixup_copy(providers, identities, acl).map(Cow::Owned)
}

/// An entry fix-up keeps as it is: world:anyone, or a valid id of a known scheme other than
/// `auth` (which is expanded).
fn kept_as_given(providers: &AuthProviders, entry: &Acl) -> bool {
    is_world_anyone(&entry.id)
        || (entry.id.scheme != "auth"
            && providers
                .get(&entry.id.scheme)
                .is_some_and(|p| p.is_valid(&entry.id.id)))
}

fn fixup_copy(
    providers: &AuthProviders,
    identities: &[Id],
    acl: &[Acl],
) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut fixed = Vec::with_capacity(unique.len());
    for entry in unique {
        if kept_as_given(providers, entry) {
            fixed.push(entry.clone());
        } else if entry.id.scheme == "auth" {
            let before = fixed.len();
            for id in identities {
                if providers
                    .get(&id.scheme)
                    .is_some_and(|p| p.is_authenticated())
                {
                    fixed.push(Acl {
                        perms: entry.perms,
                        id: id.clone(),
                    });
                }
            }
            if fixed.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(fixed)
}

/// `checkACL` without skipACL (the caller handles that): an empty list or a `super` identity
/// allows everything; otherwise some entry with one of the `perm` bits must be `world:anyone`
/// or match one of the caller's ids of the same scheme.
pub(crate) fn permits(
    providers: &AuthProviders,
    acl: &[Acl],
    perm: i32,
    identities: &[Id],
) -> bool {
    if acl.is_empty() || identities.iter().any(|id| id.scheme == "super") {
        return true;
    }
    acl.iter()
        .filter(|entry| entry.perms & perm != 0)
        .any(|entry| {
            if is_world_anyone(&entry.id) {
                return true;
            }
            let Some(provider) = providers.get(&entry.id.scheme) else {
                return false;
            };
            identities
                .iter()
                .any(|id| id.scheme == entry.id.scheme && provider.matches(&id.id, &entry.id.id))
        })
}

/// What getACL shows a caller without ADMIN: `digest` ids pass through Java's
/// `replaceAll(":.*", ":x")`, i.e. from each `:` to the end of its line becomes `:x`.
pub(crate) fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|entry| {
            if entry.id.scheme != "digest" {
                return entry.clone();
            }
            Acl {
                perms: entry.perms,
                id: Id {
                    scheme: entry.id.scheme.clone(),
                    id: mask_after_colons(&entry.id.id),
                },
            }
        })
        .collect()
}

fn mask_after_colons(id: &str) -> String {
    // Java's `.` matches anything but a line terminator.
    let is_line_end = |c: char| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
    let mut out = String::with_capacity(id.len());
    let mut skipping = false;
    for c in id.chars() {
        if skipping && !is_line_end(c) {
            continue;
        }
        skipping = false;
        if c == ':' {
            out.push_str(":x");
            skipping = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Hashes an ACL list by value (the proto records do not derive `Hash`).
#[derive(Clone)]
struct AclKey(Arc<[Acl]>);

/// A borrowed list looked up among the [`AclKey`]s without building one.
struct AclQuery<'a>(&'a [Acl]);

fn hash_list<H: Hasher>(list: &[Acl], state: &mut H) {
    state.write_usize(list.len());
    for entry in list {
        entry.perms.hash(state);
        entry.id.scheme.hash(state);
        entry.id.id.hash(state);
    }
}

impl Hash for AclQuery<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_list(self.0, state);
    }
}

impl Equivalent<AclKey> for AclQuery<'_> {
    fn equivalent(&self, key: &AclKey) -> bool {
        *self.0 == *key.0
    }
}

impl PartialEq for AclKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for AclKey {}

impl Hash for AclKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_list(&self.0, state);
    }
}

struct Slot {
    acl: Arc<[Acl]>,
    refs: u64,
}

/// Every distinct ACL list in use, reference counted by the nodes that carry it. Ids of lists
/// nobody uses any more are reused in LIFO order, so the ids are a function of the txn history.
#[derive(Default)]
pub(crate) struct AclStore {
    slots: Vec<Option<Slot>>,
    free: Vec<AclId>,
    /// Only looked up, never iterated, so its random order cannot leak into the tree.
    by_value: HashMap<AclKey, AclId, RandomState>,
}

impl AclStore {
    /// Takes one reference to `acl`, storing a copy if it is new.
    pub(crate) fn intern(&mut self, acl: &[Acl]) -> AclId {
        if let Some(&id) = self.by_value.get(&AclQuery(acl)) {
            if let Some(Some(slot)) = self.slots.get_mut(id as usize) {
                slot.refs += 1;
                return id;
            }
        }
        let key = AclKey(Arc::from(acl));
        let slot = Slot {
            acl: key.0.clone(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as AclId
            }
        };
        self.by_value.insert(key, id);
        id
    }

    /// Drops one reference; the list is forgotten when none is left.
    pub(crate) fn release(&mut self, id: AclId) {
        let Some(entry) = self.slots.get_mut(id as usize) else {
            return;
        };
        let Some(slot) = entry else {
            return;
        };
        slot.refs -= 1;
        if slot.refs == 0 {
            let key = AclKey(slot.acl.clone());
            self.by_value.remove(&key);
            *entry = None;
            self.free.push(id);
        }
    }

    pub(crate) fn get(&self, id: AclId) -> Arc<[Acl]> {
        match self.slots.get(id as usize) {
            Some(Some(slot)) => slot.acl.clone(),
            _ => Arc::from(Vec::new()),
        }
    }

    /// Number of distinct lists in use.
    pub(crate) fn len(&self) -> usize {
        self.by_value.len()
    }

    /// One past the highest id in use or free.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Every list in use with its id, in id order.
    pub(crate) fn live(&self) -> impl Iterator<Item = (AclId, &Arc<[Acl]>)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| slot.as_ref().map(|s| (i as AclId, &s.acl)))
    }

    /// A store from loaded lists: list `i` gets id `i` with `refs[i]` references; a list nobody
    /// references is left out (its id is free). `None` if two lists are equal (interning would
    /// no longer find a unique id) or the counts disagree.
    pub(crate) fn from_lists(lists: Vec<Arc<[Acl]>>, refs: &[u64]) -> Option<AclStore> {
        if lists.len() != refs.len() {
            return None;
        }
        let mut store = AclStore {
            slots: Vec::with_capacity(lists.len()),
            free: Vec::new(),
            by_value: HashMap::with_capacity_and_hasher(lists.len(), RandomState::new()),
        };
        for (i, (acl, &refs)) in lists.into_iter().zip(refs).enumerate() {
            let key = AclKey(acl.clone());
            if store.by_value.contains_key(&key) {
                return None;
            }
            if refs == 0 {
                store.slots.push(None);
                store.free.push(i as AclId);
                continue;
            }
            store.by_value.insert(key, i as AclId);
            store.slots.push(Some(Slot { acl, refs }));
        }
        store.free.reverse();
        Some(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthProviders;

    fn id(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    #[test]
    fn fixup_dedupes_and_validates() {
        let p = AuthProviders::default();
        assert_eq!(fixup(&p, &[], &[]), Err(ErrorCode::InvalidAcl));
        let open = Acl::new(perms::ALL, "world", "anyone");
        assert_eq!(
            fixup(&p, &[], &[open.clone(), open.clone()]),
            Ok(Cow::Owned(vec![open.clone()]))
        );
        // Nothing to fix: the caller's list comes back borrowed.
        let mixed = [
            open.clone(),
            Acl::new(1, "digest", "u:h"),
            Acl::new(1, "ip", "10.0.0.1"),
        ];
        assert!(matches!(fixup(&p, &[], &mixed), Ok(Cow::Borrowed(l)) if l == mixed));
        assert_eq!(
            fixup(&p, &[], &[Acl::new(1, "world", "someone")]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&p, &[], &[Acl::new(1, "nosuch", "x")]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&p, &[], &[Acl::new(1, "digest", "nocolon")]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&p, &[], &[Acl::new(1, "ip", "1.2.3.4/40")]),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixup(&p, &[], &[Acl::new(1, "ip", "10.0.0.0/8")]).is_ok());
        assert_eq!(
            fixup(&p, &[], &[Acl::new(1, "super", "x")]),
            Err(ErrorCode::InvalidAcl)
        );
        let no_digest = AuthProviders {
            digest_enabled: false,
            ..AuthProviders::default()
        };
        assert_eq!(
            fixup(&no_digest, &[], &[Acl::new(1, "digest", "u:h")]),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn auth_scheme_expands_to_authenticated_ids_only() {
        let p = AuthProviders::default();
        let auth = Acl::new(perms::ALL, "auth", "");
        let only_ip = [id("ip", "127.0.0.1"), id("super", "")];
        assert_eq!(
            fixup(&p, &only_ip, std::slice::from_ref(&auth)),
            Err(ErrorCode::InvalidAcl)
        );
        let with_digest = [
            id("ip", "127.0.0.1"),
            id("digest", "bob:hash"),
            id("digest", "al:h2"),
        ];
        assert_eq!(
            fixup(&p, &with_digest, &[auth]),
            Ok(Cow::Owned(vec![
                Acl::new(perms::ALL, "digest", "bob:hash"),
                Acl::new(perms::ALL, "digest", "al:h2")
            ]))
        );
    }

    #[test]
    fn permission_checks() {
        let p = AuthProviders::default();
        let acl = [
            Acl::new(perms::READ, "digest", "bob:hash"),
            Acl::new(perms::WRITE, "ip", "10.0.0.0/8"),
        ];
        assert!(permits(&p, &acl, perms::READ, &[id("digest", "bob:hash")]));
        assert!(!permits(
            &p,
            &acl,
            perms::WRITE,
            &[id("digest", "bob:hash")]
        ));
        assert!(permits(&p, &acl, perms::WRITE, &[id("ip", "10.9.9.9")]));
        assert!(!permits(&p, &acl, perms::READ, &[id("ip", "10.9.9.9")]));
        assert!(permits(&p, &acl, perms::ADMIN, &[id("super", "")]));
        assert!(permits(&p, &[], perms::ADMIN, &[]));
        assert!(permits(
            &p,
            &acl,
            perms::READ | perms::ADMIN,
            &[id("digest", "bob:hash")]
        ));
    }

    #[test]
    fn digest_masking_is_javas_replace_all() {
        assert_eq!(mask_after_colons("bob:abc"), "bob:x");
        assert_eq!(mask_after_colons("bob"), "bob");
        assert_eq!(mask_after_colons("a:b\nc:d"), "a:x\nc:x");
        let masked = mask_digests(&[Acl::new(1, "digest", "u:h"), Acl::new(1, "ip", "1.2.3.4")]);
        assert_eq!(
            masked,
            vec![Acl::new(1, "digest", "u:x"), Acl::new(1, "ip", "1.2.3.4")]
        );
    }

    #[test]
    fn interning_counts_references() {
        let mut store = AclStore::default();
        let a = store.intern(&open_acl_unsafe());
        let b = store.intern(&open_acl_unsafe());
        assert_eq!(a, b);
        let c = store.intern(&read_acl_unsafe());
        assert_ne!(a, c);
        store.release(a);
        assert_eq!(store.len(), 2);
        store.release(b);
        assert_eq!(store.len(), 1);
        assert_eq!(store.intern(&read_acl_unsafe()), c);
        assert_eq!(store.intern(&open_acl_unsafe()), a, "freed ids are reused");
    }
}
