//! [`ConfigError`]: why a configuration was refused. Every variant names the key or file, so
//! the message the server stops with tells the operator what to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{key}: invalid value {value:?}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    /// Server lines make this server an ensemble member, which needs its id.
    #[error(
        "{path} is missing; an ensemble member needs it (the server.N lines make this server one): \
         write this server's id, its N, into it"
    )]
    MyIdMissing { path: PathBuf },
    #[error("{path}: the server id {text:?} is not a number")]
    MyIdInvalid { path: PathBuf, text: String },
    #[error("myid {id} (from {path}) is not among the server.N lines; their ids are {ids}")]
    MyIdNotMember { id: u64, path: PathBuf, ids: String },
    #[error("{0}")]
    Other(String),
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
