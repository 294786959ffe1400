//! opencode: `opencode.jsonc` (preferred when it exists) or `opencode.json`
//! under `~/.config/opencode` (`$XDG_CONFIG_HOME/opencode` when set; the
//! same place on every platform). Servers live under `mcp`, each named
//! directly (`mcp.<name>`), or, in the newer layout opencode also reads,
//! under `mcp.servers.<name>`: the file's own layout is kept. A remote
//! entry is `type: "remote"` with `url` and `headers`; it is on unless
//! `enabled` is false (or `disabled` true in the newer layout), so neither
//! is written, and `oauth: false` stops opencode starting its own sign-in
//! against the broker.

use super::{Client, Entry, bearer, jsonedit};
use serde_json::{Value, json};
use std::path::PathBuf;

/// opencode.
pub(super) const CLIENT: Client = Client {
    name: "opencode",
    display: "opencode",
    container: "mcp",
    default_path,
    entry: |e: &Entry| {
        vec![
            ("type", json!("remote")),
            ("url", json!(e.proxy)),
            ("headers", bearer(e.key)),
            ("oauth", json!(false)),
        ]
    },
    needs_key: true,
    format: crate::format::Format::Json,
};

fn default_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")))?;
    let dir = config.join("opencode");
    let jsonc = dir.join("opencode.jsonc");
    Some(if jsonc.is_file() {
        jsonc
    } else {
        dir.join("opencode.json")
    })
}

/// Where the servers are in this file: `mcp.servers` when the file already
/// nests them there, else `mcp`.
pub(super) fn container(text: Option<&str>) -> &'static str {
    let Some(Ok(value)) = text.map(jsonedit::parse) else {
        return CLIENT.container;
    };
    match value.get("mcp").and_then(|m| m.get("servers")) {
        Some(Value::Object(servers)) if !is_server(servers) => "mcp.servers",
        _ => CLIENT.container,
    }
}

/// Whether `mcp.servers` is itself a server named "servers" (as opencode
/// tells them apart: a plain `type` or `enabled` member).
fn is_server(object: &serde_json::Map<String, Value>) -> bool {
    ["type", "enabled"]
        .iter()
        .any(|k| object.get(*k).is_some_and(|v| !v.is_object()))
}
