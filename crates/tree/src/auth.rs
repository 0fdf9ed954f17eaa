//! The authentication providers an ACL entry can name, as ZooKeeper's `ProviderRegistry` knows
//! them: which schemes exist, whether an id is well formed (`isValid`, decides INVALIDACL),
//! whether a connection's id matches an ACL expression (`matches`, decides NOAUTH), and whether
//! an id stands for an authenticated user (`isAuthenticated`, decides what the `auth` scheme
//! expands to).
//!
//! Which providers are registered is part of the replicated configuration: every replica must
//! agree, or the same setACL would be accepted on one and refused on another.

/// The registered providers. `ip` is always there; the rest mirror ZooKeeper's switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthProviders {
    /// `zookeeper.DigestAuthenticationProvider.enabled` (default true).
    pub digest_enabled: bool,
    /// `zookeeper.authProvider.N=…SASLAuthenticationProvider`; `None` = not registered.
    pub sasl: Option<SaslProvider>,
    /// `zookeeper.authProvider.x509=…X509AuthenticationProvider`; `None` = not registered.
    pub x509: Option<X509Provider>,
}

impl Default for AuthProviders {
    fn default() -> Self {
        AuthProviders {
            digest_enabled: true,
            sasl: None,
            x509: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslProvider {
    /// `zookeeper.letAnySaslUserDoX`: an ACL expression every SASL user matches.
    pub let_any_sasl_user_do_x: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct X509Provider {
    /// `zookeeper.X509AuthenticationProvider.superUser`: an id that matches every x509 entry.
    pub super_user: Option<String>,
}

/// One registered provider, borrowed from [`AuthProviders`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Provider<'a> {
    Ip,
    Digest,
    Sasl(&'a SaslProvider),
    X509(&'a X509Provider),
}

impl AuthProviders {
    /// `ProviderRegistry.getServerProvider(scheme)`.
    pub(crate) fn get(&self, scheme: &str) -> Option<Provider<'_>> {
        match scheme {
            "ip" => Some(Provider::Ip),
            "digest" if self.digest_enabled => Some(Provider::Digest),
            "sasl" => self.sasl.as_ref().map(Provider::Sasl),
            "x509" => self.x509.as_ref().map(Provider::X509),
            _ => None,
        }
    }
}

impl Provider<'_> {
    pub(crate) fn is_authenticated(self) -> bool {
        !matches!(self, Provider::Ip)
    }

    pub(crate) fn is_valid(self, id: &str) -> bool {
        match self {
            Provider::Ip => ip_is_valid(id),
            Provider::Digest => java_split_count(id, ':') == 2,
            Provider::Sasl(_) => kerberos_name_is_valid(id),
            Provider::X509(_) => x500_name_is_valid(id),
        }
    }

    /// Does the connection id `id` (same scheme) match the ACL expression `acl_expr`?
    pub(crate) fn matches(self, id: &str, acl_expr: &str) -> bool {
        match self {
            Provider::Ip => ip_matches(id, acl_expr),
            Provider::Digest => id == acl_expr,
            Provider::Sasl(sasl) => {
                id == "super"
                    || id == acl_expr
                    || sasl.let_any_sasl_user_do_x.as_deref() == Some(acl_expr)
            }
            Provider::X509(x509) => id == acl_expr || x509.super_user.as_deref() == Some(id),
        }
    }
}

/// `s.split(String.valueOf(sep)).length` in Java: trailing empty strings are dropped, and a
/// string without the separator is one part.
fn java_split_count(s: &str, sep: char) -> usize {
    let mut parts: Vec<&str> = s.split(sep).collect();
    if parts.len() == 1 {
        return 1;
    }
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.len()
}

/// `Integer.parseInt(s, radix)` restricted to ASCII digits: an optional sign, then digits.
fn java_parse_int(s: &str, radix: u32) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for c in digits.chars() {
        value = value
            .checked_mul(i64::from(radix))?
            .checked_add(i64::from(c.to_digit(radix)?))?;
        if value > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&value)
        .then_some(value)
}

/// `IPAuthenticationProvider.addr2Bytes`: IPv6 if the text has a `:`, IPv4 if it has a `.`.
fn addr_to_bytes(addr: &str) -> Option<Vec<u8>> {
    if addr.contains(':') {
        v6_to_bytes(addr)
    } else if addr.contains('.') {
        v4_to_bytes(addr)
    } else {
        None
    }
}

fn v4_to_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            java_parse_int(p, 10)
                .filter(|v| (0..=255).contains(v))
                .map(|v| v as u8)
        })
        .collect()
}

fn v6_to_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split("::").collect();
    let (head, tail): (Vec<&str>, Vec<&str>) = match parts.as_slice() {
        [whole] => {
            let segments: Vec<&str> = whole.split(':').collect();
            if segments.len() != 8 {
                return None;
            }
            (segments, Vec::new())
        }
        [before, after] => {
            let head: Vec<&str> = if before.is_empty() {
                Vec::new()
            } else {
                before.split(':').collect()
            };
            let tail: Vec<&str> = if after.is_empty() {
                Vec::new()
            } else {
                after.split(':').collect()
            };
            if head.len() + tail.len() >= 8 {
                return None;
            }
            (head, tail)
        }
        _ => return None,
    };
    let mut out = vec![0u8; 16];
    let mut put = |start: usize, segments: &[&str]| -> Option<()> {
        for (i, segment) in segments.iter().enumerate() {
            if segment.is_empty() || segment.chars().count() > 4 {
                return None;
            }
            let value = java_parse_int(segment, 16)?;
            out[start + 2 * i] = ((value >> 8) & 0xff) as u8;
            out[start + 2 * i + 1] = (value & 0xff) as u8;
        }
        Some(())
    };
    put(0, &head)?;
    put(16 - 2 * tail.len(), &tail)?;
    Some(out)
}

/// `addr[/bits]` with `0 ≤ bits ≤ address width`.
fn parse_ip_expr(expr: &str) -> Option<(Vec<u8>, usize)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (expr, None),
    };
    let bytes = addr_to_bytes(addr)?;
    let width = bytes.len() * 8;
    let bits = match bits {
        None => width,
        Some(text) => {
            let bits = java_parse_int(text, 10)?;
            if bits < 0 || bits as usize > width {
                return None;
            }
            bits as usize
        }
    };
    Some((bytes, bits))
}

fn mask(bytes: &mut [u8], bits: usize) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        let kept = bits.saturating_sub(i * 8).min(8);
        *byte &= !(0xffu16 >> kept) as u8;
    }
}

pub(crate) fn ip_is_valid(expr: &str) -> bool {
    parse_ip_expr(expr).is_some()
}

pub(crate) fn ip_matches(id: &str, acl_expr: &str) -> bool {
    let Some((mut acl, bits)) = parse_ip_expr(acl_expr) else {
        return false;
    };
    let Some(mut remote) = addr_to_bytes(id) else {
        return false;
    };
    mask(&mut acl, bits);
    mask(&mut remote, bits);
    acl == remote
}

/// `new KerberosName(id)` succeeds: the text matches `([^/@]*)(/([^/@]*))?@([^/@]*)` or has no `@`.
fn kerberos_name_is_valid(id: &str) -> bool {
    let Some((principal, realm)) = id.split_once('@') else {
        return true;
    };
    if realm.contains(['/', '@']) {
        return false;
    }
    match principal.split_once('/') {
        None => true,
        Some((_, host)) => !host.contains('/'),
    }
}

/// Approximates `new X500Principal(id)`: empty, or every comma-separated RDN is `type=value`.
fn x500_name_is_valid(id: &str) -> bool {
    let id = id.trim();
    id.is_empty()
        || id.split(',').all(|rdn| {
            rdn.split_once('=')
                .is_some_and(|(t, _)| !t.trim().is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ids_need_exactly_one_colon_as_java_split_counts() {
        let p = Provider::Digest;
        assert!(p.is_valid("user:hash"));
        assert!(p.is_valid(":hash"));
        assert!(
            p.is_valid("user:hash:"),
            "trailing empty parts are dropped by split"
        );
        assert!(!p.is_valid("user:"));
        assert!(!p.is_valid("user"));
        assert!(!p.is_valid("a:b:c"));
        assert!(!p.is_valid(":"));
        assert!(!p.is_valid(""));
    }

    #[test]
    fn ip_validity() {
        for good in [
            "127.0.0.1",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "::1",
            "fe80::/10",
            "1:2:3:4:5:6:7:8",
            "+1.2.3.4",
        ] {
            assert!(ip_is_valid(good), "{good}");
        }
        for bad in [
            "",
            "localhost",
            "1.2.3",
            "1.2.3.256",
            "1.2.3.4/33",
            "1.2.3.4/x",
            "::1/129",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "12345::",
            "1:2:3:4:5:6:7::8",
        ] {
            assert!(!ip_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn ip_matching_masks_both_sides() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(ip_matches("192.168.1.77", "192.168.1.64/26"));
        assert!(!ip_matches("192.168.1.127", "192.168.1.64/27"));
        assert!(ip_matches("0:0:0:0:0:0:0:1", "::1"));
        assert!(!ip_matches("127.0.0.1", "::1"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
    }

    #[test]
    fn sasl_and_kerberos_names() {
        let sasl = SaslProvider {
            let_any_sasl_user_do_x: Some("anyone".into()),
        };
        let p = Provider::Sasl(&sasl);
        assert!(p.is_valid("zk/host@REALM"));
        assert!(p.is_valid("plainuser"));
        assert!(!p.is_valid("a@b@c"));
        assert!(!p.is_valid("a/b/c@R"));
        assert!(p.matches("super", "bob"));
        assert!(p.matches("alice", "anyone"));
        assert!(!p.matches("alice", "bob"));
    }
}
