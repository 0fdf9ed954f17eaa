//! openraft's own conformance suite against `LogStore`.
//!
//! The suite sleeps ("purge does not have to happen at once"); tokio's paused clock skips
//! those sleeps, while our writer thread keeps running in real time.

use openraft::testing::log::Suite;

use crate::common::init_tracing;
use crate::common::Builder;

#[tokio::test(start_paused = true)]
async fn openraft_suite_default_config() {
    init_tracing();
    Suite::test_all(Builder { tiny: false })
        .await
        .expect("suite");
}

/// Cache disabled and 4 KiB segments: the same suite, reading from disk across segments.
#[tokio::test(start_paused = true)]
async fn openraft_suite_tiny_cache_and_segments() {
    init_tracing();
    Suite::test_all(Builder { tiny: true })
        .await
        .expect("suite");
}
