//! Cursor: global servers live in `~/.cursor/mcp.json` under `mcpServers`;
//! a `url` entry is a remote (Streamable HTTP) server.

use super::{Client, Entry, bearer};
use serde_json::json;

/// Cursor.
pub(super) const CLIENT: Client = Client {
    name: "cursor",
    display: "Cursor",
    container: "mcpServers",
    default_path: || dirs::home_dir().map(|h| h.join(".cursor").join("mcp.json")),
    entry: |e: &Entry| vec![("url", json!(e.proxy)), ("headers", bearer(e.key))],
    needs_key: true,
    format: crate::format::Format::Json,
};
