//! OpenAI Codex CLI: `$CODEX_HOME/config.toml` (by default
//! `~/.codex/config.toml` on every platform), one `[mcp_servers.<name>]`
//! table per server. A Streamable HTTP server is given by `url`; a literal
//! header goes in `http_headers` (`bearer_token_env_var` would need the key
//! in the environment of every Codex run).

use super::{Client, Entry, bearer};
use crate::format::Format;
use serde_json::json;
use std::path::PathBuf;

fn default_path() -> Option<PathBuf> {
    let home = match std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home),
        None => dirs::home_dir()?.join(".codex"),
    };
    Some(home.join("config.toml"))
}

/// Codex CLI.
pub(super) const CLIENT: Client = Client {
    name: "codex",
    display: "Codex CLI",
    container: "mcp_servers",
    default_path,
    entry: |e: &Entry| vec![("url", json!(e.proxy)), ("http_headers", bearer(e.key))],
    needs_key: true,
    format: Format::Toml,
};
