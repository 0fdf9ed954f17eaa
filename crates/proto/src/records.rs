//! Every record of `zookeeper.jute` that crosses the client connection, field order = wire order.
//!
//! Names follow ZooKeeper's so that a reader can look a layout up there. Records with an optional
//! trailing field (the handshake) live in [`crate::connect`]; `multi` lives in [`crate::multi`].

use bytes::Bytes;

use crate::jute_record;

jute_record! {
    /// An identity: `scheme:id`, e.g. `world:anyone`, `digest:user:base64`, `ip:10.0.0.0/8`.
    pub struct Id {
        pub scheme: String,
        pub id: String,
    }
}

jute_record! {
    /// One ACL entry: a permission bitmask (see [`crate::consts::perms`]) granted to an id.
    pub struct Acl {
        pub perms: i32,
        pub id: Id,
    }
}

jute_record! {
    /// The node status every read and write reply carries (68 bytes on the wire).
    pub struct Stat {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: i64,
    }
}

jute_record! {
    /// One authenticated identity of a connection, as `whoAmI` reports it.
    pub struct ClientInfo {
        pub auth_scheme: String,
        pub user: String,
    }
}

jute_record! {
    pub struct RequestHeader {
        pub xid: i32,
        pub op_type: i32,
    }
}

jute_record! {
    pub struct ReplyHeader {
        pub xid: i32,
        pub zxid: i64,
        pub err: i32,
    }
}

jute_record! {
    pub struct MultiHeader {
        pub op_type: i32,
        pub done: bool,
        pub err: i32,
    }
}

jute_record! {
    pub struct AuthPacket {
        pub auth_type: i32,
        pub scheme: String,
        pub auth: Option<Bytes>,
    }
}

jute_record! {
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}

jute_record! {
    pub struct CreateRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }
}

jute_record! {
    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }
}

jute_record! {
    pub struct CreateResponse {
        pub path: String,
    }
}

jute_record! {
    pub struct Create2Response {
        pub path: String,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct DeleteRequest {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    /// Shared layout of exists, getData, getChildren and getChildren2 requests.
    pub struct PathWatchRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    pub struct StatResponse {
        pub stat: Stat,
    }
}

jute_record! {
    pub struct GetDataResponse {
        pub data: Option<Bytes>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct SetDataRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

jute_record! {
    /// Shared layout of getACL, sync, getAllChildrenNumber and getEphemerals requests, and of
    /// the sync response: a single path.
    pub struct PathRequest {
        pub path: String,
    }
}

jute_record! {
    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct SetAclRequest {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    pub struct GetChildrenResponse {
        pub children: Vec<String>,
    }
}

jute_record! {
    pub struct GetChildren2Response {
        pub children: Vec<String>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }
}

jute_record! {
    pub struct CheckVersionRequest {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    pub struct ReconfigRequest {
        pub joining_servers: String,
        pub leaving_servers: String,
        pub new_members: String,
        pub cur_config_id: i64,
    }
}

jute_record! {
    pub struct SaslPacket {
        pub token: Option<Bytes>,
    }
}

jute_record! {
    pub struct AddWatchRequest {
        pub path: String,
        pub mode: i32,
    }
}

jute_record! {
    /// Shared layout of checkWatches and removeWatches requests.
    pub struct WatchesRequest {
        pub path: String,
        pub watcher_type: i32,
    }
}

jute_record! {
    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<String>,
    }
}

jute_record! {
    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }
}

jute_record! {
    pub struct WatcherEvent {
        pub event_type: i32,
        pub state: i32,
        pub path: String,
    }
}

jute_record! {
    pub struct ErrorResponse {
        pub err: i32,
    }
}

impl Acl {
    pub fn new(perms: i32, scheme: &str, id: &str) -> Self {
        Acl {
            perms,
            id: Id {
                scheme: scheme.to_owned(),
                id: id.to_owned(),
            },
        }
    }
}
