//! Apache ZooKeeper's on-disk data (the `version-2` directory of 3.4–3.9) and the replay of
//! its transaction log, for `corral data import-zookeeper` / `export-zookeeper`.
//!
//! Pure: every function takes bytes and returns values or bytes; reading and writing files is
//! the caller's. Decoding is total: every length is checked against the bytes left before
//! anything is allocated (through `corral_proto::Reader`), and every failure is a typed error
//! carrying the byte offset where it was found. Nothing here panics on malformed input.
//!
//! The facts followed (ZooKeeper's `FileSnap`, `SnapStream`, `FileTxnLog`, `Util`,
//! `SerializeUtils`, `DataTree`, `DataNode`, `ReferenceCountedACLCache`, `DigestCalculator`,
//! `zookeeper.jute`) are stated where they are used; no ZooKeeper code is copied.
//!
//! Map (each module may use only those listed before it):
//! - [`checksum`]: Adler-32 (snapshot seals, log records) and CRC-32 (ZooKeeper's digest).
//! - [`error`]: [`FormatError`], an offset and a reason.
//! - [`records`]: the jute records of the files (file header, `StatPersisted`, txn bodies).
//! - [`names`]: `snapshot.<zxid hex>` / `log.<zxid hex>` file names.
//! - [`txn`]: one logged transaction decoded ([`TxnEntry`]).
//! - [`txnlog`]: a log file's records, its valid prefix and how it ends.
//! - [`password`]: the session password ZooKeeper derives from a session id.
//! - [`model`]: [`ZkTree`], ZooKeeper's `DataTree` as its snapshot and replay define it, with
//!   `processTxn`'s rules and ZooKeeper's own tree digest.
//! - [`snapshot`]: reading and writing a snapshot file into and from a [`ZkTree`].
//! - [`convert`]: [`ZkTree`] to and from Corral's [`corral_tree::PlainState`].

pub mod checksum;
pub mod convert;
pub mod error;
pub mod model;
pub mod names;
pub mod password;
pub mod records;
pub mod snapshot;
pub mod txn;
pub mod txnlog;

pub use error::FormatError;
pub use model::ZkTree;
pub use txn::TxnEntry;
