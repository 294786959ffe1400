//! `mcp-passport connect <client>` and `disconnect <client>`: write (or
//! remove) one `passport-<id>` entry per granted server into an MCP client's
//! own config file, so the user never hand-edits JSON or copies keys.
//!
//! Each entry points the client at the local broker's proxy
//! (`http://127.0.0.1:PORT/v1/mcp/<id>`) with a key minted for that client
//! alone, so a client can be cut off (`disconnect`, `revoke`) without touching
//! the others. The files belong to the user and to the client: the edit is a
//! textual splice (see [`jsonedit`]) that leaves every other byte as it was,
//! backs the file up first, and writes it atomically, readable by the user
//! only, because it now holds a key.

mod claude_code;
mod claude_desktop;
mod cursor;
mod files;
pub mod jsonedit;
mod preview;
mod vscode;
mod windsurf;
mod zed;

use crate::cli::{Cli, Command};
use crate::commands::Failure;
use crate::context::{Context, Paths};
use files::{read_config, save};
use jsonedit::Node;
use passport_broker::keys::Keys;
use preview::{compact, current_entries, print_before};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// One entry: its name and members, in the order written.
type Rendered = (String, Vec<(&'static str, Value)>);

/// Port the broker listens on when no endpoint file says otherwise.
const DEFAULT_PORT: u16 = 8755;
/// Prefix of every entry we own; anything else in the file is the user's.
const PREFIX: &str = "passport-";
/// What a dry run shows where a freshly minted key would go.
const PLACEHOLDER: &str = "<new key>";

/// The MCP clients `connect` knows how to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
}

/// What one entry is built from.
struct Entry<'a> {
    /// The server id.
    id: &'a str,
    /// The broker's proxy URL for it.
    proxy: &'a str,
    /// The client's key (or the dry-run placeholder).
    key: &'a str,
    /// This executable, for stdio clients.
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
    /// The config file when `--config` is not given.
    default_path: fn() -> Option<PathBuf>,
    /// The entry's members, in the order written.
    entry: fn(&Entry) -> Vec<(&'static str, Value)>,
    /// Whether the entry carries a per-client key.
    needs_key: bool,
}

fn client(kind: ClientKind) -> &'static Client {
    match kind {
        ClientKind::ClaudeCode => &claude_code::CLIENT,
        ClientKind::Cursor => &cursor::CLIENT,
        ClientKind::Vscode => &vscode::CLIENT,
        ClientKind::Windsurf => &windsurf::CLIENT,
        ClientKind::Zed => &zed::CLIENT,
        ClientKind::ClaudeDesktop => &claude_desktop::CLIENT,
    }
}

/// `{"Authorization": "Bearer KEY"}`.
fn bearer(key: &str) -> Value {
    json!({"Authorization": format!("Bearer {key}")})
}

fn config_path(client: &Client, config: Option<&Path>) -> Result<PathBuf, Failure> {
    match config {
        Some(p) => Ok(p.to_path_buf()),
        None => (client.default_path)().ok_or_else(|| {
            Failure::other(
                "no_config_path",
                format!(
                    "cannot find {}'s config file location; pass --config PATH",
                    client.display
                ),
            )
        }),
    }
}

fn edit_error(path: &Path, e: jsonedit::EditError) -> Failure {
    Failure::other(
        "config_invalid",
        format!(
            "cannot edit {}: {e}. Fix the file or pass --config PATH; nothing was changed",
            path.display()
        ),
    )
}

/// The broker's port from its endpoint file, else the default.
fn broker_port(paths: &Paths) -> u16 {
    crate::broker_client::read_endpoint(&paths.endpoint_file()).map_or(DEFAULT_PORT, |e| e.port)
}

/// Runs `mcp-passport connect` from the parsed command line.
pub fn connect(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Connect {
            client,
            servers,
            dry_run,
            config,
        } => connect_to(cli, *client, servers, *dry_run, config.as_deref()),
        _ => Err(Failure::other("internal", "not a connect command")),
    }
}

/// Runs `mcp-passport disconnect` from the parsed command line.
pub fn disconnect(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Disconnect {
            client,
            dry_run,
            config,
        } => disconnect_from(cli, *client, *dry_run, config.as_deref()),
        _ => Err(Failure::other("internal", "not a disconnect command")),
    }
}

/// `mcp-passport connect`: writes one `passport-<id>` entry per granted (and
/// chosen) server into the client's config, with a fresh key for the client.
fn connect_to(
    cli: &Cli,
    kind: ClientKind,
    servers: &[String],
    dry_run: bool,
    config: Option<&Path>,
) -> Result<(), Failure> {
    let client = client(kind);
    let path = config_path(client, config)?;
    let paths = Paths::resolve(cli)?;
    let ctx = Context::open(cli, false)?;

    let mut granted: Vec<String> = Vec::new();
    for grant in ctx.engine.grants() {
        for server in &grant.servers {
            if !grant.blocked.contains(&server.id) && !granted.contains(&server.id) {
                granted.push(server.id.clone());
            }
        }
    }
    for wanted in servers {
        if !granted.contains(wanted) {
            return Err(Failure::other(
                "not_granted",
                format!(
                    "{wanted} is not a granted server (granted: {}); see `mcp-passport status`",
                    if granted.is_empty() {
                        "none".to_string()
                    } else {
                        granted.join(", ")
                    }
                ),
            ));
        }
    }
    let chosen: Vec<String> = if servers.is_empty() {
        granted
    } else {
        granted
            .into_iter()
            .filter(|id| servers.contains(id))
            .collect()
    };
    if chosen.is_empty() {
        return Err(Failure::other(
            "no_servers",
            "no granted servers to connect; sign in first with `mcp-passport login`",
        ));
    }

    let port = broker_port(&paths);
    let exe = std::env::current_exe()
        .map_err(|e| Failure::other("no_exe", format!("cannot find this program's path: {e}")))?;
    let exe = exe.to_string_lossy().into_owned();
    let old = read_config(&path)?;
    let build = |key: &str| -> Result<(String, Vec<Rendered>), Failure> {
        let entries: Vec<Rendered> = chosen
            .iter()
            .map(|id| {
                let proxy = format!("http://127.0.0.1:{port}/v1/mcp/{id}");
                let entry = Entry {
                    id,
                    proxy: &proxy,
                    key,
                    exe: &exe,
                };
                (format!("{PREFIX}{id}"), (client.entry)(&entry))
            })
            .collect();
        let items: Vec<(String, Node)> = entries
            .iter()
            .map(|(name, fields)| {
                let node = Node::Object(
                    fields
                        .iter()
                        .map(|(k, v)| ((*k).to_string(), Node::Json(v.clone())))
                        .collect(),
                );
                (name.clone(), node)
            })
            .collect();
        let base = old.as_deref().unwrap_or("");
        let stripped = jsonedit::remove_prefixed(base, client.container, PREFIX)
            .map_err(|e| edit_error(&path, e))?;
        let text = jsonedit::add_members(&stripped, client.container, &items)
            .map_err(|e| edit_error(&path, e))?;
        Ok((text, entries))
    };
    // Check the file can be edited before any key changes.
    let (_, preview) = build(PLACEHOLDER)?;

    if dry_run {
        if cli.json {
            println!(
                "{}",
                json!({"client": client.name, "config": path, "servers": chosen, "dry_run": true})
            );
        } else {
            println!(
                "Dry run: would connect {} to {} server(s): {}. Nothing was changed.",
                client.display,
                chosen.len(),
                chosen.join(", ")
            );
            println!("Config: {}", path.display());
            print_before(&current_entries(old.as_deref(), client.container));
            println!("After:");
            for (name, fields) in &preview {
                println!("  {}: {}", Value::from(name.as_str()), compact(fields));
            }
        }
        return Ok(());
    }

    let key = if client.needs_key {
        let keys = Keys::open(paths.home.join("keys.json"))
            .map_err(|e| Failure::other("keys", e.to_string()))?;
        keys.revoke(client.name)
            .map_err(|e| Failure::other("keys", e.to_string()))?;
        let limit = (!servers.is_empty()).then(|| chosen.clone());
        let (_, key) = keys
            .mint(client.name, limit, chrono::Utc::now())
            .map_err(|e| Failure::other("keys", e.to_string()))?;
        key
    } else {
        String::new()
    };
    let (text, _) = build(&key)?;
    save(&path, old.as_deref(), &text)?;

    if cli.json {
        println!(
            "{}",
            json!({"client": client.name, "config": path, "servers": chosen, "dry_run": false})
        );
    } else {
        println!(
            "Connected {} to {} server(s): {}. Restart {} to load them. Config: {}",
            client.display,
            chosen.len(),
            chosen.join(", "),
            client.display,
            path.display()
        );
    }
    Ok(())
}

/// `mcp-passport disconnect`: removes every `passport-*` entry from the
/// client's config and revokes the client's keys.
fn disconnect_from(
    cli: &Cli,
    kind: ClientKind,
    dry_run: bool,
    config: Option<&Path>,
) -> Result<(), Failure> {
    let client = client(kind);
    let path = config_path(client, config)?;
    let paths = Paths::resolve(cli)?;
    let old = read_config(&path)?;
    let before = current_entries(old.as_deref(), client.container);
    let removed: Vec<String> = before
        .iter()
        .map(|(k, _)| k.trim_start_matches(PREFIX).to_string())
        .collect();
    let new = match &old {
        Some(text) => Some(
            jsonedit::remove_prefixed(text, client.container, PREFIX)
                .map_err(|e| edit_error(&path, e))?,
        ),
        None => None,
    };

    if dry_run {
        if cli.json {
            println!(
                "{}",
                json!({"client": client.name, "config": path, "servers": removed, "dry_run": true})
            );
        } else {
            println!(
                "Dry run: would disconnect {} and revoke its key. Nothing was changed.",
                client.display
            );
            println!("Config: {}", path.display());
            print_before(&before);
            println!("After:\n  (no passport-* entries)");
        }
        return Ok(());
    }

    if let (Some(old), Some(new)) = (&old, &new)
        && old != new
    {
        save(&path, Some(old), new)?;
    }
    let keys = Keys::open(paths.home.join("keys.json"))
        .map_err(|e| Failure::other("keys", e.to_string()))?;
    let revoked = keys
        .revoke(client.name)
        .map_err(|e| Failure::other("keys", e.to_string()))?;

    if cli.json {
        println!(
            "{}",
            json!({"client": client.name, "config": path, "servers": removed, "dry_run": false, "revoked_keys": revoked})
        );
    } else {
        println!(
            "Disconnected {}: removed {} server(s){}{}, revoked {revoked} key(s). Restart {} to apply. Config: {}",
            client.display,
            removed.len(),
            if removed.is_empty() { "" } else { ": " },
            removed.join(", "),
            client.display,
            path.display()
        );
    }
    Ok(())
}
