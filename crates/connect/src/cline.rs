//! Cline: `cline_mcp_settings.json`, servers under `mcpServers`. A
//! Streamable HTTP server must say `"type": "streamableHttp"` (a bare `url`
//! is taken as SSE); `disabled: false` is what Cline writes itself.
//!
//! The VS Code extension keeps the file in VS Code's global storage
//! (`<VS Code user folder>/globalStorage/saoudrizwan.claude-dev/settings/`);
//! the Cline CLI keeps it under `~/.cline/data/settings/` (`$CLINE_DIR`
//! instead of `~/.cline` when set). Recent Cline releases share that second
//! file between the CLI, VS Code and JetBrains: `cline-cli` is the one to
//! connect then, so that one key serves the one file.

use super::{Client, Entry, bearer};
use serde_json::json;
use std::path::PathBuf;

const FILE: &str = "cline_mcp_settings.json";

fn entry(e: &Entry) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("type", json!("streamableHttp")),
        ("url", json!(e.proxy)),
        ("headers", bearer(e.key)),
        ("disabled", json!(false)),
    ]
}

/// Cline in VS Code.
pub(super) const CLIENT: Client = Client {
    name: "cline",
    display: "Cline",
    container: "mcpServers",
    // VS Code's user folder is under the config directory on every OS
    // (~/.config/Code, ~/Library/Application Support/Code, %APPDATA%\Code).
    default_path: || {
        dirs::config_dir().map(|d| {
            d.join("Code")
                .join("User")
                .join("globalStorage")
                .join("saoudrizwan.claude-dev")
                .join("settings")
                .join(FILE)
        })
    },
    entry,
    needs_key: true,
    format: crate::format::Format::Json,
};

/// The Cline CLI.
pub(super) const CLI: Client = Client {
    name: "cline-cli",
    display: "Cline CLI",
    container: "mcpServers",
    default_path: || {
        let home = std::env::var_os("CLINE_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| dirs::home_dir().map(|h| h.join(".cline")))?;
        Some(home.join("data").join("settings").join(FILE))
    },
    entry,
    needs_key: true,
    format: crate::format::Format::Json,
};
