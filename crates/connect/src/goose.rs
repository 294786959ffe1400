//! Goose: `config.yaml` in Goose's config folder (`~/.config/goose` on
//! Linux and macOS, `%APPDATA%\Block\goose\config` on Windows), servers are
//! `extensions.<name>`. Goose reads the whole file into one typed value, so
//! an entry carries every field a Streamable HTTP extension needs to load
//! (`type`, `name`, `description`, `uri`, `envs`, `env_keys`, `headers`,
//! `timeout`) and `enabled: true`; a missing one would make Goose refuse
//! every extension. The edit keeps the rest of the YAML as it was
//! (`yamledit`).

use super::{Client, Entry, bearer, entry_name};
use crate::format::Format;
use serde_json::json;
use std::path::PathBuf;

fn default_path() -> Option<PathBuf> {
    let folder = if cfg!(windows) {
        dirs::config_dir()?
            .join("Block")
            .join("goose")
            .join("config")
    } else if cfg!(target_os = "macos") {
        dirs::home_dir()?.join(".config").join("goose")
    } else {
        dirs::config_dir()?.join("goose")
    };
    Some(folder.join("config.yaml"))
}

/// Seconds Goose waits for one tool call.
const TIMEOUT: u64 = 300;

/// Goose.
pub(super) const CLIENT: Client = Client {
    name: "goose",
    display: "Goose",
    container: "extensions",
    default_path,
    entry: |e: &Entry| {
        vec![
            ("enabled", json!(true)),
            ("type", json!("streamable_http")),
            ("name", json!(entry_name(e.id))),
            (
                "description",
                json!(format!("{} through MCP Passport", e.id)),
            ),
            ("uri", json!(e.proxy)),
            ("envs", json!({})),
            ("env_keys", json!([])),
            ("headers", bearer(e.key)),
            ("timeout", json!(TIMEOUT)),
        ]
    },
    needs_key: true,
    format: Format::Yaml,
};
