//! The keyed, streaming hash of full paths that the node index files nodes under.
//!
//! Why its own: the index is keyed by the full path but nodes store only their name, so
//! loading a snapshot extends each parent's hash by `/name` (hashing every byte once), while a
//! lookup hashes the whole path in one go. That needs a hash whose result does not depend on
//! how the bytes were split across writes — std's `DefaultHasher` gives no such guarantee (and
//! does not behave so) — and it should be fast, as every request hashes a path.
//!
//! Construction: bytes are consumed as little-endian 8-byte words (a partial word waits in a
//! buffer across writes, so splitting is invisible); each word is absorbed with a folded
//! 64×64→128-bit multiply against a secret key, the scheme of ahash's fallback and foldhash.
//! The two keys are random per store, so colliding paths cannot be prepared in advance. The
//! length is absorbed at the end ("a" and "a\0" differ).

/// `(a × b)` as a 128-bit product, its halves xor-ed.
#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Random keys of one store.
#[derive(Clone, Copy)]
pub(crate) struct PathKeys {
    seed: u64,
    word: u64,
}

impl PathKeys {
    pub(crate) fn random() -> PathKeys {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        PathKeys {
            seed: state.hash_one(0x5eed_u64),
            // Odd, so the multiply never loses the low bit.
            word: state.hash_one(0x3a5d_u64) | 1,
        }
    }

    pub(crate) fn hasher(self) -> PathHasher {
        PathHasher {
            keys: self,
            acc: self.seed,
            tail: 0,
            tail_len: 0,
            len: 0,
        }
    }

    /// The hash of `bytes` written in one go.
    pub(crate) fn hash(self, bytes: &[u8]) -> u64 {
        let mut h = self.hasher();
        h.write(bytes);
        h.finish()
    }
}

/// A hash in progress; cheap to copy, so a parent's state can be extended per child.
#[derive(Clone, Copy)]
pub(crate) struct PathHasher {
    keys: PathKeys,
    acc: u64,
    /// Bytes of an unfinished word, little-endian, `tail_len` of them.
    tail: u64,
    tail_len: u32,
    len: u64,
}

impl PathHasher {
    #[inline]
    fn absorb(&mut self, word: u64) {
        self.acc = folded_multiply(self.acc ^ word, self.keys.word);
    }

    pub(crate) fn write(&mut self, mut bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        // Complete a waiting partial word first.
        while self.tail_len != 0 && !bytes.is_empty() {
            self.tail |= u64::from(bytes[0]) << (8 * self.tail_len);
            self.tail_len += 1;
            bytes = &bytes[1..];
            if self.tail_len == 8 {
                let word = self.tail;
                self.absorb(word);
                self.tail = 0;
                self.tail_len = 0;
            }
        }
        if self.tail_len != 0 {
            // All of `bytes` went into the still unfinished word.
            return;
        }
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.absorb(u64::from_le_bytes(word));
        }
        for (i, &b) in words.remainder().iter().enumerate() {
            self.tail |= u64::from(b) << (8 * i);
        }
        self.tail_len = words.remainder().len() as u32;
    }

    pub(crate) fn finish(mut self) -> u64 {
        if self.tail_len != 0 {
            let word = self.tail;
            self.absorb(word);
        }
        folded_multiply(self.acc ^ self.len, self.keys.word ^ self.keys.seed)
    }
}

/// Hashes a [`NodeId`](crate::node::NodeId) key with one multiply. Why not std's SipHash:
/// a snapshot looks up every node it writes in the map of preserved versions, so the hash is
/// paid per node of the tree; ids are handed out by the store, never chosen by a client, so
/// the keyed hash's protection against prepared collisions buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(ID_MULTIPLIER);
        }
    }

    fn write_u32(&mut self, id: u32) {
        // The golden-ratio multiplier spreads consecutive ids over the high (tag) bits while
        // keeping them distinct in the low (bucket) bits.
        self.0 = u64::from(id).wrapping_mul(ID_MULTIPLIER);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

const ID_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// A map keyed by node id, hashed with [`IdHasher`].
pub(crate) type IdMap<V> =
    std::collections::HashMap<crate::node::NodeId, V, std::hash::BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_the_input_does_not_change_the_hash() {
        let keys = PathKeys::random();
        let text: Vec<u8> = (0u8..=200).map(|i| i.wrapping_mul(37)).collect();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 201] {
            let whole = keys.hash(&text[..len]);
            for step in 1..=11 {
                let mut h = keys.hasher();
                for piece in text[..len].chunks(step) {
                    h.write(piece);
                    h.write(b"");
                }
                assert_eq!(h.finish(), whole, "len {len} in pieces of {step}");
            }
        }
    }

    #[test]
    fn similar_inputs_differ() {
        let keys = PathKeys::random();
        let inputs: [&[u8]; 7] = [b"", b"a", b"a\0", b"/a/b", b"/ab/", b"/a/c", b"/a/b/"];
        for (i, a) in inputs.iter().enumerate() {
            for b in &inputs[i + 1..] {
                assert_ne!(keys.hash(a), keys.hash(b), "{a:?} {b:?}");
            }
        }
        let other = PathKeys::random();
        assert_ne!(keys.hash(b"/a"), other.hash(b"/a"), "keys are per store");
    }
}
