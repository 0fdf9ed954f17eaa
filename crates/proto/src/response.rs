//! Server replies: a `ReplyHeader`, then (only when `err == 0`) the response record of the
//! request's opcode. Notifications are replies with xid -1 and a `WatcherEvent` body.

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::consts::{keeper_state, xid};
use crate::jute::{DecodeError, Jute, Reader};
use crate::multi::{self, MultiResult};
use crate::opcode::OpCode;
use crate::records::{Acl, ClientInfo, ReplyHeader, Stat, WatcherEvent};
use crate::ErrorCode;

/// The body of a successful reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// No body: delete, ping, auth, setWatches, checkWatches, removeWatches, closeSession.
    Empty,
    /// create (1).
    Create {
        path: String,
    },
    /// create2, createContainer, createTTL.
    Create2 {
        path: String,
        stat: Stat,
    },
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData, and reconfig (new config + stat of /zookeeper/config).
    GetData {
        data: Option<Bytes>,
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    GetChildren2 {
        children: Vec<String>,
        stat: Stat,
    },
    /// sync: echoes the path.
    Sync {
        path: String,
    },
    Multi(Vec<MultiResult>),
    /// getAllChildrenNumber.
    Number(i32),
    /// getEphemerals.
    Paths(Vec<String>),
    WhoAmI(Vec<ClientInfo>),
    /// addWatch answers an `ErrorResponse{err = 0}`: a 4-byte zero.
    AddWatch,
    /// sasl.
    Sasl {
        token: Option<Bytes>,
    },
}

impl Response {
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => path.encode(out),
            Response::Create2 { path, stat } => {
                path.encode(out);
                stat.encode(out);
            }
            Response::Stat(stat) => stat.encode(out),
            Response::GetData { data, stat } => {
                data.encode(out);
                stat.encode(out);
            }
            Response::GetAcl { acl, stat } => {
                acl.encode(out);
                stat.encode(out);
            }
            Response::GetChildren { children } | Response::Paths(children) => children.encode(out),
            Response::GetChildren2 { children, stat } => {
                children.encode(out);
                stat.encode(out);
            }
            Response::Multi(results) => multi::encode_results(results, out),
            Response::Number(n) => n.encode(out),
            Response::WhoAmI(infos) => infos.encode(out),
            Response::AddWatch => 0i32.encode(out),
            Response::Sasl { token } => token.encode(out),
        }
    }

    /// Decodes a successful reply body for a request of opcode `op` (client side).
    pub fn decode(op: OpCode, reader: &mut Reader<'_>) -> Result<Response, DecodeError> {
        Ok(match op {
            OpCode::Create => Response::Create {
                path: String::decode(reader)?,
            },
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => Response::Create2 {
                path: String::decode(reader)?,
                stat: Stat::decode(reader)?,
            },
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
                Response::Stat(Stat::decode(reader)?)
            }
            OpCode::GetData | OpCode::Reconfig => Response::GetData {
                data: Option::decode(reader)?,
                stat: Stat::decode(reader)?,
            },
            OpCode::GetAcl => Response::GetAcl {
                acl: Vec::decode(reader)?,
                stat: Stat::decode(reader)?,
            },
            OpCode::GetChildren => Response::GetChildren {
                children: Vec::decode(reader)?,
            },
            OpCode::GetChildren2 => Response::GetChildren2 {
                children: Vec::decode(reader)?,
                stat: Stat::decode(reader)?,
            },
            OpCode::Sync => Response::Sync {
                path: String::decode(reader)?,
            },
            OpCode::Multi | OpCode::MultiRead => Response::Multi(multi::decode_results(reader)?),
            OpCode::GetAllChildrenNumber => Response::Number(reader.read_i32()?),
            OpCode::GetEphemerals => Response::Paths(Vec::decode(reader)?),
            OpCode::WhoAmI => Response::WhoAmI(Vec::decode(reader)?),
            OpCode::AddWatch => {
                reader.read_i32()?;
                Response::AddWatch
            }
            OpCode::Sasl => Response::Sasl {
                token: Option::decode(reader)?,
            },
            _ => Response::Empty,
        })
    }
}

/// Encodes a whole reply (header + body when `err` is OK), without the frame length.
pub fn encode_reply(xid: i32, zxid: i64, result: &Result<Response, ErrorCode>, out: &mut BytesMut) {
    match result {
        Ok(response) => {
            ReplyHeader { xid, zxid, err: 0 }.encode(out);
            response.encode(out);
        }
        Err(code) => ReplyHeader {
            xid,
            zxid,
            err: code.as_i32(),
        }
        .encode(out),
    }
}

/// Encodes a watch notification (header with xid -1 + `WatcherEvent`), without the frame length.
pub fn encode_notification(zxid: i64, event_type: i32, path: &str, out: &mut BytesMut) {
    ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid,
        err: 0,
    }
    .encode(out);
    WatcherEvent {
        event_type,
        state: keeper_state::SYNC_CONNECTED,
        path: path.to_owned(),
    }
    .encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::event_type;

    #[test]
    fn error_replies_have_no_body() {
        let mut out = BytesMut::new();
        encode_reply(5, 0x20, &Err(ErrorCode::NoNode), &mut out);
        assert_eq!(
            &out[..],
            &[0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0x20, 0xff, 0xff, 0xff, 0x9b]
        );
    }

    #[test]
    fn stat_reply_golden() {
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let mut out = BytesMut::new();
        encode_reply(1, 2, &Ok(Response::Stat(stat.clone())), &mut out);
        assert_eq!(out.len(), 16 + 68);
        let mut expected = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0];
        for v in [1i64, 2, 3, 4] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        for v in [5i32, 6, 7] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        expected.extend_from_slice(&8i64.to_be_bytes());
        for v in [9i32, 10] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        expected.extend_from_slice(&11i64.to_be_bytes());
        assert_eq!(&out[..], &expected[..]);
        let decoded = Response::decode(OpCode::Exists, &mut Reader::new(&out[16..])).unwrap();
        assert_eq!(decoded, Response::Stat(stat));
    }

    #[test]
    fn notification_golden() {
        let mut out = BytesMut::new();
        encode_notification(7, event_type::NODE_DELETED, "/x", &mut out);
        let expected: Vec<u8> = [
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0][..],
            &[0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2, b'/', b'x'],
        ]
        .concat();
        assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn add_watch_reply_is_a_zero_int() {
        let mut out = BytesMut::new();
        Response::AddWatch.encode(&mut out);
        assert_eq!(&out[..], &[0, 0, 0, 0]);
    }
}
