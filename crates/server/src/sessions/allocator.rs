//! Session ids as ZooKeeper allocates them: the server id in the top byte, the low 40 bits of
//! the start time in ms in bits 16–55, a counter in the low bits. Unique across servers and
//! restarts without coordination.

use std::sync::atomic::{AtomicI64, Ordering};

use corral_proto::consts::CONTAINER_EPHEMERAL_OWNER;

use crate::ids::{ServerId, SessionId};

#[derive(Debug)]
pub(crate) struct SessionIdAllocator {
    next: AtomicI64,
}

impl SessionIdAllocator {
    pub(crate) fn new(server_id: ServerId, start_ms: u64) -> SessionIdAllocator {
        let time_bits = ((start_ms << 24) >> 8) as i64;
        let first = time_bits | ((server_id as i64) << 56);
        SessionIdAllocator {
            next: AtomicI64::new(first),
        }
    }

    pub(crate) fn allocate(&self) -> SessionId {
        loop {
            let id = self.next.fetch_add(1, Ordering::AcqRel);
            if id != CONTAINER_EPHEMERAL_OWNER && id != 0 {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_server_id_and_increase() {
        let alloc = SessionIdAllocator::new(1, 0x0123_4567_89ab);
        let a = alloc.allocate();
        let b = alloc.allocate();
        assert_eq!(a >> 56, 1);
        assert_eq!(b, a + 1);
        assert_eq!(
            (a >> 16) & 0xff_ffff_ffff,
            0x0123_4567_89ab & 0xff_ffff_ffff
        );
    }
}
