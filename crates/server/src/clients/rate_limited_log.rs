//! Warnings about abusive clients, logged at most once per [`LOG_INTERVAL`] per kind: a flood
//! of bad connections must not turn into a flood of log lines (the log's own I/O would then be
//! the attack). The next line of a kind says how many were left out since the last one.

use std::fmt;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The least time between two lines of one kind.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(10);

struct Kind {
    name: &'static str,
    last: Instant,
    suppressed: u64,
}

/// Process-wide, as the log itself is.
static KINDS: Mutex<Vec<Kind>> = Mutex::new(Vec::new());

/// Logs `message` as a warning unless a line of `kind` was logged within [`LOG_INTERVAL`].
pub(crate) fn warn(kind: &'static str, message: fmt::Arguments<'_>) {
    let now = Instant::now();
    let suppressed = {
        let mut kinds = KINDS.lock();
        match kinds.iter_mut().find(|k| k.name == kind) {
            Some(k) if now.duration_since(k.last) < LOG_INTERVAL => {
                k.suppressed += 1;
                return;
            }
            Some(k) => {
                k.last = now;
                std::mem::take(&mut k.suppressed)
            }
            None => {
                kinds.push(Kind {
                    name: kind,
                    last: now,
                    suppressed: 0,
                });
                0
            }
        }
    };
    if suppressed == 0 {
        tracing::warn!(kind, "{message}");
    } else {
        tracing::warn!(
            kind,
            suppressed,
            "{message} ({suppressed} more since the last such line)"
        );
    }
}
