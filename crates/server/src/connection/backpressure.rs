//! A client that does not read its replies costs only itself: before taking its next request,
//! the reader waits while the connection has more than [`OUTBOUND_PAUSE_READING_BYTES`] queued
//! for the socket. Its requests then stay in the kernel's buffers and TCP stops the client, as
//! ZooKeeper stops reading a connection whose output is backed up. If nothing drains the queue
//! for a whole session timeout the connection is dropped (ZooKeeper's session would expire the
//! same way: a connection it does not read from does not touch its session).
//!
//! Without this the reader kept answering a pipelining non-reader at full speed until its
//! queue reached `outbound_queued_bytes_max` (64 MiB): two dozen such clients took nearly all
//! of the server's CPU and a well-behaved session made 0.1 % of its usual progress.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{ClientServices, Closed};
use crate::clients::{rate_limited_log, ConnectionHandle};

/// Queued outbound bytes past which the reader stops taking this connection's requests.
pub(crate) const OUTBOUND_PAUSE_READING_BYTES: usize = 128 * 1024;

/// The shortest stall tolerated before the connection is dropped (a session timeout is at
/// least this in practice; it also covers a connection whose session is not yet known).
const STALL_TIMEOUT_MIN_MS: u64 = 1_000;

/// Waits until the connection's outbound queue is short enough to take another request.
/// Errs (after aborting the connection) when the client has not read for a session timeout.
pub(crate) async fn wait_writable(
    handle: &ConnectionHandle,
    services: &ClientServices,
) -> Result<(), Closed> {
    let pause_at = OUTBOUND_PAUSE_READING_BYTES.min(services.limits.outbound_queued_bytes_max / 2);
    if handle.queued_bytes() < pause_at {
        return Ok(());
    }
    services
        .counters
        .connections_paused
        .fetch_add(1, Ordering::Relaxed);
    let session_timeout_ms = handle.session_timeout_ms.load(Ordering::Relaxed);
    let stall = Duration::from_millis(
        u64::try_from(session_timeout_ms)
            .unwrap_or(0)
            .max(STALL_TIMEOUT_MIN_MS),
    );
    if tokio::time::timeout(stall, handle.wait_queued_below(pause_at))
        .await
        .is_err()
    {
        services
            .counters
            .connections_stalled
            .fetch_add(1, Ordering::Relaxed);
        rate_limited_log::warn(
            "stalled_client",
            format_args!(
                "closing connection 0x{:x} from {}: more than {pause_at} bytes of replies \
                 waited for it to read for {stall:?}",
                handle.id, handle.peer
            ),
        );
        handle.abort();
        return Err(Closed::Server("client stopped reading its replies"));
    }
    Ok(())
}
