//! The ensemble's own messages between servers, over the peer transport (`corral-peer`):
//!
//! - [`forwarder`]: a follower's or observer's one ordered stream to the leader, carrying its
//!   clients' writes (in submission order, so each session's FIFO order holds) and the
//!   sessions its clients kept alive; and the read-index request behind `sync`.
//! - [`inbound`]: the leader's side: forwarded writes go into the log with their original
//!   origin and the leader's time (the forwarding server answers its client when it applies them), touches renew
//!   sessions in the leader's table, read-index requests are answered by a quorum round.
//! - [`owners`]: the leader's record of the connection each session is attached through; only
//!   that connection's writes of the session go into the log.
//! - [`message`]: the versioned wire format of those messages.
//!
//! Architecture invariant: no reply to a client travels over the peer link: every server
//! answers its own clients when it applies their entries. A stream that breaks is never
//! reopened silently under writes that were on it (see [`forwarder`]).

pub(crate) mod forwarder;
pub(crate) mod inbound;
pub(crate) mod message;
pub(crate) mod owners;
