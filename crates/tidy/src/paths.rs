//! Extracts the module paths a source file names: `crate::…`, `super::…` and `self::…` paths,
//! in `use` items (groups expanded) and in expressions, resolved against the file's module.
//! Comments and string literals are blanked first, so only code counts.

/// A token of the little grammar paths need.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

/// The code of `text` with comments, string and char literals replaced by spaces.
pub fn strip_comments_and_strings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(bytes.len(), |n| i + n);
            out.push_str(&" ".repeat(end - i));
            i = end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(bytes.len(), |n| i + n + 2);
            out.push_str(&" ".repeat(end - i));
            i = end;
        } else if let Some(len) = raw_string_len(rest) {
            out.push_str(&" ".repeat(len));
            i += len;
        } else if bytes[i] == b'"' {
            let len = quoted_len(rest, b'"');
            out.push_str(&" ".repeat(len));
            i += len;
        } else if bytes[i] == b'\'' && is_char_literal(rest) {
            let len = quoted_len(rest, b'\'');
            out.push_str(&" ".repeat(len));
            i += len;
        } else {
            let ch = rest.chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Length of a `r"…"` / `r#"…"#` literal at the start of `s`, if there is one.
fn raw_string_len(s: &str) -> Option<usize> {
    let after_r = s.strip_prefix('r').or_else(|| s.strip_prefix("br"))?;
    let prefix = s.len() - after_r.len();
    let hashes = after_r.bytes().take_while(|b| *b == b'#').count();
    if after_r.as_bytes().get(hashes) != Some(&b'"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    let body_start = prefix + hashes + 1;
    let end = s[body_start..]
        .find(&close)
        .map_or(s.len(), |n| body_start + n + close.len());
    Some(end)
}

/// Length of a quoted literal starting at `s[0] == quote`, escapes honoured.
fn quoted_len(s: &str, quote: u8) -> usize {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// `'a'`, `'\n'`, `'\u{..}'` are char literals; `'a` alone is a lifetime.
fn is_char_literal(s: &str) -> bool {
    let mut chars = s.chars().skip(1);
    match chars.next() {
        Some('\\') => true,
        Some(_) => chars.next() == Some('\''),
        None => false,
    }
}

fn tokenize(code: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        let token = match c {
            ':' if chars.get(i + 1) == Some(&':') => {
                i += 1;
                Token::PathSep
            }
            '{' => Token::Open,
            '}' => Token::Close,
            ',' => Token::Comma,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Token::Other,
        };
        tokens.push(token);
        i += 1;
    }
    tokens
}

/// Every absolute module path (from the crate root) that `text`, the source of module
/// `module`, names through `crate::`, `super::` or `self::`. The paths may end in an item
/// name; the caller trims them to a known module.
pub fn referenced_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let tokens = tokenize(&strip_comments_and_strings(text));
    let mut found = Vec::new();
    // Inline `mod name { … }` blocks: `super` inside them starts from the block.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Ident(kw) if kw == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Open)) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Token::Open => depth += 1,
            Token::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(start) if is_path_start(start) && is_path_start_position(&tokens, i) => {
                let mut here: Vec<String> = module.to_vec();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let (paths, next) = parse_tree(&tokens, i);
                for path in paths {
                    if let Some(abs) = resolve(&path, &here) {
                        found.push(abs);
                    }
                }
                i = next.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn is_path_start(word: &str) -> bool {
    matches!(word, "crate" | "super" | "self")
}

/// `crate::x` at `i`, not `$crate::x` nor `a::crate` (neither occurs in valid code, but a
/// path is only counted where it starts).
fn is_path_start_position(tokens: &[Token], i: usize) -> bool {
    let starts_path = tokens.get(i + 1) == Some(&Token::PathSep);
    let continues_path = i > 0 && tokens[i - 1] == Token::PathSep;
    starts_path && !continues_path
}

/// Parses a use tree starting at `i`: segments joined by `::`, ending in an identifier or a
/// `{ tree, … }` group. Returns every full path and the index after the tree.
fn parse_tree(tokens: &[Token], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        match tokens.get(i) {
            Some(Token::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
                if tokens.get(i) == Some(&Token::PathSep) {
                    i += 1;
                    continue;
                }
                return (vec![prefix], i);
            }
            Some(Token::Open) => {
                let (mut paths, next) = parse_group(tokens, i + 1);
                for p in &mut paths {
                    p.splice(0..0, prefix.iter().cloned());
                }
                if paths.is_empty() {
                    paths.push(prefix);
                }
                return (paths, next);
            }
            // `use super::*` and other endings: the prefix alone.
            _ => return (vec![prefix], i + 1),
        }
    }
}

fn parse_group(tokens: &[Token], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut paths = Vec::new();
    while i < tokens.len() {
        match tokens[i] {
            Token::Close => return (paths, i + 1),
            Token::Comma | Token::Other => i += 1,
            _ => {
                let (mut inner, next) = parse_tree(tokens, i);
                paths.append(&mut inner);
                i = next;
            }
        }
    }
    (paths, i)
}

/// Resolves a path that starts with `crate`, `super` or `self` from module `here`.
fn resolve(path: &[String], here: &[String]) -> Option<Vec<String>> {
    let mut segments = path.iter();
    let mut base: Vec<String> = match segments.next()?.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut up = here.to_vec();
            up.pop()?;
            up
        }
        _ => return None,
    };
    for segment in segments {
        match segment.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" => {}
            name => base.push(name.to_owned()),
        }
    }
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str, module: &[&str]) -> Vec<String> {
        let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
        referenced_paths(text, &module)
            .into_iter()
            .map(|p| p.join("::"))
            .collect()
    }

    #[test]
    fn use_groups_expand() {
        let found = paths("use crate::{a::{B, c::D}, e};\nuse super::F;", &["x", "y"]);
        assert_eq!(found, vec!["a::B", "a::c::D", "e", "x::F"]);
    }

    #[test]
    fn expressions_count_and_comments_do_not() {
        let found = paths(
            "// crate::hidden\nlet s = \"crate::no\"; crate::memory::trim();",
            &["node"],
        );
        assert_eq!(found, vec!["memory::trim"]);
    }

    #[test]
    fn super_inside_an_inline_module_starts_from_the_block() {
        let found = paths(
            "mod tests { use super::*; use super::super::z; }",
            &["a", "b"],
        );
        assert_eq!(found, vec!["a::b", "a::z"]);
    }

    #[test]
    fn lifetimes_are_not_char_literals() {
        let code = strip_comments_and_strings("fn f<'a>(x: &'a str) -> char { 'x' }");
        assert!(code.contains("'a"));
        assert!(!code.contains("'x'"));
    }
}
