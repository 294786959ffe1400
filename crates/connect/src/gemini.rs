//! Gemini CLI: `~/.gemini/settings.json` (every platform), servers under
//! `mcpServers`. A Streamable HTTP server is given by `httpUrl`: there
//! `url` means SSE, which the broker's proxy does not speak.

use super::{Client, Entry, bearer};
use serde_json::json;

/// Gemini CLI.
pub(super) const CLIENT: Client = Client {
    name: "gemini",
    display: "Gemini CLI",
    container: "mcpServers",
    default_path: || dirs::home_dir().map(|h| h.join(".gemini").join("settings.json")),
    entry: |e: &Entry| vec![("httpUrl", json!(e.proxy)), ("headers", bearer(e.key))],
    needs_key: true,
    format: crate::format::Format::Json,
};

/// Qwen Code (built on Gemini CLI): `~/.qwen/settings.json`, the same format.
pub(super) const QWEN: Client = Client {
    name: "qwen",
    display: "Qwen Code",
    container: "mcpServers",
    default_path: || dirs::home_dir().map(|h| h.join(".qwen").join("settings.json")),
    entry: |e: &Entry| vec![("httpUrl", json!(e.proxy)), ("headers", bearer(e.key))],
    needs_key: true,
    format: crate::format::Format::Json,
};
