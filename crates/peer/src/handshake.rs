//! The hello every connection starts with, and its answer: the compatibility boundary between
//! servers of different builds (a rolling upgrade runs two versions side by side).
//!
//! # Layout (payload of the first frame each way)
//!
//! ```text
//! hello: b"CRLP" | protocol_version: u16 BE | postcard { ensemble_id, from, to, channel }
//! reply: b"CRLP" | protocol_version: u16 BE | postcard { server_id, Welcome | Refused{reason} }
//! ```
//!
//! Magic and version sit at fixed offsets in plain bytes, so that any build, older or newer,
//! can read the version of any hello or reply and refuse it with a message naming both
//! versions, whatever the rest looks like. Only the rest is postcard, and its layout belongs
//! to the version. Golden bytes: `tests`.
//!
//! This file is pure (bytes in, values out); `conn.rs` runs the exchange on a socket.

use serde::{Deserialize, Serialize};

use crate::config::PeerConfig;
use crate::error::PeerError;

/// The version of everything after the hello: the messages of `message.rs` and the way each
/// channel uses them. Servers refuse a peer speaking another version.
///
/// 2: `Channel::RaftAppend` (pipelined AppendEntries) and its messages.
pub const PEER_PROTOCOL_VERSION: u16 = 2;
/// First bytes of every hello and reply: a stranger (or a ZooKeeper client on the wrong
/// port) is told apart from a peer of another version.
pub const HELLO_MAGIC: [u8; 4] = *b"CRLP";
/// Bytes of magic and version.
const PREFIX_BYTES: usize = 6;

/// What a connection carries, fixed for its lifetime, so each kind of traffic has its own
/// connection and none waits behind another (a snapshot never delays a heartbeat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// openraft's request/response RPCs, one at a time.
    Raft,
    /// One streamed snapshot.
    Snapshot,
    /// The server's own request/response messages, one at a time.
    AppRequest,
    /// The server's own one-way messages, in order.
    AppStream,
    /// openraft's AppendEntries as a pipeline: several requests in flight, answers in order
    /// (`append_stream.rs`).
    RaftAppend,
}

/// The connecting side's hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub magic: [u8; 4],
    pub protocol_version: u16,
    pub ensemble_id: String,
    /// The connecting server's id.
    pub from: u64,
    /// The id the connecting server expects to reach.
    pub to: u64,
    pub channel: Channel,
}

#[derive(Serialize, Deserialize)]
struct HelloBody {
    ensemble_id: String,
    from: u64,
    to: u64,
    channel: Channel,
}

/// How a hello parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedHello {
    /// Magic and body read (the version may still differ from ours: the body layout
    /// happened to fit).
    Hello(Hello),
    /// Magic right, but a version whose body does not read with our layout.
    OtherVersion { protocol_version: u16 },
}

impl Hello {
    /// This server's hello to server `to`, at this build's version.
    pub fn new(config: &PeerConfig, to: u64, channel: Channel) -> Self {
        Hello {
            magic: HELLO_MAGIC,
            protocol_version: PEER_PROTOCOL_VERSION,
            ensemble_id: config.ensemble_id.clone(),
            from: config.my_id,
            to,
            channel,
        }
    }

    /// The payload (without the length prefix).
    pub fn encode(&self) -> Result<Vec<u8>, PeerError> {
        let body = HelloBody {
            ensemble_id: self.ensemble_id.clone(),
            from: self.from,
            to: self.to,
            channel: self.channel,
        };
        encode_with_prefix(self.magic, self.protocol_version, &body)
    }

    /// Parses a hello payload: garbage (short, wrong magic, a body of our version that does
    /// not decode) is an error.
    pub fn decode(payload: &[u8]) -> Result<ParsedHello, PeerError> {
        let (protocol_version, rest) = read_prefix(payload)?;
        match crate::frame::decode::<HelloBody>(rest) {
            Ok(body) => Ok(ParsedHello::Hello(Hello {
                magic: HELLO_MAGIC,
                protocol_version,
                ensemble_id: body.ensemble_id,
                from: body.from,
                to: body.to,
                channel: body.channel,
            })),
            Err(_) if protocol_version != PEER_PROTOCOL_VERSION => {
                Ok(ParsedHello::OtherVersion { protocol_version })
            }
            Err(e) => Err(PeerError::Decode(format!("hello: {e}"))),
        }
    }
}

/// Why the accepting server refuses `hello`, if it does: a different version first (nothing
/// else about it can be trusted), then a different ensemble, then a target that is not us.
pub fn check_hello(hello: &Hello, config: &PeerConfig) -> Result<(), String> {
    if hello.protocol_version != PEER_PROTOCOL_VERSION {
        return Err(version_mismatch(hello.protocol_version));
    }
    if hello.ensemble_id != config.ensemble_id {
        return Err(format!(
            "ensemble id {:?} is not this server's {:?}",
            hello.ensemble_id, config.ensemble_id
        ));
    }
    if hello.to != config.my_id {
        return Err(format!(
            "hello is for server {} but this is server {}",
            hello.to, config.my_id
        ));
    }
    Ok(())
}

/// The refusal text for a peer at another protocol version, naming both.
pub fn version_mismatch(theirs: u16) -> String {
    format!("peer protocol version {theirs}, this server speaks {PEER_PROTOCOL_VERSION}")
}

/// The accepting side's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloReply {
    pub magic: [u8; 4],
    pub protocol_version: u16,
    /// The answering server's id.
    pub server_id: u64,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Welcome,
    /// The connection is closed after this reply.
    Refused {
        reason: String,
    },
}

#[derive(Serialize, Deserialize)]
struct ReplyBody {
    server_id: u64,
    verdict: Verdict,
}

/// How a reply parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedReply {
    Reply(HelloReply),
    OtherVersion { protocol_version: u16 },
}

impl HelloReply {
    /// This server's answer, at this build's version.
    pub fn new(server_id: u64, verdict: Verdict) -> Self {
        HelloReply {
            magic: HELLO_MAGIC,
            protocol_version: PEER_PROTOCOL_VERSION,
            server_id,
            verdict,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, PeerError> {
        let body = ReplyBody {
            server_id: self.server_id,
            verdict: self.verdict.clone(),
        };
        encode_with_prefix(self.magic, self.protocol_version, &body)
    }

    pub fn decode(payload: &[u8]) -> Result<ParsedReply, PeerError> {
        let (protocol_version, rest) = read_prefix(payload)?;
        match crate::frame::decode::<ReplyBody>(rest) {
            Ok(body) => Ok(ParsedReply::Reply(HelloReply {
                magic: HELLO_MAGIC,
                protocol_version,
                server_id: body.server_id,
                verdict: body.verdict,
            })),
            Err(_) if protocol_version != PEER_PROTOCOL_VERSION => {
                Ok(ParsedReply::OtherVersion { protocol_version })
            }
            Err(e) => Err(PeerError::Decode(format!("hello reply: {e}"))),
        }
    }
}

fn encode_with_prefix<T: Serialize>(
    magic: [u8; 4],
    protocol_version: u16,
    body: &T,
) -> Result<Vec<u8>, PeerError> {
    let mut payload = Vec::with_capacity(64);
    payload.extend_from_slice(&magic);
    payload.extend_from_slice(&protocol_version.to_be_bytes());
    postcard::to_extend(body, payload).map_err(|e| PeerError::Encode(e.to_string()))
}

/// The version and the bytes after it, or an error for a payload that is not ours at all.
fn read_prefix(payload: &[u8]) -> Result<(u16, &[u8]), PeerError> {
    let Some((prefix, rest)) = payload.split_first_chunk::<PREFIX_BYTES>() else {
        return Err(PeerError::Decode(format!(
            "hello of {} bytes is too short",
            payload.len()
        )));
    };
    if prefix[..4] != HELLO_MAGIC {
        return Err(PeerError::Decode(format!(
            "hello starts with {:02x?}, not the magic {:?}",
            &prefix[..4],
            "CRLP"
        )));
    }
    Ok((u16::from_be_bytes([prefix[4], prefix[5]]), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PeerConfig {
        PeerConfig::new(2, "zk1")
    }

    fn hello() -> Hello {
        Hello {
            magic: HELLO_MAGIC,
            protocol_version: PEER_PROTOCOL_VERSION,
            ensemble_id: "zk1".into(),
            from: 1,
            to: 2,
            channel: Channel::Raft,
        }
    }

    /// The hello's bytes are a compatibility promise: change them only with the version.
    #[test]
    fn golden_hello() {
        let bytes = hello().encode().expect("encodes");
        assert_eq!(
            bytes,
            [
                b'C', b'R', b'L', b'P', // magic
                0, 2, // protocol version 2, big-endian
                3, b'z', b'k', b'1', // ensemble id
                1,    // from
                2,    // to
                0,    // channel Raft
            ]
        );
        let stream = Hello {
            channel: Channel::AppStream,
            from: 300,
            ..hello()
        };
        assert_eq!(
            stream.encode().expect("encodes")[10..],
            [0xac, 0x02, 2, 3] // from 300 as a varint, to 2, channel AppStream
        );
    }

    #[test]
    fn golden_replies() {
        let welcome = HelloReply::new(2, Verdict::Welcome);
        assert_eq!(
            welcome.encode().expect("encodes"),
            [b'C', b'R', b'L', b'P', 0, 2, 2, 0]
        );
        let refused = HelloReply::new(
            2,
            Verdict::Refused {
                reason: "no".into(),
            },
        );
        assert_eq!(
            refused.encode().expect("encodes"),
            [b'C', b'R', b'L', b'P', 0, 2, 2, 1, 2, b'n', b'o']
        );
    }

    #[test]
    fn round_trips() {
        let bytes = hello().encode().expect("encodes");
        assert_eq!(
            Hello::decode(&bytes).expect("decodes"),
            ParsedHello::Hello(hello())
        );
        let reply = HelloReply::new(9, Verdict::Welcome);
        assert_eq!(
            HelloReply::decode(&reply.encode().expect("encodes")).expect("decodes"),
            ParsedReply::Reply(reply)
        );
    }

    /// A future version may lay its body out differently: its version is still read.
    #[test]
    fn another_version_with_another_layout_still_shows_its_version() {
        let bytes = [b'C', b'R', b'L', b'P', 0, 7, 0xff, 0xff, 0xff];
        assert_eq!(
            Hello::decode(&bytes).expect("parses"),
            ParsedHello::OtherVersion {
                protocol_version: 7
            }
        );
        assert_eq!(
            HelloReply::decode(&bytes).expect("parses"),
            ParsedReply::OtherVersion {
                protocol_version: 7
            }
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Hello::decode(b"CRL").is_err());
        assert!(Hello::decode(b"GET / HTTP/1.1").is_err());
        assert!(Hello::decode(&[b'C', b'R', b'L', b'P', 0, 2, 0xff]).is_err());
    }

    #[test]
    fn refusals_in_order() {
        let config = config();
        assert_eq!(check_hello(&hello(), &config), Ok(()));
        let old = Hello {
            protocol_version: 0,
            ensemble_id: "other".into(),
            ..hello()
        };
        assert!(check_hello(&old, &config)
            .unwrap_err()
            .contains("version 0, this server speaks 2"));
        let other = Hello {
            ensemble_id: "other".into(),
            ..hello()
        };
        assert!(check_hello(&other, &config)
            .unwrap_err()
            .contains("ensemble"));
        let wrong = Hello { to: 3, ..hello() };
        assert!(check_hello(&wrong, &config)
            .unwrap_err()
            .contains("for server 3 but this is server 2"));
    }
}
