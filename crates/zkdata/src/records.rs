//! The jute records of ZooKeeper's data files (`zookeeper.jute`: `FileHeader`,
//! `StatPersisted`, the `org.apache.zookeeper.txn` module), in field order. Decoding goes
//! through `corral_proto`'s reader, which checks every length against the bytes left.

use bytes::Bytes;
use corral_proto::{jute_record, Acl};

/// `FileHeader.magic` of a snapshot: "ZKSN" read as a big-endian int.
pub const SNAPSHOT_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// `FileHeader.magic` of a transaction log: "ZKLG".
pub const LOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// The only `FileHeader.version` ZooKeeper writes (and the directory name `version-2`).
pub const FILE_VERSION: i32 = 2;
/// `FileHeader.dbid` as ZooKeeper writes it.
pub const FILE_DBID: i64 = 0;
/// Encoded size of a [`FileHeader`].
pub const FILE_HEADER_BYTES: usize = 16;

/// `TxnHeader.type` values (`ZooDefs.OpCode`) that appear in logs.
pub mod txn_type {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

jute_record! {
    /// The first 16 bytes of every snapshot and log file.
    pub struct FileHeader {
        pub magic: i32,
        pub version: i32,
        pub dbid: i64,
    }
}

jute_record! {
    /// A node's persisted stat. `cversion` counts child creations only.
    pub struct StatPersisted {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: i64,
    }
}

jute_record! {
    pub struct TxnHeader {
        pub client_id: i64,
        pub cxid: i32,
        pub zxid: i64,
        pub time: i64,
        pub txn_type: i32,
    }
}

jute_record! {
    pub struct CreateTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_cversion: i32,
    }
}

jute_record! {
    /// A create as logged before `parentCVersion` existed.
    pub struct CreateTxnV0 {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
    }
}

jute_record! {
    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
}

jute_record! {
    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
}

jute_record! {
    pub struct DeleteTxn {
        pub path: String,
    }
}

jute_record! {
    pub struct SetDataTxn {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

jute_record! {
    pub struct CheckVersionTxn {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    pub struct SetAclTxn {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    pub struct CreateSessionTxn {
        pub timeout: i32,
    }
}

jute_record! {
    /// The ephemerals the leader deleted with the session (3.6+; absent before).
    pub struct CloseSessionTxn {
        pub paths: Vec<String>,
    }
}

jute_record! {
    pub struct ErrorTxn {
        pub err: i32,
    }
}

jute_record! {
    /// One operation of a multi: its type and its encoded txn record.
    pub struct SubTxn {
        pub txn_type: i32,
        pub data: Option<Bytes>,
    }
}

jute_record! {
    pub struct MultiTxn {
        pub txns: Vec<SubTxn>,
    }
}

jute_record! {
    /// ZooKeeper's tree digest after a txn (3.6+), appended to the logged txn.
    pub struct TxnDigest {
        pub version: i32,
        pub tree_digest: i64,
    }
}
