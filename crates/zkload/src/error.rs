//! Why a run could not take place. What goes wrong with single requests while it runs is not an
//! error here: it is counted by kind in the report. A client error is the `source`, not part of
//! the message, so the binary's `{:#}` prints it once.

use zookeeper_client as zk;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    #[error("session {session} could not connect to {connect}")]
    Connect {
        session: usize,
        connect: String,
        #[source]
        source: zk::Error,
    },
    #[error("sessions did not all connect within {timeout_s} s ({connected} of {sessions} did)")]
    ConnectTimeout {
        timeout_s: f64,
        connected: usize,
        sessions: usize,
    },
    #[error("root {0} already exists: zkload only removes what it created, pick another --root")]
    RootExists(String),
    #[error("preparing {path} failed")]
    Setup {
        path: String,
        #[source]
        source: zk::Error,
    },
}
