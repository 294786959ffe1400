//! JetBrains AI Assistant: its MCP servers are set in the IDE (Settings |
//! Tools | AI Assistant | Model Context Protocol), pasted as JSON in the
//! `mcpServers` format with `url` and `headers` for Streamable HTTP. There
//! is no file to write: `connect --print jetbrains` shows what to paste.

use super::{Client, Entry, bearer};
use serde_json::json;

/// JetBrains AI Assistant.
pub(super) const CLIENT: Client = Client {
    name: "jetbrains",
    display: "JetBrains AI Assistant",
    container: "mcpServers",
    default_path: || None,
    entry: |e: &Entry| vec![("url", json!(e.proxy)), ("headers", bearer(e.key))],
    needs_key: true,
    format: crate::format::Format::Json,
};
