//! Why a benchmark could not run. Failures of single requests during a workload are not
//! errors: they are counted in the report.

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
}
