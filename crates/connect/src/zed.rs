//! Zed: servers are `context_servers` in the user `settings.json`, which is
//! JSON with comments and trailing commas; the edit keeps them (see
//! `jsonedit`).

use super::{Client, Entry, bearer};
use serde_json::json;

/// Zed.
pub(super) const CLIENT: Client = Client {
    name: "zed",
    display: "Zed",
    container: "context_servers",
    default_path: || {
        // Zed reads ~/.config/zed on macOS too, not ~/Library.
        if cfg!(target_os = "macos") {
            dirs::home_dir().map(|h| h.join(".config").join("zed").join("settings.json"))
        } else {
            dirs::config_dir().map(|d| d.join("zed").join("settings.json"))
        }
    },
    entry: |e: &Entry| vec![("url", json!(e.proxy)), ("headers", bearer(e.key))],
    needs_key: true,
    format: crate::format::Format::Json,
};
