//! LM Studio: `~/.lmstudio/mcp.json` (every platform), in Cursor's format:
//! `mcpServers`, a remote server given by `url` with `headers`.

use super::{Client, Entry, bearer};
use serde_json::json;

/// LM Studio.
pub(super) const CLIENT: Client = Client {
    name: "lm-studio",
    display: "LM Studio",
    container: "mcpServers",
    default_path: || dirs::home_dir().map(|h| h.join(".lmstudio").join("mcp.json")),
    entry: |e: &Entry| vec![("url", json!(e.proxy)), ("headers", bearer(e.key))],
    needs_key: true,
    format: crate::format::Format::Json,
};
