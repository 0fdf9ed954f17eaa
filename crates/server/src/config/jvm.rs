//! Java system properties as `zkServer.sh` passes them: `-Dname=value` tokens in the
//! `SERVER_JVMFLAGS` / `JVMFLAGS` environment variables (other JVM flags are ignored).

/// Extracts `-Dname=value` settings from a JVM flags string.
pub fn parse_jvm_flags(flags: &str) -> Vec<(String, String)> {
    flags
        .split_whitespace()
        .filter_map(|token| token.strip_prefix("-D"))
        .map(|setting| match setting.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (setting.to_owned(), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_system_properties_are_taken() {
        let flags = parse_jvm_flags("-Xmx1g -Da=1 -Dflag -XX:+UseG1GC -Db=x=y");
        assert_eq!(
            flags,
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("flag".to_owned(), String::new()),
                ("b".to_owned(), "x=y".to_owned())
            ]
        );
    }
}
