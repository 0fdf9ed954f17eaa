//! What a seed did, step by step: the lines printed when it fails, and a fingerprint of
//! everything (the lines, every entry every server applied, every reply every client got)
//! that two runs of one seed must share.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

/// Print each line as it is pushed (to stderr, between the servers' logs): set by
/// [`crate::init_logging`].
pub(crate) static ECHO: AtomicBool = AtomicBool::new(false);

/// A detail for a replay's log (printed only with `SIM_LOG`; not part of the trace).
pub fn note(text: impl FnOnce() -> String) {
    if ECHO.load(Ordering::Relaxed) {
        eprintln!("SIM   {}", text());
    }
}

#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub lines: Vec<String>,
    fingerprint: u64,
}

impl Trace {
    pub fn push(&mut self, line: String) {
        if ECHO.load(Ordering::Relaxed) {
            eprintln!("SIM {line}");
        }
        self.mix_str(&line);
        self.lines.push(line);
    }

    pub fn mix(&mut self, value: u64) {
        let mut h = DefaultHasher::new();
        self.fingerprint.hash(&mut h);
        value.hash(&mut h);
        self.fingerprint = h.finish();
    }

    fn mix_str(&mut self, line: &str) {
        let mut h = DefaultHasher::new();
        self.fingerprint.hash(&mut h);
        line.hash(&mut h);
        self.fingerprint = h.finish();
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The last `n` lines.
    pub fn tail(&self, n: usize) -> &[String] {
        &self.lines[self.lines.len().saturating_sub(n)..]
    }
}
