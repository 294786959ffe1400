//! VS Code: the user profile's `mcp.json` (in the Code user settings
//! directory) lists servers under `servers`, `"type": "http"` for remote ones.

use super::{Client, Entry, bearer};
use serde_json::json;

/// VS Code.
pub(super) const CLIENT: Client = Client {
    name: "vscode",
    display: "VS Code",
    container: "servers",
    default_path: || dirs::config_dir().map(|d| d.join("Code").join("User").join("mcp.json")),
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
