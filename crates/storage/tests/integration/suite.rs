//! openraft's own conformance suite against `LogStore`.

use openraft::testing::log::Suite;

use crate::common::init_tracing;
use crate::common::Builder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_suite_default_config() {
    init_tracing();
    Suite::test_all(Builder { tiny: false }).await.expect("suite");
}

/// Cache disabled and 4 KiB segments: the same suite, reading from disk across segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_suite_tiny_cache_and_segments() {
    init_tracing();
    Suite::test_all(Builder { tiny: true }).await.expect("suite");
}
