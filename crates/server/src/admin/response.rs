//! A command's answer as ZooKeeper's `CommandResponse` shapes it: the command's own fields in
//! the order it adds them, then `command` (the primary name, or the name asked for when the
//! command is unknown or refused) and `error` (null unless something went wrong), rendered as
//! indented JSON like Jackson's. A field named `error` set by the command itself replaces the
//! null, as ZooKeeper's map does.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// HTTP status codes ZooKeeper's AdminServer answers with.
pub(crate) mod http_status {
    pub(crate) const OK: u16 = 200;
    pub(crate) const UNAUTHORIZED: u16 = 401;
    pub(crate) const FORBIDDEN: u16 = 403;
    pub(crate) const TOO_MANY_REQUESTS: u16 = 429;
    pub(crate) const INTERNAL_SERVER_ERROR: u16 = 500;
    pub(crate) const SERVICE_UNAVAILABLE: u16 = 503;
}

/// One command's answer.
#[derive(Debug)]
pub(crate) struct CommandResponse {
    pub(crate) command: String,
    pub(crate) error: Option<String>,
    pub(crate) status: u16,
    /// Fields in insertion order; a repeated key replaces the earlier value in place.
    fields: Vec<(String, Value)>,
    /// Extra response headers (`snapshot`'s `last_zxid`, `snapshot_size`).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// A raw body instead of JSON (`snapshot`'s file).
    pub(crate) stream: Option<Vec<u8>>,
}

impl CommandResponse {
    pub(crate) fn new(command: &str) -> CommandResponse {
        CommandResponse::failed(command, None, http_status::OK)
    }

    pub(crate) fn failed(command: &str, error: Option<String>, status: u16) -> CommandResponse {
        CommandResponse {
            command: command.to_owned(),
            error,
            status,
            fields: Vec::new(),
            headers: Vec::new(),
            stream: None,
        }
    }

    pub(crate) fn put(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_owned(), value)),
        }
    }

    pub(crate) fn with_status(mut self, status: u16) -> CommandResponse {
        self.status = status;
        self
    }

    /// The JSON body.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| {
            // Jackson's fallback text; serialising plain values cannot fail in practice.
            "{\"error\": \"Exception writing command response to JSON\"}".to_owned()
        })
    }
}

impl Serialize for CommandResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let own = |key: &str| self.fields.iter().any(|(k, _)| k == key);
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.fields {
            map.serialize_entry(key, value)?;
        }
        if !own("command") {
            map.serialize_entry("command", &self.command)?;
        }
        if !own("error") {
            map.serialize_entry("error", &self.error)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_and_error_follow_the_fields() {
        let mut r = CommandResponse::new("ruok");
        assert_eq!(
            serde_json::from_str::<Value>(&r.to_json()).unwrap(),
            serde_json::json!({"command": "ruok", "error": null})
        );
        r.put("read_only", false);
        r.put("error", "server is not initialized");
        let text = r.to_json();
        assert!(text.find("read_only").unwrap() < text.find("command").unwrap());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"], "server is not initialized");
    }
}
