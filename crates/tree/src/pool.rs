//! A size-class pool for the small blocks node payloads live in.
//!
//! Why: every znode owns one variable-size block (name + data). glibc's malloc puts an 8-byte
//! header in front of each block and rounds it up to 16 bytes (32 at least): about 16 bytes per
//! znode, a sixth of the whole per-znode budget. Here blocks of up to [`MAX_POOLED`] bytes are
//! carved from 64 KiB pages in 8-byte classes with no header: the owner knows its block's size
//! (the payload header records it), and a freed block goes on its class's free list, linked
//! through its own first 8 bytes. Larger blocks go to the system allocator, where the header is
//! noise.
//!
//! Trade-offs: pages are never returned to the system (a freed block is reused by the next
//! block of its class; like a JVM heap, the footprint follows the peak), and one lock guards
//! the pool. Payloads are allocated and freed by the applying thread, so it is uncontended.

use std::alloc::{alloc, handle_alloc_error, Layout};
use std::ptr::{null_mut, NonNull};
use std::sync::{Mutex, PoisonError};

const GRANULE: usize = 8;
/// The largest block served from the pool.
pub(crate) const MAX_POOLED: usize = 512;
const CLASSES: usize = MAX_POOLED / GRANULE;
const PAGE: usize = 64 * 1024;

struct Pool {
    /// Head of each class's free list (class `i` holds blocks of `(i + 1) * 8` bytes).
    free: [*mut u8; CLASSES],
    /// Unused rest of the current page.
    bump: *mut u8,
    left: usize,
}

// SAFETY: the pool's pointers are only followed while its mutex is held.
unsafe impl Send for Pool {}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: [null_mut(); CLASSES],
    bump: null_mut(),
    left: 0,
});

/// The class (index, block size) of a block for `size` bytes (1 ..= MAX_POOLED).
fn class_of(size: usize) -> (usize, usize) {
    let block = size.max(1).div_ceil(GRANULE) * GRANULE;
    (block / GRANULE - 1, block)
}

/// A block of at least `size` bytes (1 ..= [`MAX_POOLED`]), 8-byte aligned, uninitialised.
pub(crate) fn allocate(size: usize) -> NonNull<u8> {
    debug_assert!(size <= MAX_POOLED);
    let (class, block) = class_of(size);
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(head) = NonNull::new(pool.free[class]) {
        // SAFETY: a block on a free list is a pool block of this class (≥ 8 bytes, 8-aligned)
        // whose first 8 bytes hold the next free block's address; the lock is held.
        pool.free[class] = unsafe { head.as_ptr().cast::<*mut u8>().read() };
        return head;
    }
    if pool.left < block {
        // The rest of the old page (< 512 bytes) is left unused.
        let layout = page_layout();
        // SAFETY: the layout is non-zero-sized.
        let page = unsafe { alloc(layout) };
        if page.is_null() {
            handle_alloc_error(layout);
        }
        pool.bump = page;
        pool.left = PAGE;
    }
    let start = pool.bump;
    // SAFETY: `left >= block`, so `start + block` stays within (or one past) the page.
    pool.bump = unsafe { start.add(block) };
    pool.left -= block;
    // SAFETY: `start` points into a live page, so it is not null.
    unsafe { NonNull::new_unchecked(start) }
}

/// Gives back a block.
///
/// # Safety
/// `block` came from [`allocate`] with a `size` of the same class, and is not used afterwards.
pub(crate) unsafe fn release(block: NonNull<u8>, size: usize) {
    let (class, _) = class_of(size);
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    // SAFETY: per the contract the block is ours, at least 8 bytes and 8-aligned.
    unsafe { block.as_ptr().cast::<*mut u8>().write(pool.free[class]) };
    pool.free[class] = block.as_ptr();
}

fn page_layout() -> Layout {
    // PAGE and GRANULE are valid constants (non-zero size, power-of-two alignment).
    Layout::from_size_align(PAGE, GRANULE).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_to_eight() {
        assert_eq!(class_of(1), (0, 8));
        assert_eq!(class_of(8), (0, 8));
        assert_eq!(class_of(9), (1, 16));
        assert_eq!(class_of(MAX_POOLED), (CLASSES - 1, MAX_POOLED));
    }

    #[test]
    fn blocks_are_distinct_and_reused() {
        let a = allocate(20);
        let b = allocate(20);
        assert_ne!(a, b);
        assert_eq!(a.as_ptr() as usize % GRANULE, 0);
        // SAFETY: fresh blocks of 24 bytes.
        unsafe {
            a.as_ptr().write_bytes(0xaa, 20);
            b.as_ptr().write_bytes(0xbb, 20);
            assert_eq!(*a.as_ptr().add(19), 0xaa);
            release(b, 20);
        }
        // Another thread may take it first (the pool is global), so only check it is usable.
        let c = allocate(17);
        // SAFETY: a block of the same class.
        unsafe {
            c.as_ptr().write_bytes(0xcc, 17);
            release(c, 17);
            release(a, 20);
        }
    }
}
