//! The AdminServer's `Authorization` header, read as ZooKeeper 3.9 reads it: `<scheme>` or
//! `<scheme> <auth data>` (one space), handed to the server's authentication provider for that
//! scheme (`digest user:password`, or `ip`, whose identity is the caller's address); then the
//! identities must hold the command's permissions on its node (ALL on `/`).

use std::net::IpAddr;

use corral_proto::records::Id;

use super::response::{http_status, CommandResponse};
use crate::auth;
use crate::config::slices::AuthSettings;
use crate::status::StatusSource;

/// What a protected command asks of its caller (ZooKeeper's `AuthRequest`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthRequest {
    pub(crate) perm: i32,
    pub(crate) path: &'static str,
}

/// `None` when the caller may run the command; otherwise ZooKeeper's refusal.
pub(crate) fn check(
    name: &str,
    request: AuthRequest,
    header: Option<&str>,
    peer: IpAddr,
    settings: &AuthSettings,
    status: &StatusSource,
) -> Option<CommandResponse> {
    let Some(header) = header else {
        return Some(CommandResponse::failed(
            name,
            Some("Auth info is missing for the command".to_owned()),
            http_status::UNAUTHORIZED,
        ));
    };
    let Some(ids) = authenticate(header, peer, settings) else {
        return Some(CommandResponse::failed(
            name,
            Some("Not authenticated".to_owned()),
            http_status::UNAUTHORIZED,
        ));
    };
    if !status.permits(request.path, request.perm, &ids) {
        return Some(CommandResponse::failed(
            name,
            Some("Not authorized".to_owned()),
            http_status::FORBIDDEN,
        ));
    }
    None
}

/// The identities the header proves, or `None` (ZooKeeper's AuthFailed).
fn authenticate(header: &str, peer: IpAddr, settings: &AuthSettings) -> Option<Vec<Id>> {
    // Java's String.split(" "): trailing empty parts dropped.
    let mut parts: Vec<&str> = header.split(' ').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    let (scheme, data) = match parts.as_slice() {
        [scheme] => (*scheme, None),
        [scheme, data] => (*scheme, Some(*data)),
        _ => return None,
    };
    // Digest needs its `user:password`; ZooKeeper's provider fails on a missing one.
    if scheme == "digest" && data.is_none() {
        return None;
    }
    let ids = auth::authenticate(
        settings,
        scheme,
        data.unwrap_or("").as_bytes(),
        &peer.to_string(),
    )?;
    (!ids.is_empty()).then_some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        AuthSettings {
            super_digest: None,
            digest_enabled: true,
        }
    }

    #[test]
    fn header_forms() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let ids = authenticate("digest alice:secret", peer, &settings()).unwrap();
        assert_eq!(ids[0].scheme, "digest");
        assert!(ids[0].id.starts_with("alice:"));
        assert!(authenticate("digest", peer, &settings()).is_none());
        assert!(authenticate("digest a:b c", peer, &settings()).is_none());
        assert!(authenticate("x509", peer, &settings()).is_none());
        let ip = authenticate("ip", peer, &settings()).unwrap();
        assert_eq!(ip[0].id, "127.0.0.1");
    }
}
