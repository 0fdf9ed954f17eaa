//! Authentication providers for the `auth` packet (opcode 100) and `whoAmI`.
//!
//! ZooKeeper registers `ip` and `digest` by default. A digest login `user:password` becomes the
//! identity `digest:user:BASE64(SHA1("user:password"))`; when that equals the configured
//! super digest the connection is also `super`. Unknown schemes fail with AUTHFAILED, after
//! which ZooKeeper closes the connection.

use base64::Engine;
use corral_proto::records::ClientInfo;
use corral_proto::Id;
use sha1::{Digest, Sha1};

use crate::config::slices::AuthSettings;

/// `user:BASE64(SHA1("user:password"))`, as `DigestAuthenticationProvider.generateDigest`.
pub(crate) fn digest_of(user_password: &str) -> String {
    let user = user_password
        .split_once(':')
        .map_or(user_password, |(u, _)| u);
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The outcome of an auth packet: identities to add, or failure.
pub(crate) fn authenticate(
    settings: &AuthSettings,
    scheme: &str,
    auth: &[u8],
    peer_ip: &str,
) -> Option<Vec<Id>> {
    match scheme {
        "digest" if settings.digest_enabled => {
            let text = String::from_utf8_lossy(auth);
            let digest = digest_of(&text);
            let mut ids = Vec::with_capacity(2);
            if settings.super_digest.as_deref() == Some(digest.as_str()) {
                ids.push(Id {
                    scheme: "super".to_owned(),
                    id: String::new(),
                });
            }
            ids.push(Id {
                scheme: "digest".to_owned(),
                id: digest,
            });
            Some(ids)
        }
        "ip" => Some(vec![Id {
            scheme: "ip".to_owned(),
            id: peer_ip.to_owned(),
        }]),
        _ => None,
    }
}

/// What `whoAmI` reports for one identity: the provider's user name.
pub(crate) fn client_info(id: &Id) -> ClientInfo {
    let user = match id.scheme.as_str() {
        "digest" => id.id.split(':').next().unwrap_or_default().to_owned(),
        _ => id.id.clone(),
    };
    ClientInfo {
        auth_scheme: id.scheme.clone(),
        user,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // The digest zkCli / DigestAuthenticationProvider compute for super:test.
        assert_eq!(
            digest_of("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn super_digest_grants_super() {
        let settings = AuthSettings {
            super_digest: Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".to_owned()),
            digest_enabled: true,
        };
        let ids = authenticate(&settings, "digest", b"super:test", "127.0.0.1").unwrap();
        assert_eq!(ids[0].scheme, "super");
        assert_eq!(ids[1].scheme, "digest");
        assert!(authenticate(&settings, "kerberos", b"x", "127.0.0.1").is_none());
        let disabled = AuthSettings {
            super_digest: None,
            digest_enabled: false,
        };
        assert!(authenticate(&disabled, "digest", b"a:b", "127.0.0.1").is_none());
    }

    #[test]
    fn who_am_i_names() {
        let info = client_info(&Id {
            scheme: "digest".into(),
            id: "bob:abc=".into(),
        });
        assert_eq!(info.user, "bob");
    }
}
