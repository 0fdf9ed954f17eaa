//! Sessions expire exactly once. Replaying the committed history's session entries in log
//! order: a session id is created once, never again (not even after it closed); its first close
//! ends it and any later close of it is a no-op; no write of it is acknowledged after that close.
//! When the seed ends (faults healed, a session timeout waited out), every session its client
//! gave up or closed is closed, and no server holds an ephemeral of a closed session.

use std::collections::BTreeMap;

use super::acknowledged_writes::AckedWrite;
use super::committed_history::{AppliedLog, EntryKind};
use super::Violation;

const PROPERTY: &str = "sessions expire exactly once";

/// A session's life in the committed history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Life {
    pub created_at: u64,
    /// The index of the close that ended it, and whether it was an expiry.
    pub closed: Option<(u64, bool)>,
}

/// What the client did with a session, as the simulation knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Still in use (or its client was cut off by faults and may come back).
    InUse,
    /// The client closed it and was told so.
    Closed,
    /// The client went away without closing it: it must expire.
    Abandoned,
}

/// The lives of every session, from the committed history.
pub fn replay(log: &AppliedLog) -> Result<BTreeMap<i64, Life>, Violation> {
    let mut lives: BTreeMap<i64, Life> = BTreeMap::new();
    for (&index, applied) in &log.entries {
        match applied.kind {
            EntryKind::CreateSession { session } => {
                if let Some(life) = lives.get(&session) {
                    return Err(Violation::new(
                        PROPERTY,
                        format!(
                            "session 0x{session:x} created at index {index} was already created \
                             at index {} ({})",
                            life.created_at,
                            match life.closed {
                                Some((at, _)) => format!("closed at index {at}"),
                                None => "still open".to_owned(),
                            }
                        ),
                    ));
                }
                lives.insert(
                    session,
                    Life {
                        created_at: index,
                        closed: None,
                    },
                );
            }
            EntryKind::CloseSession { session, expired } => {
                if let Some(life) = lives.get_mut(&session) {
                    if life.closed.is_none() {
                        life.closed = Some((index, expired));
                    }
                }
            }
            EntryKind::Raft | EntryKind::Write { .. } | EntryKind::Internal => {}
        }
    }
    Ok(lives)
}

/// No acknowledged write of a session comes after the close that ended it.
pub fn check_writes(lives: &BTreeMap<i64, Life>, acked: &[AckedWrite]) -> Result<(), Violation> {
    for write in acked {
        let EntryKind::Write { session, .. } = write.entry else {
            continue;
        };
        let Some(Life {
            closed: Some((closed_at, expired)),
            ..
        }) = lives.get(&session)
        else {
            continue;
        };
        if u64::try_from(write.zxid).unwrap_or(0) > *closed_at {
            return Err(Violation::new(
                PROPERTY,
                format!(
                    "{} of session 0x{session:x} was acknowledged at zxid {}, after the session \
                     was {} at index {closed_at}",
                    write.what,
                    write.zxid,
                    if *expired { "expired" } else { "closed" }
                ),
            ));
        }
    }
    Ok(())
}

/// At the end: every session the simulation created is in the history, and every session
/// closed or abandoned by its client is closed.
pub fn check_end(
    lives: &BTreeMap<i64, Life>,
    sessions: &BTreeMap<i64, Fate>,
) -> Result<(), Violation> {
    for (&session, fate) in sessions {
        let Some(life) = lives.get(&session) else {
            return Err(Violation::new(
                PROPERTY,
                format!("session 0x{session:x} was handed to a client but never created"),
            ));
        };
        if *fate != Fate::InUse && life.closed.is_none() {
            return Err(Violation::new(
                PROPERTY,
                format!(
                    "session 0x{session:x} ({fate:?} by its client) never expired: created at \
                     index {} and still open",
                    life.created_at
                ),
            ));
        }
    }
    Ok(())
}

/// No server holds an ephemeral of a closed session (`owners`: ephemerals by session, as one
/// server's `dump` lists them).
pub fn check_ephemerals(
    lives: &BTreeMap<i64, Life>,
    node: u64,
    owners: &[(i64, Vec<String>)],
) -> Result<(), Violation> {
    for (session, paths) in owners {
        if let Some(Life {
            closed: Some((at, _)),
            ..
        }) = lives.get(session)
        {
            return Err(Violation::new(
                PROPERTY,
                format!(
                    "server {node} still holds ephemerals {paths:?} of session 0x{session:x}, \
                     closed at index {at}"
                ),
            ));
        }
    }
    Ok(())
}
