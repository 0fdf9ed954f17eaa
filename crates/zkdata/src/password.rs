//! The session password ZooKeeper gives a session: it keeps none on disk, it derives it from
//! the id whenever a client re-attaches (`ZooKeeperServer.generatePasswd`: 16 bytes of
//! `java.util.Random` seeded with the id XOR a fixed constant). Deriving the same bytes lets a
//! client that held a ZooKeeper session re-attach to it after the import.

/// The constant ZooKeeper XORs into the seed (`ZooKeeperServer.superSecret`).
const SUPER_SECRET: i64 = 0xB341_5C00;

/// `java.util.Random`'s 48-bit linear congruential generator.
struct JavaRandom {
    seed: u64,
}

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

impl JavaRandom {
    fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    fn next_int(&mut self) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> 16) as u32 as i32
    }

    /// `Random.nextBytes`: each int fills up to four bytes, low byte first.
    fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut rnd = self.next_int();
            for byte in chunk {
                *byte = rnd as u8;
                rnd >>= 8;
            }
        }
    }
}

/// The password ZooKeeper accepts for `session_id`.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut random = JavaRandom::new(session_id ^ SUPER_SECRET);
    let mut out = [0u8; 16];
    random.next_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_random() {
        // `new java.util.Random(0).nextInt()` and `new Random(42).nextInt()`.
        assert_eq!(JavaRandom::new(0).next_int(), -1_155_484_576);
        assert_eq!(JavaRandom::new(42).next_int(), -1_170_105_035);
        let mut bytes = [0u8; 5];
        JavaRandom::new(0).next_bytes(&mut bytes);
        // -1155484576 = 0xBB20B460 (low byte first), then the next int's low byte.
        assert_eq!(&bytes[..4], &[0x60, 0xb4, 0x20, 0xbb]);
        // jshell: `new Random(0x1000001234abcdL ^ 0XB3415C00L).nextBytes(p)` on a byte[16].
        let expected: [i8; 16] = [
            -126, -39, 127, -87, -90, 0, 73, -57, 70, -115, 58, 57, -7, 33, 80, -69,
        ];
        assert_eq!(
            session_password(0x0010_0000_1234_abcd),
            expected.map(|b| b as u8)
        );
    }
}
