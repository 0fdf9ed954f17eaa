//! openraft's own conformance suite against `LogStore`, in both writer modes.
//!
//! The suite sleeps ("purge does not have to happen at once"); tokio's paused clock skips
//! those sleeps. In thread mode the writer thread keeps running in real time; in inline mode
//! every command completes inside the call, as in the deterministic simulation.

use corral_storage::WriterMode;
use openraft::testing::log::Suite;

use crate::common::init_tracing;
use crate::common::Builder;

#[tokio::test(start_paused = true)]
async fn openraft_suite_default_config() {
    init_tracing();
    Suite::test_all(Builder {
        tiny: false,
        writer: WriterMode::Thread,
    })
    .await
    .expect("suite");
}

/// Cache disabled and 4 KiB segments: the same suite, reading from disk across segments.
#[tokio::test(start_paused = true)]
async fn openraft_suite_tiny_cache_and_segments() {
    init_tracing();
    Suite::test_all(Builder {
        tiny: true,
        writer: WriterMode::Thread,
    })
    .await
    .expect("suite");
}

#[tokio::test(start_paused = true)]
async fn openraft_suite_inline_writer() {
    init_tracing();
    Suite::test_all(Builder {
        tiny: false,
        writer: WriterMode::Inline,
    })
    .await
    .expect("suite");
}

#[tokio::test(start_paused = true)]
async fn openraft_suite_inline_writer_tiny_cache_and_segments() {
    init_tracing();
    Suite::test_all(Builder {
        tiny: true,
        writer: WriterMode::Inline,
    })
    .await
    .expect("suite");
}
