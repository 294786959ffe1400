//! Claude Code: user-scope servers live in `~/.claude.json` under
//! `mcpServers`, as Streamable HTTP (`"type": "http"`) with static headers.

use super::{Client, Entry, bearer};
use serde_json::json;

/// Claude Code.
pub(super) const CLIENT: Client = Client {
    name: "claude-code",
    display: "Claude Code",
    container: "mcpServers",
    default_path: || dirs::home_dir().map(|h| h.join(".claude.json")),
    entry: |e: &Entry| {
        vec![
            ("type", json!("http")),
            ("url", json!(e.proxy)),
            ("headers", bearer(e.key)),
        ]
    },
    needs_key: true,
    format: crate::format::Format::Json,
};
