//! Test helpers for Corral, meant to be used only as a dev-dependency of test crates.
//!
//! * [`ApacheZk`] runs a real Apache ZooKeeper server (Debian's 3.8 jars, see
//!   `scripts/install-test-deps.sh`) in standalone mode on 127.0.0.1, for differential tests.
//!   [`apache_zk_available`] tells whether it can run here; tests that need it should print
//!   `SKIP: <reason>` and return when it cannot.
//! * [`CorralProcess`] runs a Corral server executable (for integration tests, the path comes
//!   from `env!("CARGO_BIN_EXE_corral")`) and waits until it answers `ruok`.
//! * [`proxy::Proxy`] is a TCP proxy a test can partition (black hole, one-way, reset, hold, delay),
//!   for network faults between real processes.
//! * [`four_letter_word`] sends a ZooKeeper four-letter word (`ruok`, `srvr`, `mntr`, ...) over TCP
//!   and returns the answer; [`free_port`] picks an unused TCP port on 127.0.0.1.
//!
//! Every server is started with its output redirected to log files in a fresh temporary directory;
//! a start failure's error carries the tail of that log. Servers are killed (SIGKILL) and reaped
//! when their handle is dropped, and on Linux also when the test process itself dies, so a crashed
//! or timed-out test run leaves no orphan JVM behind.
//!
//! ```no_run
//! use corral_testkit::{apache_zk_available, four_letter_word, ApacheZk, ApacheZkOptions};
//!
//! if let Err(reason) = apache_zk_available() {
//!     println!("SKIP: {reason}");
//!     return;
//! }
//! let zk = ApacheZk::start(ApacheZkOptions::default().with_extended_types()).unwrap();
//! assert_eq!(four_letter_word(zk.addr(), "ruok").unwrap(), "imok");
//! ```
#![cfg(unix)]
#![warn(missing_docs)]

mod apache;
mod apache_ensemble;
mod corral;
mod fourlw;
mod process;
pub mod proxy;

pub use apache::{
    apache_zk_available, apache_zk_classpath, apache_zk_or_skip, ApacheZk, ApacheZkOptions,
    APACHE_ZK_OPTIONAL_JARS, APACHE_ZK_REQUIRED_JARS, REQUIRE_APACHE_ZK_ENV,
};
pub use apache_ensemble::{ApacheZkEnsemble, ApacheZkEnsembleOptions};
pub use corral::CorralProcess;
pub use fourlw::{four_letter_word, four_letter_word_with_timeout, FOUR_LETTER_WORD_TIMEOUT};
pub use proxy::Proxy;

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

/// How long [`ApacheZk::start`] and [`CorralProcess::start`] wait by default for a server to
/// become ready.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Returns a TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read the port,
/// release it).
///
/// Another process may take the port before the caller binds it; [`ApacheZk::start`] and
/// [`CorralProcess::standalone`] retry with a new port when their server fails with "address in
/// use".
///
/// # Panics
///
/// This is a test helper: it panics when no socket can be bound on 127.0.0.1. Library code paths
/// use [`try_free_port`] instead.
pub fn free_port() -> u16 {
    try_free_port().unwrap_or_else(|e| panic!("free_port: cannot bind 127.0.0.1:0: {e}"))
}

/// Like [`free_port`], but returns the error instead of panicking.
pub fn try_free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Renders `key=value` lines: `defaults` first, each replaced in place by an entry of `extra` with
/// the same key; the remaining `extra` entries follow in their order.
fn render_cfg(defaults: Vec<(String, String)>, extra: &[(String, String)]) -> String {
    let mut entries = defaults;
    for (key, value) in extra {
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.clone(),
            None => entries.push((key.clone(), value.clone())),
        }
    }
    let mut out = String::new();
    for (k, v) in entries {
        out.push_str(&k);
        out.push('=');
        out.push_str(&v);
        out.push('\n');
    }
    out
}

/// The value of `key` in `extra`, if the caller set it (the last one wins).
fn cfg_override<'a>(extra: &'a [(String, String)], key: &str) -> Option<&'a str> {
    extra
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port();
        assert_ne!(port, 0);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("port should be free");
        assert_eq!(listener.local_addr().unwrap().port(), port);
    }

    #[test]
    fn free_ports_differ_while_held() {
        let a = TcpListener::bind((Ipv4Addr::LOCALHOST, free_port())).unwrap();
        let b = free_port();
        assert_ne!(a.local_addr().unwrap().port(), b);
    }

    #[test]
    fn cfg_extra_overrides_and_appends() {
        let cfg = render_cfg(
            vec![kv("tickTime", "2000"), kv("clientPort", "1")],
            &[kv("clientPort", "2"), kv("syncLimit", "5")],
        );
        assert_eq!(cfg, "tickTime=2000\nclientPort=2\nsyncLimit=5\n");
        assert_eq!(cfg_override(&[kv("a", "1"), kv("a", "2")], "a"), Some("2"));
        assert_eq!(cfg_override(&[kv("a", "1")], "b"), None);
    }
}
