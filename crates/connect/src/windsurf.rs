//! Windsurf: `~/.codeium/windsurf/mcp_config.json`, `mcpServers`; remote
//! servers are given by `serverUrl` (not `url`).

use super::{Client, Entry, bearer};
use serde_json::json;

/// Windsurf.
pub(super) const CLIENT: Client = Client {
    name: "windsurf",
    display: "Windsurf",
    container: "mcpServers",
    default_path: || {
        dirs::home_dir().map(|h| h.join(".codeium").join("windsurf").join("mcp_config.json"))
    },
    entry: |e: &Entry| vec![("serverUrl", json!(e.proxy)), ("headers", bearer(e.key))],
    needs_key: true,
    format: crate::format::Format::Json,
};
