//! Java-properties text (zoo.cfg) and the value syntaxes ZooKeeper's keys use.

use std::collections::BTreeMap;

use super::error::ConfigError;

/// Parses Java-properties-style `key=value` text (also `key:value` and `key value`); a
/// repeated key keeps its last value, as `Properties.load` does.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line
            .find(['=', ':'])
            .or_else(|| line.find(char::is_whitespace));
        let (key, value) = match split {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, ""),
        };
        map.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    map
}

pub(crate) fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse::<T>()
        .map_err(|e| ConfigError::invalid(key, value, e.to_string()))
}

/// Java's `Boolean.parseBoolean`, plus ZooKeeper's `yes` for skipACL-style switches.
pub(crate) fn parse_bool(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "yes")
}

/// `4lw.commands.whitelist`: `None` = every word (`*`).
pub(crate) fn parse_whitelist(value: &str) -> Option<Vec<String>> {
    let words: Vec<String> = value
        .split(',')
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| w == "*") {
        None
    } else {
        Some(words)
    }
}

/// A decimal or `0x` hexadecimal size (Java's `Integer.decode`, as `jute.maxbuffer` is read).
pub(crate) fn parse_size(key: &str, value: &str) -> Result<usize, ConfigError> {
    let text = value.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16).map_err(|e| e.to_string()),
        None => text.parse::<usize>().map_err(|e| e.to_string()),
    };
    parsed.map_err(|reason| ConfigError::invalid(key, value, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_accept_colon_and_space() {
        let map = parse_properties("a: 1\nb 2\n  c=3=4\n# d=5\nb=6\n");
        assert_eq!(map["a"], "1");
        assert_eq!(map["b"], "6", "the last value of a repeated key wins");
        assert_eq!(map["c"], "3=4");
        assert!(!map.contains_key("# d"));
    }

    #[test]
    fn sizes_in_decimal_and_hex() {
        assert_eq!(parse_size("k", "0x200000").unwrap(), 0x200000);
        assert_eq!(parse_size("k", " 1024 ").unwrap(), 1024);
        assert!(parse_size("k", "lots").is_err());
    }
}
