//! Claude Desktop: `claude_desktop_config.json`, `mcpServers`. It starts
//! local servers over stdio only, so the entry runs `mcp-passport stdio <id>`,
//! which bridges to the broker's proxy with Claude Desktop's own key, given
//! to it in the entry's environment (`MCP_PASSPORT_AUTHORIZATION`), so
//! disconnecting Claude Desktop cuts its bridges off.

use super::{Client, Entry};
use serde_json::json;

/// Claude Desktop.
pub(super) const CLIENT: Client = Client {
    name: "claude-desktop",
    display: "Claude Desktop",
    container: "mcpServers",
    default_path: || {
        dirs::config_dir().map(|d| d.join("Claude").join("claude_desktop_config.json"))
    },
    entry: |e: &Entry| {
        vec![
            ("command", json!(e.exe)),
            ("args", json!(["stdio", e.id])),
            (
                "env",
                json!({"MCP_PASSPORT_AUTHORIZATION": format!("Bearer {}", e.key)}),
            ),
        ]
    },
    needs_key: true,
    format: crate::format::Format::Json,
};
