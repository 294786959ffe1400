//! Connecting MCP clients to MCP Passport: write (or remove) one
//! `passport-<id>` entry per granted server in an MCP client's own config
//! file, so the user never hand-edits JSON or copies keys.
//!
//! Each entry points the client at the local broker's proxy
//! (`http://127.0.0.1:PORT/v1/mcp/<id>`) with a key minted for that client
//! alone, so a client can be cut off (disconnect, revoke) without touching
//! the others. The files belong to the user and to the client: the edit goes
//! through a lossless syntax tree (see [`jsonedit`]) and leaves every other
//! byte as it was, backs the file up first, and writes it atomically,
//! readable by the user only, because it now holds a key.
//!
//! Everything here returns data ([`Change`]); the `mcp-passport` command
//! prints it and the desktop app shows it before writing.

mod claude_code;
mod claude_desktop;
mod cline;
mod codex;
mod continue_dev;
mod cursor;
pub mod detect;
mod edit;
mod files;
pub mod follow;
mod format;
mod gemini;
mod goose;
pub mod helper;
pub mod import;
mod jetbrains;
pub mod jsonedit;
mod lm_studio;
mod opencode;
pub mod preview;
pub mod print;
pub mod record;
pub mod tomledit;
mod vscode;
mod windsurf;
pub mod yamledit;
mod zed;

pub use edit::{connect, disconnect, preview_connect, preview_disconnect};
use edit::{
    nodes, our_text, remove_entries, render, render_entries, texts, write_chosen, write_entries,
};
use format::Format;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// One entry: its name and members, in the order written.
pub type Rendered = (String, Vec<(&'static str, Value)>);

/// Port the broker listens on when no endpoint file says otherwise.
pub use passport_broker::paths::DEFAULT_PORT;
/// Prefix of every entry we own; anything else in the file is the user's.
pub const PREFIX: &str = "passport-";
/// The entry for a server address: `passport-<id>`, and for a second
/// account's `<id>@<label>`, `passport-<id>-<label>`.
pub fn entry_name(address: &str) -> String {
    if simple(address) {
        return format!("{PREFIX}{}", address.replace('@', "-"));
    }
    // A server known by its URL (a per-server AS): its host, port and path.
    let slug: Vec<&str> = address
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect();
    format!("{PREFIX}{}", slug.join("-"))
}

/// Whether a server address goes into a name or a path as it is.
fn simple(address: &str) -> bool {
    address
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

/// The broker's proxy URL for a server address (percent-encoded when it
/// is a URL itself).
fn proxy_url(port: u16, address: &str) -> String {
    if simple(address) {
        format!("http://127.0.0.1:{port}/v1/mcp/{address}")
    } else {
        format!(
            "http://127.0.0.1:{port}{}",
            passport_broker::admin_api::proxy_path(address)
        )
    }
}

/// What a preview shows where a freshly minted key would go.
const PLACEHOLDER: &str = "<new key>";

/// Why a client could not be connected or disconnected; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{message}")]
pub struct ConnectError {
    /// Stable code.
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
}

impl ConnectError {
    /// An error with this code and message.
    pub fn other(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The MCP clients MCP Passport knows how to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// Claude Code (`~/.claude.json`).
    ClaudeCode,
    /// Cursor (`~/.cursor/mcp.json`).
    Cursor,
    /// VS Code (user `mcp.json`).
    Vscode,
    /// Windsurf (`~/.codeium/windsurf/mcp_config.json`).
    Windsurf,
    /// Zed (`settings.json`, JSON with comments).
    Zed,
    /// Claude Desktop (`claude_desktop_config.json`, through `mcp-passport stdio`).
    ClaudeDesktop,
    /// Gemini CLI (`~/.gemini/settings.json`, `httpUrl`).
    Gemini,
    /// Qwen Code (`~/.qwen/settings.json`, `httpUrl`).
    Qwen,
    /// LM Studio (`~/.lmstudio/mcp.json`).
    LmStudio,
    /// OpenAI Codex CLI (`~/.codex/config.toml`, TOML).
    Codex,
    /// Goose (`~/.config/goose/config.yaml`, YAML).
    Goose,
    /// Continue (one YAML file per server in `~/.continue/mcpServers/`).
    Continue,
    /// opencode (`~/.config/opencode/opencode.json[c]`, `mcp`).
    Opencode,
    /// Cline in VS Code (`cline_mcp_settings.json` in VS Code's global storage).
    Cline,
    /// Cline CLI (`~/.cline/data/settings/cline_mcp_settings.json`).
    ClineCli,
    /// JetBrains AI Assistant (settings in the IDE: `--print` only).
    Jetbrains,
}

impl ClientKind {
    /// Every client with a config file to write, in display order (not
    /// JetBrains AI Assistant, whose settings live in the IDE: see `print`).
    pub const ALL: [ClientKind; 15] = [
        ClientKind::ClaudeCode,
        ClientKind::Cursor,
        ClientKind::Vscode,
        ClientKind::Windsurf,
        ClientKind::Zed,
        ClientKind::ClaudeDesktop,
        ClientKind::Gemini,
        ClientKind::Qwen,
        ClientKind::LmStudio,
        ClientKind::Codex,
        ClientKind::Goose,
        ClientKind::Continue,
        ClientKind::Opencode,
        ClientKind::Cline,
        ClientKind::ClineCli,
    ];

    /// The client's name in keys and on the command line (`claude-code`...).
    pub fn name(self) -> &'static str {
        client(self).name
    }

    /// The client's name for people.
    pub fn display(self) -> &'static str {
        client(self).display
    }

    /// The client from its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// What one entry is built from.
struct Entry<'a> {
    /// The server id.
    id: &'a str,
    /// The broker's proxy URL for it.
    proxy: &'a str,
    /// The client's key (or the preview placeholder).
    key: &'a str,
    /// The `mcp-passport` command, for stdio clients.
    exe: &'a str,
}

/// How one client's config file looks.
struct Client {
    /// Name on the command line and in keys.json.
    name: &'static str,
    /// Name shown to people.
    display: &'static str,
    /// The top-level object holding the servers.
    container: &'static str,
    /// The config file when none is given.
    default_path: fn() -> Option<PathBuf>,
    /// The entry's members, in the order written.
    entry: fn(&Entry) -> Vec<(&'static str, Value)>,
    /// Whether the entry carries a per-client key.
    needs_key: bool,
    /// How the config is written.
    format: Format,
}

fn client(kind: ClientKind) -> &'static Client {
    match kind {
        ClientKind::ClaudeCode => &claude_code::CLIENT,
        ClientKind::Cursor => &cursor::CLIENT,
        ClientKind::Vscode => &vscode::CLIENT,
        ClientKind::Windsurf => &windsurf::CLIENT,
        ClientKind::Zed => &zed::CLIENT,
        ClientKind::ClaudeDesktop => &claude_desktop::CLIENT,
        ClientKind::Gemini => &gemini::CLIENT,
        ClientKind::Qwen => &gemini::QWEN,
        ClientKind::LmStudio => &lm_studio::CLIENT,
        ClientKind::Codex => &codex::CLIENT,
        ClientKind::Goose => &goose::CLIENT,
        ClientKind::Continue => &continue_dev::CLIENT,
        ClientKind::Opencode => &opencode::CLIENT,
        ClientKind::Cline => &cline::CLIENT,
        ClientKind::ClineCli => &cline::CLI,
        ClientKind::Jetbrains => &jetbrains::CLIENT,
    }
}

/// The object holding the servers in this file's text: the client's
/// `container`, or where the file already keeps them (opencode).
fn container(kind: ClientKind, text: Option<&str>) -> &'static str {
    match kind {
        ClientKind::Opencode => opencode::container(text),
        _ => client(kind).container,
    }
}

/// `{"Authorization": "Bearer KEY"}`.
fn bearer(key: &str) -> Value {
    json!({"Authorization": format!("Bearer {key}")})
}

/// What a connect or disconnect changes (or changed) in one client's file.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The client.
    pub client: ClientKind,
    /// Its name for people.
    pub display: &'static str,
    /// The config file.
    pub config: PathBuf,
    /// The servers connected (or removed).
    pub servers: Vec<String>,
    /// Our entries before, as JSON text, keys hidden.
    pub before: Vec<(String, String)>,
    /// Our entries after, as JSON text, with `<new key>` where the key goes.
    pub after: Vec<(String, String)>,
    /// Keys revoked (disconnect only).
    pub revoked_keys: usize,
}

/// What to connect.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The client.
    pub kind: ClientKind,
    /// Its config file; `None` for the client's usual place on this OS.
    pub config: Option<&'a Path>,
    /// The servers granted now (ids).
    pub granted: &'a [String],
    /// The servers wanted; empty means all granted ones.
    pub wanted: &'a [String],
    /// The broker's port.
    pub port: u16,
    /// The `mcp-passport` command (for stdio clients).
    pub exe: &'a str,
}

/// The client's config file.
pub fn config_path(kind: ClientKind, config: Option<&Path>) -> Result<PathBuf, ConnectError> {
    let client = client(kind);
    match config {
        Some(p) => Ok(p.to_path_buf()),
        None if kind == ClientKind::Jetbrains => Err(ConnectError::other(
            "print_only",
            format!(
                "{} keeps its MCP servers in the IDE (Settings | Tools | AI Assistant | \
                 Model Context Protocol): run `mcp-passport connect --print {}` and paste \
                 what it shows",
                client.display, client.name
            ),
        )),
        None => (client.default_path)().ok_or_else(|| {
            ConnectError::other(
                "no_config_path",
                format!(
                    "cannot find {}'s config file location; pass --config PATH",
                    client.display
                ),
            )
        }),
    }
}

fn edit_error(path: &Path, e: jsonedit::EditError) -> ConnectError {
    ConnectError::other(
        "config_invalid",
        format!(
            "cannot edit {}: {e}. Fix the file or pass --config PATH; nothing was changed",
            path.display()
        ),
    )
}

fn keys_error(e: passport_broker::keys::KeyError) -> ConnectError {
    ConnectError::other("keys", e.to_string())
}

fn chosen(request: &Request) -> Result<Vec<String>, ConnectError> {
    for wanted in request.wanted {
        if !request.granted.contains(wanted) {
            return Err(ConnectError::other(
                "not_granted",
                format!(
                    "{wanted} is not a granted server (granted: {}); see `mcp-passport status`",
                    if request.granted.is_empty() {
                        "none".to_string()
                    } else {
                        request.granted.join(", ")
                    }
                ),
            ));
        }
    }
    let chosen: Vec<String> = request
        .granted
        .iter()
        .filter(|id| request.wanted.is_empty() || request.wanted.contains(id))
        .cloned()
        .collect();
    if chosen.is_empty() {
        return Err(ConnectError::other(
            "no_servers",
            "no granted servers to connect; sign in first",
        ));
    }
    Ok(chosen)
}
