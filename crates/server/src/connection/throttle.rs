//! `zookeeper.request_throttle_max_requests` (ZooKeeper 3.9's RequestThrottler): while the
//! server has that many requests in process, a connection's next request waits, checking
//! again every `request_throttle_stall_time`; each wait is counted
//! (`request_throttle_wait_count`). With `request_throttle_drop_stale`, a request whose
//! connection closed while it waited is dropped instead of run (`stale_requests_dropped`).
//! 0 (the default, as in ZooKeeper) turns it off.
//!
//! In process = client writes in the log, not yet answered (the [`crate::clients::WriteGate`]
//! count): reads are answered on the spot, so they are never in process for longer than
//! they run.

use std::sync::atomic::Ordering;

use super::{ClientServices, Closed};
use crate::clients::{rate_limited_log, ConnectionHandle};

/// Waits until the server has fewer than `request_throttle_max_requests` in process.
pub(crate) async fn admit(
    handle: &ConnectionHandle,
    services: &ClientServices,
) -> Result<(), Closed> {
    let limits = &services.limits;
    let max = limits.throttle_max_requests;
    if max == 0 {
        return Ok(());
    }
    loop {
        if handle.is_closed() {
            if !limits.throttle_drop_stale {
                // ZooKeeper then runs it anyway; its answer finds no connection.
                return Ok(());
            }
            services
                .counters
                .stale_requests_dropped
                .fetch_add(1, Ordering::Relaxed);
            return Err(Closed::Server("stale request dropped"));
        }
        let in_process = services.gate.outstanding();
        if in_process < max {
            return Ok(());
        }
        services
            .counters
            .throttled_requests
            .fetch_add(1, Ordering::Relaxed);
        rate_limited_log::warn(
            "request_throttle",
            format_args!(
                "throttling requests: {in_process} in process, \
                 request_throttle_max_requests is {max}"
            ),
        );
        tokio::select! {
            () = tokio::time::sleep(limits.throttle_stall) => {}
            () = handle.closed() => {}
        }
    }
}
