//! A node's name and data in one heap block behind a thin (8-byte) pointer.
//!
//! Why: a million znodes each carry one variable-size block. `Box<[u8]>` is a 16-byte fat
//! pointer; keeping the two lengths at the front of the block instead halves the pointer, one
//! block per node (rather than one for the name and one for the data) is allocated once, and
//! blocks up to 512 bytes come from a headerless size-class pool (`pool.rs`) rather than
//! malloc. Layout of the block:
//!
//! `[name len: varint][code: varint][wide: 6 × i64 LE, if code bit 0][name][data]`
//!
//! where `code >> 1` is 0 for null data, else data length + 1. LEB128 varints: 2 header bytes
//! for names and data under 64 bytes. The optional wide section holds stat fields too large for
//! the node's 44-bit inline fields and the ACL version (see `node.rs`); it is absent unless the
//! node's ACL was set after its creation.
//!
//! Unsafe code: an owned block of exactly `header + name + data` bytes, written once at
//! construction and only read afterwards, returned to where it came from (pool or system
//! allocator, decided by that same size, recomputed from the header) on drop. It behaves like
//! `Box<[u8]>`, so it is `Send` and `Sync`.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

use crate::pool::{self, MAX_POOLED};

/// Two varints of at most 10 bytes.
const MAX_HEADER: usize = 20;
/// Stat fields the wide section can hold: the five of `node.rs` too large for their inline
/// bits, and the ACL version.
pub(crate) const WIDE_FIELDS: usize = 6;
const WIDE_BYTES: usize = 8 * WIDE_FIELDS;

pub(crate) struct Payload {
    ptr: NonNull<u8>,
}

// SAFETY: `Payload` uniquely owns its block (like `Box<[u8]>`) and offers no interior
// mutability, so moving it across threads and sharing `&Payload` are both sound.
unsafe impl Send for Payload {}
// SAFETY: see above.
unsafe impl Sync for Payload {}

fn put_varint(buf: &mut [u8; MAX_HEADER], at: usize, mut v: u64) -> usize {
    let mut i = at;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    i + 1
}

/// Where a block of `size` bytes lives.
fn layout(size: usize) -> Option<Layout> {
    (size > MAX_POOLED)
        .then(|| Layout::from_size_align(size, 1).ok())
        .flatten()
}

impl Payload {
    /// `None` only if the total size overflows `isize` (unreachable through the protocol).
    pub(crate) fn new(name: &[u8], data: Option<&[u8]>) -> Option<Payload> {
        Payload::build(name, data, None)
    }

    fn build(
        name: &[u8],
        data: Option<&[u8]>,
        wide: Option<[i64; WIDE_FIELDS]>,
    ) -> Option<Payload> {
        let data_bytes = data.unwrap_or_default();
        let mut header = [0u8; MAX_HEADER];
        let at = put_varint(&mut header, 0, name.len() as u64);
        let data_code = data.map_or(0, |d| d.len() as u64 + 1);
        let varints = put_varint(
            &mut header,
            at,
            (data_code << 1) | u64::from(wide.is_some()),
        );
        let header_len = varints + if wide.is_some() { WIDE_BYTES } else { 0 };
        let size = header_len
            .checked_add(name.len())?
            .checked_add(data_bytes.len())?;
        let ptr = if size <= MAX_POOLED {
            pool::allocate(size)
        } else {
            let layout = Layout::from_size_align(size, 1).ok()?;
            // SAFETY: `size > MAX_POOLED > 0`, so the layout is not zero-sized.
            let raw = unsafe { alloc(layout) };
            match NonNull::new(raw) {
                Some(ptr) => ptr,
                None => handle_alloc_error(layout),
            }
        };
        // SAFETY: the block holds at least `size` bytes; the copies fill disjoint ranges of it
        // exactly (varints + wide + name + data = size), from sources outside the fresh block.
        unsafe {
            let p = ptr.as_ptr();
            p.copy_from_nonoverlapping(header.as_ptr(), varints);
            if let Some(wide) = wide {
                for (i, v) in wide.iter().enumerate() {
                    p.add(varints + 8 * i)
                        .copy_from_nonoverlapping(v.to_le_bytes().as_ptr(), 8);
                }
            }
            p.add(header_len)
                .copy_from_nonoverlapping(name.as_ptr(), name.len());
            p.add(header_len + name.len())
                .copy_from_nonoverlapping(data_bytes.as_ptr(), data_bytes.len());
        }
        Some(Payload { ptr })
    }

    /// Reads the varint at byte `at` of the header.
    fn varint_at(&self, mut at: usize) -> (u64, usize) {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            // SAFETY: the header written by `new` is a valid pair of varints at the front of
            // the block, so every byte read here (up to the end of a varint) is inside it.
            let byte = unsafe { *self.ptr.as_ptr().add(at) };
            at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 || shift >= 63 {
                return (value, at);
            }
            shift += 7;
        }
    }

    /// (header length with the wide section, name length, data length or `None` for null
    /// data).
    fn parts(&self) -> (usize, usize, Option<usize>) {
        let (name, at) = self.varint_at(0);
        let (code, varints) = self.varint_at(at);
        let data = (code >> 1).checked_sub(1).map(|len| len as usize);
        let wide = if code & 1 != 0 { WIDE_BYTES } else { 0 };
        (varints + wide, name as usize, data)
    }

    /// Where the wide section starts, if there is one.
    fn wide_at(&self) -> Option<usize> {
        let (_, at) = self.varint_at(0);
        let (code, varints) = self.varint_at(at);
        (code & 1 != 0).then_some(varints)
    }

    fn size(&self) -> usize {
        let (header, name, data) = self.parts();
        header + name + data.unwrap_or(0)
    }

    fn wide_values(&self) -> Option<[i64; WIDE_FIELDS]> {
        self.wide_at()?;
        let mut values = [0; WIDE_FIELDS];
        for (i, v) in values.iter_mut().enumerate() {
            *v = self.wide(i);
        }
        Some(values)
    }

    /// Wide stat field `i` (0 if there is no wide section).
    pub(crate) fn wide(&self, i: usize) -> i64 {
        let Some(at) = self.wide_at().filter(|_| i < WIDE_FIELDS) else {
            return 0;
        };
        let mut bytes = [0u8; 8];
        // SAFETY: the wide section is WIDE_BYTES initialised bytes at `at`, and `i` is in it.
        unsafe {
            bytes
                .as_mut_ptr()
                .copy_from_nonoverlapping(self.ptr.as_ptr().add(at + 8 * i), 8);
        }
        i64::from_le_bytes(bytes)
    }

    /// Sets wide stat field `i`, adding the section first if there is none. False (nothing
    /// changed) only if the block cannot grow.
    pub(crate) fn set_wide(&mut self, i: usize, value: i64) -> bool {
        if i >= WIDE_FIELDS {
            return false;
        }
        let at = match self.wide_at() {
            Some(at) => at,
            None => {
                let Some(grown) = Payload::build(self.name(), self.data(), Some([0; WIDE_FIELDS]))
                else {
                    return false;
                };
                *self = grown;
                match self.wide_at() {
                    Some(at) => at,
                    None => return false,
                }
            }
        };
        // SAFETY: the wide section is WIDE_BYTES bytes at `at` in a block `self` owns
        // exclusively (`&mut self`), and `i` is in it.
        unsafe {
            self.ptr
                .as_ptr()
                .add(at + 8 * i)
                .copy_from_nonoverlapping(value.to_le_bytes().as_ptr(), 8);
        }
        true
    }

    /// The same name and wide section with other data.
    pub(crate) fn with_data(&self, data: Option<&[u8]>) -> Option<Payload> {
        Payload::build(self.name(), data, self.wide_values())
    }

    pub(crate) fn name(&self) -> &[u8] {
        self.name_and_data().0
    }

    pub(crate) fn data(&self) -> Option<&[u8]> {
        self.name_and_data().1
    }

    pub(crate) fn data_len(&self) -> usize {
        self.parts().2.unwrap_or(0)
    }

    /// Name and data with one read of the header (a snapshot writes both for every node).
    pub(crate) fn name_and_data(&self) -> (&[u8], Option<&[u8]>) {
        let (header, name, data) = self.parts();
        // SAFETY: the name is `name` initialised bytes right after the header, the data `len`
        // initialised bytes right after the name.
        unsafe {
            let name_ptr = self.ptr.as_ptr().add(header);
            (
                std::slice::from_raw_parts(name_ptr, name),
                data.map(|len| std::slice::from_raw_parts(name_ptr.add(name), len)),
            )
        }
    }
}

impl Clone for Payload {
    fn clone(&self) -> Payload {
        let (_, name, data) = self.parts();
        let copy = Payload::build(self.name(), self.data(), self.wide_values());
        debug_assert!(copy.is_some(), "{name} + {data:?} fitted once");
        // The sizes fitted when `self` was built, so they fit again.
        copy.unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        let size = self.size();
        match layout(size) {
            // SAFETY: a block of more than MAX_POOLED bytes was allocated by `new` with exactly
            // this layout.
            Some(layout) => unsafe { dealloc(self.ptr.as_ptr(), layout) },
            // SAFETY: a block of at most MAX_POOLED bytes came from the pool for this size,
            // and `self` is going away.
            None => unsafe { pool::release(self.ptr, size) },
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("name", &String::from_utf8_lossy(self.name()))
            .field("data_len", &self.parts().2)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_clones() {
        let p = Payload::new(b"abc", Some(b"12345")).unwrap();
        assert_eq!(p.name(), b"abc");
        assert_eq!(p.data(), Some(&b"12345"[..]));
        assert_eq!(p.data_len(), 5);
        let q = p.clone();
        drop(p);
        assert_eq!(q.name(), b"abc");
        let n = Payload::new(b"", None).unwrap();
        assert_eq!(n.name(), b"");
        assert_eq!(n.data(), None);
        let e = Payload::new(b"x", Some(b"")).unwrap();
        assert_eq!(e.data(), Some(&b""[..]));
        assert_eq!(std::mem::size_of::<Payload>(), 8);
        assert_eq!(std::mem::size_of::<Option<Payload>>(), 8);
        assert_eq!(q.size(), 2 + 3 + 5);
    }

    #[test]
    fn wide_section_survives_data_changes() {
        let mut p = Payload::new(b"n", Some(b"abc")).unwrap();
        assert_eq!(p.wide(2), 0);
        assert!(p.set_wide(2, i64::MIN));
        assert!(p.set_wide(4, -7));
        assert_eq!((p.name(), p.data()), (&b"n"[..], Some(&b"abc"[..])));
        let q = p.with_data(None).unwrap().clone();
        assert_eq!((q.wide(2), q.wide(4), q.wide(0)), (i64::MIN, -7, 0));
        assert_eq!((q.name(), q.data()), (&b"n"[..], None));
        assert!(p.set_wide(5, 1), "the ACL version's slot");
        assert!(!p.set_wide(WIDE_FIELDS, 1));
    }

    #[test]
    fn long_names_and_data_cross_the_pool_limit() {
        for (name_len, data_len) in [(0, 0), (127, 128), (200, 311), (300, 0), (5, 100_000)] {
            let name = vec![b'n'; name_len];
            let data = vec![b'd'; data_len];
            let p = Payload::new(&name, Some(&data)).unwrap();
            assert_eq!(p.name(), &name[..]);
            assert_eq!(p.data(), Some(&data[..]));
            let q = p.clone();
            drop(p);
            assert_eq!(q.data_len(), data_len);
            let n = Payload::new(&name, None).unwrap();
            assert_eq!((n.name().len(), n.data()), (name_len, None));
        }
    }
}
