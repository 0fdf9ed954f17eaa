//! The ZooKeeper client wire protocol, as spoken by Apache ZooKeeper 3.9.
//!
//! Everything here is pure: bytes in, typed records out (and back). No I/O, no clock, no
//! tokio. The server, the client and the tests all speak the protocol through this crate, so a
//! byte layout lives in exactly one place.
//!
//! Map:
//! - [`jute`]: the binary encoding every record is made of (big-endian ints, length-prefixed
//!   strings and buffers, counted vectors) and the [`jute::Jute`] trait.
//! - [`records`]: every data and protocol record of `zookeeper.jute` the client protocol uses.
//! - [`frame`]: the 4-byte length framing and its size limit.
//! - [`connect`]: the handshake records, whose trailing `readOnly` byte is optional.
//! - [`request`] / [`response`]: one enum variant per opcode, decoded from / encoded into a
//!   frame body.
//! - [`multi`]: the `multi` / `multiRead` transaction records.
//! - [`opcode`], [`error_code`], [`consts`]: numbers shared by both sides.

pub mod connect;
pub mod consts;
pub mod error_code;
pub mod frame;
pub mod jute;
pub mod multi;
pub mod opcode;
pub mod records;
pub mod request;
pub mod response;

pub use error_code::ErrorCode;
pub use jute::{DecodeError, Jute, Reader};
pub use opcode::OpCode;
pub use records::{Acl, Id, Stat};
