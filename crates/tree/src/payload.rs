//! A node's name and data in one heap block behind a thin (8-byte) pointer.
//!
//! Why: a million znodes each carry one variable-size block. `Box<[u8]>` is a 16-byte fat
//! pointer; keeping the two lengths at the front of the block instead halves the pointer, and
//! one block per node (rather than one for the name and one for the data) pays the allocator's
//! header and rounding once. Layout of the block:
//!
//! `[name len: u32 LE][data len: u32 LE, u32::MAX = null data][name][data]`
//!
//! This is the crate's only `unsafe` code: an owned allocation of exactly
//! `HEADER + name + data` bytes, written once at construction and only read afterwards, freed
//! with the same layout (recomputed from the header) on drop. It behaves like `Box<[u8]>`, so
//! it is `Send` and `Sync`.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

const HEADER: usize = 8;
const NULL_DATA: u32 = u32::MAX;

pub(crate) struct Payload {
    ptr: NonNull<u8>,
}

// SAFETY: `Payload` uniquely owns its allocation (like `Box<[u8]>`) and offers no interior
// mutability, so moving it across threads and sharing `&Payload` are both sound.
unsafe impl Send for Payload {}
// SAFETY: see above.
unsafe impl Sync for Payload {}

impl Payload {
    /// `None` when a length does not fit the header (more than 4 GiB − 2 bytes).
    pub(crate) fn new(name: &[u8], data: Option<&[u8]>) -> Option<Payload> {
        let name_len = u32::try_from(name.len()).ok().filter(|&l| l != NULL_DATA)?;
        let data_bytes = data.unwrap_or_default();
        let data_len = match data {
            Some(d) => u32::try_from(d.len()).ok().filter(|&l| l != NULL_DATA)?,
            None => NULL_DATA,
        };
        let size = HEADER
            .checked_add(name.len())?
            .checked_add(data_bytes.len())?;
        let layout = Layout::from_size_align(size, 1).ok()?;
        // SAFETY: `size >= HEADER > 0`, so the layout is not zero-sized.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the block is `size` bytes; the four copies fill disjoint ranges of it exactly
        // (4 + 4 + name + data = size), from sources that do not overlap a fresh allocation.
        unsafe {
            let p = ptr.as_ptr();
            p.copy_from_nonoverlapping(name_len.to_le_bytes().as_ptr(), 4);
            p.add(4)
                .copy_from_nonoverlapping(data_len.to_le_bytes().as_ptr(), 4);
            p.add(HEADER)
                .copy_from_nonoverlapping(name.as_ptr(), name.len());
            p.add(HEADER + name.len())
                .copy_from_nonoverlapping(data_bytes.as_ptr(), data_bytes.len());
        }
        Some(Payload { ptr })
    }

    fn header(&self) -> (usize, Option<usize>) {
        // SAFETY: every block starts with the 8 header bytes written by `new`.
        let head = unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), HEADER) };
        let name = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let data = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        (name as usize, (data != NULL_DATA).then_some(data as usize))
    }

    fn size(&self) -> usize {
        let (name, data) = self.header();
        HEADER + name + data.unwrap_or(0)
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the block is exactly `size()` initialised bytes, owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.size()) }
    }

    pub(crate) fn name(&self) -> &[u8] {
        let (name, _) = self.header();
        &self.bytes()[HEADER..HEADER + name]
    }

    pub(crate) fn data(&self) -> Option<&[u8]> {
        let (name, data) = self.header();
        data.map(|len| &self.bytes()[HEADER + name..HEADER + name + len])
    }

    pub(crate) fn data_len(&self) -> usize {
        self.header().1.unwrap_or(0)
    }
}

impl Clone for Payload {
    fn clone(&self) -> Payload {
        let bytes = self.bytes();
        // The lengths fitted when `self` was built, so they fit again.
        let layout = Layout::from_size_align(bytes.len(), 1).unwrap_or_else(|_| unreachable!());
        // SAFETY: non-zero size (at least the header).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        // SAFETY: both ranges are `bytes.len()` long and distinct allocations.
        unsafe {
            ptr.as_ptr()
                .copy_from_nonoverlapping(bytes.as_ptr(), bytes.len())
        };
        Payload { ptr }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        let size = self.size();
        // SAFETY: allocated in `new`/`clone` with exactly this size and alignment 1.
        unsafe {
            dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(size, 1),
            )
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("name", &String::from_utf8_lossy(self.name()))
            .field("data_len", &self.header().1)
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
    }
}
