//! Why a benchmark could not run. Failures of single requests during a workload are not
//! errors: they are counted in the report.

use std::path::PathBuf;

use corral_client::corral_proto::ErrorCode;
use corral_client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    #[error("target {target}: {source}")]
    Client {
        target: String,
        #[source]
        source: ClientError,
    },
    #[error("target {target}: preparing {path} failed with {code}")]
    Setup {
        target: String,
        path: String,
        code: ErrorCode,
    },
    #[error("target {target}: no reply within {timeout_s} s to a batch starting at {path}")]
    Timeout {
        target: String,
        path: String,
        timeout_s: u64,
    },
    #[error("target {target}: populate check failed: {what}")]
    Check { target: String, what: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
