//! Hostile input never panics `corral server`, and every other session keeps working.
//!
//! Each test runs its own server with a healthy bystander session (`zookeeper-client`) that
//! must write, read and delete after every case, and ends by checking that the process is
//! alive, answers `ruok` and logged no panic. The attacks go over raw TCP, byte by byte, so a
//! case is exactly the bytes it names.
//!
//! Map:
//! - [`support`]: the server, the bystander, a raw connection that reads frames or the close.
//! - [`framing`]: bad frame lengths, truncation, garbage or requests in place of the
//!   handshake, the optional readOnly byte, a client ahead of the server, unknown sessions.
//! - [`requests`]: unknown opcodes, bare check, lying lengths inside records, bad and huge
//!   multis, noise after the handshake.
//! - [`load`]: connection churn, a client that never reads while watches fire,
//!   `maxClientCnxns`.
//! - [`fourlw`]: four-letter words and their whitelist.

mod fourlw;
mod framing;
mod load;
mod requests;
mod support;
