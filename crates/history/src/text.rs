//! A compact line format for histories, so a failing run can be saved next to the test and
//! re-checked (or cut down by hand) without rerunning the cluster.
//!
//! ```text
//! corral-history v1
//! // comments and blank lines are ignored
//! init "/a" "" 0
//! #0 s1 100..200 write "/a" "x" => ok 1 zxid 4294967297
//! #1 s2 150..260 cas "/a" 1 "y" => failed
//! #2 s2 300..310 sync-read "/a" => ok "x" 1
//! #3 s3 320..900 write "/a" "z" => unknown
//! #4 s3 950.. read "/a" => pending
//! ```
//!
//! One operation per line: id, session, `invoked..completed` (completion empty while
//! outstanding), the operation, `=>`, the outcome (`ok <reply>`, `failed`, `unknown`, or
//! `pending`), then an optional `zxid N`. Keys and values are double-quoted with `\\`, `\"`,
//! `\n`, `\t` and `\xNN` escapes for anything else outside printable ASCII, so binary data
//! round-trips and every token stays on one line. The same line is the `Display` of an
//! [`Op`], which is how violations print the operations they name.
//!
//! Ids in the text are labels for the reader: parsing numbers operations in line order, so a
//! file cut down to a few lines still loads.

use std::fmt::{self, Write as _};

use crate::history::{
    operation_name, Completion, History, InitialState, Op, Operation, Outcome, Register, Reply,
};

const HEADER: &str = "corral-history v1";

/// Why a text history could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TextError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl History {
    /// The history and the initial states as text (see the module docs for the format).
    pub fn to_text(&self, initial: &InitialState) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push('\n');
        for (key, register) in initial {
            out.push_str("init ");
            push_quoted(&mut out, key.as_bytes());
            out.push(' ');
            push_quoted(&mut out, &register.value);
            let _ = writeln!(out, " {}", register.version);
        }
        for op in self.ops() {
            let _ = writeln!(out, "{op}");
        }
        out
    }

    /// Reads what [`History::to_text`] wrote. Operations get ids in line order.
    pub fn from_text(text: &str) -> Result<(History, InitialState), TextError> {
        let mut history = History::new();
        let mut initial = InitialState::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let fail = |message: String| TextError { line, message };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with("//") {
                continue;
            }
            if trimmed == HEADER {
                continue;
            }
            if trimmed.starts_with("corral-history") {
                return Err(fail(format!("unsupported format {trimmed:?}")));
            }
            let mut tokens = Tokens::new(trimmed);
            let first = tokens.word().map_err(fail)?;
            if first == "init" {
                let key = tokens.key().map_err(fail)?;
                let value = tokens.quoted().map_err(fail)?;
                let version = tokens.number::<i32>("version").map_err(fail)?;
                tokens.end().map_err(fail)?;
                if initial
                    .insert(key.clone(), Register::new(value, version))
                    .is_some()
                {
                    return Err(fail(format!("second init line for {key:?}")));
                }
                continue;
            }
            let parsed = parse_op(first, &mut tokens).map_err(fail)?;
            let id = history.invoke(parsed.session, parsed.operation, parsed.invoked_at);
            if let Some((at, outcome, zxid)) = parsed.completion {
                history
                    .complete_opt(id, outcome, at, zxid)
                    .map_err(|e| fail(e.to_string()))?;
            } else if parsed.zxid_without_completion {
                return Err(fail("a pending operation has no zxid".into()));
            }
        }
        Ok((history, initial))
    }
}

struct ParsedOp {
    session: u64,
    operation: Operation,
    invoked_at: u64,
    completion: Option<(u64, Outcome, Option<i64>)>,
    zxid_without_completion: bool,
}

fn parse_op(first: String, tokens: &mut Tokens<'_>) -> Result<ParsedOp, String> {
    if !first.starts_with('#') || first[1..].parse::<usize>().is_err() {
        return Err(format!(
            "expected `init` or an op id like #3, found {first:?}"
        ));
    }
    let session = tokens.word()?;
    let session = session
        .strip_prefix('s')
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("expected a session like s1, found {session:?}"))?;
    let span = tokens.word()?;
    let (invoked, completed) = span
        .split_once("..")
        .ok_or_else(|| format!("expected invoked..completed, found {span:?}"))?;
    let invoked_at = invoked
        .parse::<u64>()
        .map_err(|_| format!("bad invocation time {invoked:?}"))?;
    let completed_at = if completed.is_empty() {
        None
    } else {
        Some(
            completed
                .parse::<u64>()
                .map_err(|_| format!("bad completion time {completed:?}"))?,
        )
    };
    let kind = tokens.word()?;
    let key = tokens.key()?;
    let operation = match kind.as_str() {
        "read" => Operation::Read { key },
        "sync-read" => Operation::SyncRead { key },
        "write" => Operation::Write {
            key,
            value: tokens.quoted()?,
        },
        "cas" => {
            let expected_version = tokens.number::<i32>("expected version")?;
            Operation::Cas {
                key,
                expected_version,
                value: tokens.quoted()?,
            }
        }
        other => return Err(format!("unknown operation {other:?}")),
    };
    let arrow = tokens.word()?;
    if arrow != "=>" {
        return Err(format!("expected =>, found {arrow:?}"));
    }
    let status = tokens.word()?;
    let outcome = match status.as_str() {
        "ok" if operation.is_read() => {
            let value = tokens.quoted()?;
            let version = tokens.number::<i32>("version")?;
            Some(Outcome::Ok(Reply::Data { value, version }))
        }
        "ok" => Some(Outcome::Ok(Reply::Written {
            version: tokens.number::<i32>("version")?,
        })),
        "failed" => Some(Outcome::Failed),
        "unknown" => Some(Outcome::Unknown),
        "pending" => None,
        other => return Err(format!("unknown outcome {other:?}")),
    };
    let zxid = if tokens.at_end() {
        None
    } else {
        let word = tokens.word()?;
        if word != "zxid" {
            return Err(format!("expected zxid or end of line, found {word:?}"));
        }
        Some(tokens.number::<i64>("zxid")?)
    };
    tokens.end()?;
    let completion = match (completed_at, outcome) {
        (Some(at), Some(outcome)) => Some((at, outcome, zxid)),
        (None, None) => None,
        (Some(_), None) => return Err("a pending operation has a completion time".into()),
        (None, Some(_)) => return Err("a completed operation needs a completion time".into()),
    };
    Ok(ParsedOp {
        session,
        operation,
        invoked_at,
        zxid_without_completion: completion.is_none() && zxid.is_some(),
        completion,
    })
}

/// Splits a line into bare words and double-quoted byte strings.
struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn new(line: &'a str) -> Self {
        Tokens { rest: line }
    }

    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.rest.is_empty()
    }

    fn end(&mut self) -> Result<(), String> {
        if self.at_end() {
            Ok(())
        } else {
            Err(format!("unexpected trailing text {:?}", self.rest))
        }
    }

    fn word(&mut self) -> Result<String, String> {
        self.skip_space();
        if self.rest.is_empty() {
            return Err("unexpected end of line".into());
        }
        if self.rest.starts_with('"') {
            return Err(format!(
                "expected a word, found a string at {:?}",
                self.rest
            ));
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(word.to_string())
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, String> {
        let word = self.word()?;
        word.parse::<T>()
            .map_err(|_| format!("bad {what} {word:?}"))
    }

    fn key(&mut self) -> Result<String, String> {
        let bytes = self.quoted()?;
        String::from_utf8(bytes).map_err(|_| "a key is not UTF-8".to_string())
    }

    fn quoted(&mut self) -> Result<Vec<u8>, String> {
        self.skip_space();
        let mut chars = self.rest.char_indices();
        if !matches!(chars.next(), Some((_, '"'))) {
            return Err(format!("expected a quoted string at {:?}", self.rest));
        }
        let mut out = Vec::new();
        while let Some((index, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[index + 1..];
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, '\\')) => out.push(b'\\'),
                    Some((_, '"')) => out.push(b'"'),
                    Some((_, 'n')) => out.push(b'\n'),
                    Some((_, 't')) => out.push(b'\t'),
                    Some((_, 'x')) => {
                        let hi = chars.next().and_then(|(_, c)| c.to_digit(16));
                        let lo = chars.next().and_then(|(_, c)| c.to_digit(16));
                        match (hi, lo) {
                            // Two hex digits are below 256, so the cast cannot truncate.
                            (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                            _ => return Err("bad \\x escape: needs two hex digits".into()),
                        }
                    }
                    Some((_, other)) => return Err(format!("unknown escape \\{other}")),
                    None => return Err("unterminated string".into()),
                },
                other => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        Err("unterminated string".into())
    }
}

/// Appends `bytes` as a double-quoted string in the escape syntax above.
pub(crate) fn push_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

/// `bytes` quoted, for messages.
pub(crate) fn quoted(bytes: &[u8]) -> String {
    let mut out = String::new();
    push_quoted(&mut out, bytes);
    out
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::new();
        let _ = write!(line, "{} s{} {}..", self.id, self.session, self.invoked_at);
        if let Some(c) = &self.completion {
            let _ = write!(line, "{}", c.at);
        }
        let _ = write!(line, " {} ", operation_name(&self.operation));
        push_quoted(&mut line, self.key().as_bytes());
        match &self.operation {
            Operation::Read { .. } | Operation::SyncRead { .. } => {}
            Operation::Write { value, .. } => {
                line.push(' ');
                push_quoted(&mut line, value);
            }
            Operation::Cas {
                expected_version,
                value,
                ..
            } => {
                let _ = write!(line, " {expected_version} ");
                push_quoted(&mut line, value);
            }
        }
        line.push_str(" => ");
        match &self.completion {
            None => line.push_str("pending"),
            Some(Completion { outcome, zxid, .. }) => {
                match outcome {
                    Outcome::Ok(Reply::Data { value, version }) => {
                        line.push_str("ok ");
                        push_quoted(&mut line, value);
                        let _ = write!(line, " {version}");
                    }
                    Outcome::Ok(Reply::Written { version }) => {
                        let _ = write!(line, "ok {version}");
                    }
                    Outcome::Failed => line.push_str("failed"),
                    Outcome::Unknown => line.push_str("unknown"),
                }
                if let Some(zxid) = zxid {
                    let _ = write!(line, " zxid {zxid}");
                }
            }
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = quoted(&bytes);
        let mut tokens = Tokens::new(&text);
        assert_eq!(tokens.quoted(), Ok(bytes));
        assert!(tokens.at_end());
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "#0 s1 1..2 write \"/a\" \"x\" => ok",
            "#0 s1 1..2 write \"/a\" \"x => ok 1",
            "#0 s1 1.. write \"/a\" \"x\" => ok 1",
            "#0 s1 5..2 write \"/a\" \"x\" => ok 1",
            "#0 s1 1..2 read \"/a\" => ok 1",
            "#0 s1 1..2 frob \"/a\" => failed",
            "#0 x1 1..2 read \"/a\" => failed",
            "#0 s1 1..2 read \"/a\" => failed extra",
            "init \"/a\" \"\" 0\ninit \"/a\" \"\" 0",
            "corral-history v2",
        ] {
            let result = History::from_text(bad);
            assert!(result.is_err(), "accepted {bad:?}");
        }
    }
}
