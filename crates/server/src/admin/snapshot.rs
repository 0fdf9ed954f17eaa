//! `snapshot` and `restore`, ZooKeeper 3.9's protected commands (ALL on `/`, checked before
//! these run), each behind its feature switch and a rate limit of one call per
//! `admin.rateLimiterIntervalInMS`.
//!
//! `snapshot` takes a snapshot now and streams Corral's snapshot file (Corral's own format, as
//! Corral keeps no ZooKeeper `snapshot.<zxid>` files). `restore` is refused with a 500: a
//! running Corral server's state is its replicated log, which one server cannot replace by
//! loading a file; `corral data import-zookeeper` is the supported way in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::response::{http_status, CommandResponse};
use super::AdminContext;

/// How long `snapshot` waits for the file it asked for.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(60);

/// One permit per interval (ZooKeeper's `RateLimiter(1, interval)`).
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    last: Mutex<Option<Instant>>,
}

impl RateLimiter {
    fn allow(&self, interval: Duration) -> bool {
        let mut last = self.last.lock();
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < interval => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

pub(crate) async fn snapshot(
    ctx: &AdminContext,
    query: &HashMap<String, String>,
) -> CommandResponse {
    let mut r = CommandResponse::new("snapshot");
    if !ctx.settings.snapshot_enabled {
        return r.with_status(http_status::SERVICE_UNAVAILABLE);
    }
    let interval = Duration::from_millis(ctx.settings.rate_limit_interval_ms);
    if !ctx.snapshot_limiter.allow(interval) {
        return r.with_status(http_status::TOO_MANY_REQUESTS);
    }
    // Java's Boolean.parseBoolean; streaming unless told otherwise.
    let streaming = query
        .get("streaming")
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let file = match ctx.status.snapshot_now(SNAPSHOT_WAIT).await {
        Ok(file) => file,
        Err(err) => {
            tracing::warn!(%err, "snapshot admin command failed");
            return r.with_status(http_status::INTERNAL_SERVER_ERROR);
        }
    };
    let bytes = match tokio::fs::read(&file.path).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(%err, path = %file.path.display(), "cannot read the snapshot file");
            return r.with_status(http_status::INTERNAL_SERVER_ERROR);
        }
    };
    r.headers.push(("last_zxid", format!("0x{:x}", file.zxid)));
    r.headers.push(("snapshot_size", bytes.len().to_string()));
    if bytes.is_empty() {
        return r.with_status(http_status::INTERNAL_SERVER_ERROR);
    }
    if streaming {
        r.stream = Some(bytes);
    }
    r
}

pub(crate) fn restore(ctx: &AdminContext) -> CommandResponse {
    let r = CommandResponse::new("restore");
    if !ctx.settings.restore_enabled {
        return r.with_status(http_status::SERVICE_UNAVAILABLE);
    }
    let interval = Duration::from_millis(ctx.settings.rate_limit_interval_ms);
    if !ctx.restore_limiter.allow(interval) {
        return r.with_status(http_status::TOO_MANY_REQUESTS);
    }
    CommandResponse::failed(
        "restore",
        Some(
            "restore is not supported by Corral: a server's state is its replicated log; \
             use `corral data import-zookeeper` on a stopped server"
                .to_owned(),
        ),
        http_status::INTERNAL_SERVER_ERROR,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_permit_per_interval() {
        let limiter = RateLimiter::default();
        assert!(limiter.allow(Duration::from_secs(60)));
        assert!(!limiter.allow(Duration::from_secs(60)));
        assert!(limiter.allow(Duration::ZERO));
    }
}
