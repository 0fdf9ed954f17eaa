//! The two checksums ZooKeeper's files use: Adler-32 (`java.util.zip.Adler32`) over each
//! transaction log record and over a snapshot up to each of its seals, and CRC-32
//! (`java.util.zip.CRC32`, the IEEE polynomial) inside its tree digest.

/// Running Adler-32, as `java.util.zip.Adler32` (starts at 1).
#[derive(Debug, Clone, Copy)]
pub struct Adler32 {
    a: u32,
    b: u32,
}

const ADLER_MOD: u32 = 65_521;
/// Bytes that can be summed before `b` may overflow a u32 (zlib's NMAX).
const ADLER_BLOCK: usize = 5552;

impl Default for Adler32 {
    fn default() -> Self {
        Adler32 { a: 1, b: 0 }
    }
}

impl Adler32 {
    pub fn update(&mut self, bytes: &[u8]) {
        for block in bytes.chunks(ADLER_BLOCK) {
            for &byte in block {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= ADLER_MOD;
            self.b %= ADLER_MOD;
        }
    }

    /// The value as Java's `Checksum.getValue()` returns it (a non-negative long).
    pub fn value(&self) -> i64 {
        i64::from((self.b << 16) | self.a)
    }
}

/// Adler-32 of `bytes`.
pub fn adler32(bytes: &[u8]) -> i64 {
    let mut sum = Adler32::default();
    sum.update(bytes);
    sum.value()
}

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// Running CRC-32 (IEEE), as `java.util.zip.CRC32`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Crc32 {
    state: u32,
}

impl Crc32 {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = !self.state;
        for &byte in bytes {
            c = CRC_TABLE[((c ^ u32::from(byte)) & 0xff) as usize] ^ (c >> 8);
        }
        self.state = !c;
    }

    pub fn value(&self) -> u32 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Reference values of zlib's adler32 and crc32.
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let mut crc = Crc32::default();
        crc.update(b"123456789");
        assert_eq!(crc.value(), 0xCBF4_3926);
        let long = vec![0xffu8; 100_000];
        let mut split = Adler32::default();
        split.update(&long[..33_333]);
        split.update(&long[33_333..]);
        assert_eq!(split.value(), adler32(&long));
    }
}
