//! A client's zxid never goes back: every reply a session receives, on whichever server and
//! connection, carries a zxid at least as high as any it received before (the server it
//! reconnects to must have seen as much; ZooKeeper refuses the connection otherwise).

use super::Violation;

const PROPERTY: &str = "a client's zxid never goes back";

/// The highest zxid a session has seen.
#[derive(Debug, Default, Clone, Copy)]
pub struct SessionZxid {
    pub highest: i64,
}

impl SessionZxid {
    /// A reply with header zxid `zxid` arrived from server `node`.
    pub fn observe(
        &mut self,
        session: i64,
        node: u64,
        zxid: i64,
        what: &str,
    ) -> Result<(), Violation> {
        // Pings and some errors carry no zxid (0 or -1); they say nothing.
        if zxid <= 0 {
            return Ok(());
        }
        if zxid < self.highest {
            return Err(Violation::new(
                PROPERTY,
                format!(
                    "session 0x{session:x} got zxid {zxid} from server {node} ({what}) after \
                     having seen {}",
                    self.highest
                ),
            ));
        }
        self.highest = zxid;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn going_back_is_a_violation() {
        let mut z = SessionZxid::default();
        z.observe(1, 1, 5, "read").unwrap();
        z.observe(1, 2, 5, "read").unwrap();
        z.observe(1, 2, 0, "ping").unwrap();
        assert!(z.observe(1, 3, 4, "read").is_err());
    }
}
