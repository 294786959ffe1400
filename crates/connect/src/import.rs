//! Importing what the user already has: the remote (HTTP) MCP servers
//! configured in the MCP clients' own files, found as data ([`scan`]);
//! each client's entry for them replaced by our `passport-<id>` entry
//! ([`repoint`]); and the file put back as it was before ([`restore`]).
//!
//! Only the server's address and the entry's name are read from an entry:
//! never its headers, tokens or environment. What was there stays in two
//! files beside the config, readable by the user only: the bytes before the
//! first import (`<file>.mcp-passport-import.bak`) and the names of the
//! entries replaced (`<file>.mcp-passport-import.json`, no secret in it).
//! Restoring puts the bytes back only when our entries are the only change
//! since; otherwise it refuses and says why.

use crate::files::{read_config, save, write_private};
use crate::jsonedit;
use crate::{
    ClientKind, ConnectError, PLACEHOLDER, PREFIX, Request, client, edit_error, keys_error, render,
};
use passport_broker::keys::Keys;
use passport_core::model::Grant;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One client's entry for a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Use {
    /// The client.
    pub client: ClientKind,
    /// Its name for people.
    pub display: &'static str,
    /// Its config file.
    pub config: PathBuf,
    /// The entry's name there.
    pub entry: String,
}

/// A remote MCP server found in one or more clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundServer {
    /// Its URL (normalized).
    pub url: String,
    /// The entries naming it, one per client file.
    pub uses: Vec<Use>,
}

/// An entry found but left as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Where it is.
    #[serde(flatten)]
    pub at: Use,
    /// Why it is not imported.
    pub reason: String,
}

/// A client config file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// The client.
    pub client: ClientKind,
    /// Its config file.
    pub config: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// What [`scan`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Found {
    /// The remote servers, each once, with every client using it.
    pub servers: Vec<FoundServer>,
    /// Entries left alone (SSE, not a URL...).
    pub skipped: Vec<Skipped>,
    /// Files that could not be read (left alone too).
    pub unreadable: Vec<Unreadable>,
}

impl Found {
    /// The servers' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url.clone()).collect()
    }
}

/// What one entry is, to an import.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// A remote Streamable HTTP server at this URL.
    Remote(String),
    /// Left alone, for this reason.
    Skip(String),
    /// Not a remote server (a local command), ours, or the broker.
    Other,
}

/// The URL an entry names: `url` (Claude Code, Cursor, VS Code, Zed, LM
/// Studio; SSE at Gemini CLI and Qwen Code), `httpUrl` (Gemini CLI, Qwen
/// Code), `serverUrl` (Windsurf), `uri` (Goose); or the address given to
/// `mcp-remote` (a stdio bridge people use for remote servers).
fn named_url(kind: ClientKind, entry: &Value) -> Option<(String, bool)> {
    let sse_by_type = ["type", "transport"]
        .iter()
        .filter_map(|k| entry.get(*k).and_then(Value::as_str))
        .any(|t| t.eq_ignore_ascii_case("sse"));
    if let Some(url) = entry.get("httpUrl").and_then(Value::as_str) {
        return Some((url.to_string(), false));
    }
    for field in ["url", "serverUrl", "uri"] {
        if let Some(url) = entry.get(field).and_then(Value::as_str) {
            let sse_by_field =
                field == "url" && matches!(kind, ClientKind::Gemini | ClientKind::Qwen);
            return Some((url.to_string(), sse_by_type || sse_by_field));
        }
    }
    let args = entry.get("args").and_then(Value::as_array)?;
    let args: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
    let bridge = args
        .iter()
        .position(|a| a.ends_with("mcp-remote") || a.starts_with("mcp-remote@"))?;
    args[bridge + 1..]
        .iter()
        .find(|a| a.starts_with("http://") || a.starts_with("https://"))
        .map(|url| (url.to_string(), sse_by_type))
}

/// Whether the URL is the broker's proxy (an entry already ours).
fn is_broker(url: &url::Url) -> bool {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    loopback && url.path().starts_with("/v1/mcp/")
}

fn classify(kind: ClientKind, name: &str, entry: &Value) -> Kind {
    if name.starts_with(PREFIX) || !entry.is_object() {
        return Kind::Other;
    }
    let Some((text, sse)) = named_url(kind, entry) else {
        return Kind::Other;
    };
    // The address itself is never echoed: it may carry a key.
    let url = match url::Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => return Kind::Skip("its address is not an http(s) URL".to_string()),
    };
    if is_broker(&url) {
        return Kind::Other;
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Kind::Skip(
            "its address carries a user name, password or query parameters (often a key), \
             which MCP Passport does not copy"
                .to_string(),
        );
    }
    if sse {
        return Kind::Skip(
            "it uses the SSE transport, which the broker's proxy does not speak".to_string(),
        );
    }
    Kind::Remote(normalize(&url))
}

/// The URL as compared: parsed and written back, no fragment, no query-less `?`.
fn normalize(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    url.to_string()
}

/// A URL as [`scan`] writes it (for matching a grant's server to it).
pub fn normalized(text: &str) -> Option<String> {
    url::Url::parse(text.trim()).ok().map(|u| normalize(&u))
}

/// The servers in one client file: `(entry, kind)` in the file's order.
fn entries(kind: ClientKind, text: &str) -> Result<Vec<(String, Kind)>, String> {
    let value = jsonedit::parse(text).map_err(|e| e.to_string())?;
    let container = client(kind).container;
    let Some(servers) = value.get(container) else {
        return Ok(Vec::new());
    };
    let Some(servers) = servers.as_object() else {
        return Err(format!("\"{container}\" is not a JSON object"));
    };
    Ok(servers
        .iter()
        .map(|(name, entry)| (name.clone(), classify(kind, name, entry)))
        .collect())
}

/// Whether import reads this client's file (JSON files only, for now).
pub fn reads(kind: ClientKind) -> bool {
    client(kind).format == crate::format::Format::Json
}

/// The config file of each client whose file is JSON (TOML, YAML and
/// folder clients are not read yet: `connect` them after the import):
/// `overrides` first, else its usual place on this OS.
pub fn config_files(overrides: &[(ClientKind, PathBuf)]) -> Vec<(ClientKind, PathBuf)> {
    ClientKind::ALL
        .into_iter()
        .filter(|kind| reads(*kind))
        .filter_map(|kind| {
            let given = overrides.iter().find(|(k, _)| *k == kind);
            let path =
                given.map_or_else(|| (client(kind).default_path)(), |(_, p)| Some(p.clone()));
            path.map(|p| (kind, p))
        })
        .collect()
}

/// Finds every remote MCP server in the clients' config files (`files`,
/// from [`config_files`]); a file that is missing is skipped, one that
/// cannot be read is listed in `unreadable`. Reads nothing but each
/// entry's name and address.
pub fn scan(files: &[(ClientKind, PathBuf)]) -> Found {
    let mut found = Found::default();
    for (kind, path) in files {
        let text = match read_config(path) {
            Ok(Some(text)) => text,
            Ok(None) => continue,
            Err(e) => {
                found.unreadable.push(Unreadable {
                    client: *kind,
                    config: path.clone(),
                    message: e.message,
                });
                continue;
            }
        };
        let list = match entries(*kind, &text) {
            Ok(list) => list,
            Err(message) => {
                found.unreadable.push(Unreadable {
                    client: *kind,
                    config: path.clone(),
                    message: format!("cannot read {}: {message}", path.display()),
                });
                continue;
            }
        };
        for (entry, what) in list {
            let at = Use {
                client: *kind,
                display: kind.display(),
                config: path.clone(),
                entry,
            };
            match what {
                Kind::Remote(url) => match found.servers.iter_mut().find(|s| s.url == url) {
                    Some(server) => server.uses.push(at),
                    None => found.servers.push(FoundServer {
                        url,
                        uses: vec![at],
                    }),
                },
                Kind::Skip(reason) => found.skipped.push(Skipped { at, reason }),
                Kind::Other => {}
            }
        }
    }
    found
}

/// The server addresses of the `passport-*` entries already in a file
/// (from the proxy URL, or Claude Desktop's `stdio <id>`).
fn our_servers(kind: ClientKind, text: &str) -> Vec<String> {
    let Ok(value) = jsonedit::parse(text) else {
        return Vec::new();
    };
    let Some(servers) = value.get(client(kind).container).and_then(Value::as_object) else {
        return Vec::new();
    };
    servers
        .iter()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .filter_map(|(_, entry)| {
            let from_url = named_url(kind, entry)
                .and_then(|(u, _)| url::Url::parse(&u).ok())
                .and_then(|u| {
                    let segment = u.path().strip_prefix("/v1/mcp/")?.to_string();
                    url::form_urlencoded::parse(format!("s={segment}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                });
            from_url.or_else(|| {
                let args = entry.get("args")?.as_array()?;
                (args.first()?.as_str()? == "stdio")
                    .then(|| args.get(1)?.as_str().map(str::to_string))
                    .flatten()
            })
        })
        .collect()
}

/// The address (`<id>` or `<id>@<label>`) of the server found at `url`
/// in one of `signed` (the grants to look in), named among `all` grants.
pub fn address_of(url: &str, signed: &[Grant], all: &[Grant]) -> Option<String> {
    signed.iter().find_map(|signed| {
        let grant = all.iter().find(|g| g.id == signed.id).unwrap_or(signed);
        grant
            .active_servers()
            .find(|s| {
                s.id == url
                    || [&s.resource, &s.resource_indicator]
                        .into_iter()
                        .flatten()
                        .any(|r| normalized(r).as_deref() == Some(url))
            })
            .map(|s| passport_core::account::address(all, grant, &s.id))
    })
}

/// Per client file, its entries for the servers found that have an
/// address in `signed`, with that address; servers without one are left out.
pub type Plan = Vec<(ClientKind, PathBuf, Vec<(String, String)>)>;

/// What to repoint once the sign-in has ended (see [`address_of`]).
pub fn plan(found: &Found, signed: &[Grant], all: &[Grant]) -> Plan {
    let mut plan: Plan = Vec::new();
    for server in &found.servers {
        let Some(address) = address_of(&server.url, signed, all) else {
            continue;
        };
        for u in &server.uses {
            let entry = (u.entry.clone(), address.clone());
            match plan
                .iter_mut()
                .find(|(k, p, _)| *k == u.client && *p == u.config)
            {
                Some((_, _, entries)) => entries.push(entry),
                None => plan.push((u.client, u.config.clone(), vec![entry])),
            }
        }
    }
    plan
}

/// One client file to repoint.
#[derive(Debug, Clone)]
pub struct Repoint<'a> {
    /// The client.
    pub kind: ClientKind,
    /// Its config file.
    pub config: &'a Path,
    /// The user's entries to replace, each with the server address
    /// (`<id>` or `<id>@<label>`) its `passport-*` entry is for.
    pub entries: Vec<(String, String)>,
    /// The broker's port.
    pub port: u16,
    /// The `mcp-passport` command (for stdio clients).
    pub exe: &'a str,
}

/// What a repoint changes (or changed) in one client file.
#[derive(Debug, Clone, Serialize)]
pub struct Repointed {
    /// The client.
    pub client: ClientKind,
    /// Its name for people.
    pub display: &'static str,
    /// The config file.
    pub config: PathBuf,
    /// Each user's entry and the `passport-*` entry replacing it.
    pub replaced: Vec<(String, String)>,
    /// Every server the client now reaches through the broker.
    pub servers: Vec<String>,
}

/// The new text of a repointed file, with `key` in each entry.
fn repointed_text(r: &Repoint, old: &str, key: &str) -> Result<(String, Repointed), ConnectError> {
    let c = client(r.kind);
    let names: Vec<String> = r.entries.iter().map(|(n, _)| n.clone()).collect();
    let stripped =
        jsonedit::remove_members(old, c.container, &names).map_err(|e| edit_error(r.config, e))?;
    let mut servers = our_servers(r.kind, old);
    for (_, address) in &r.entries {
        if !servers.contains(address) {
            servers.push(address.clone());
        }
    }
    let request = Request {
        kind: r.kind,
        config: Some(r.config),
        granted: &servers,
        wanted: &[],
        port: r.port,
        exe: r.exe,
    };
    let (text, _) = render(&request, r.config, Some(&stripped), &servers, key)?;
    let replaced = r
        .entries
        .iter()
        .map(|(name, address)| (name.clone(), crate::entry_name(address)))
        .collect();
    let change = Repointed {
        client: r.kind,
        display: c.display,
        config: r.config.to_path_buf(),
        replaced,
        servers,
    };
    Ok((text, change))
}

fn read_existing(path: &Path) -> Result<String, ConnectError> {
    read_config(path)?.ok_or_else(|| {
        ConnectError::other(
            "config_missing",
            format!("{} is gone; run the import again", path.display()),
        )
    })
}

/// What repointing would change; writes nothing and mints no key.
pub fn preview_repoint(r: &Repoint) -> Result<Repointed, ConnectError> {
    let old = read_existing(r.config)?;
    Ok(repointed_text(r, &old, PLACEHOLDER)?.1)
}

/// `<file>.mcp-passport-import.bak`: the bytes before the first import.
pub fn original_path(config: &Path) -> PathBuf {
    with_suffix(config, ".mcp-passport-import.bak")
}

/// `<file>.mcp-passport-import.json`: the entries an import replaced.
fn record_path(config: &Path) -> PathBuf {
    with_suffix(config, ".mcp-passport-import.json")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The names an import replaced (no secret: names only).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    replaced: Vec<String>,
}

fn read_record(config: &Path) -> Result<Option<Record>, ConnectError> {
    let path = record_path(config);
    let Some(text) = read_config(&path)? else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        ConnectError::other(
            "import_record_invalid",
            format!(
                "cannot read {}: {e}; the file before the import is {}",
                path.display(),
                original_path(config).display()
            ),
        )
    })
}

fn write_failed(path: &Path, e: &std::io::Error) -> ConnectError {
    ConnectError::other(
        "config_write",
        format!("cannot write {}: {e}", path.display()),
    )
}

/// Repoints one client file: its key replaced (as `connect` does), the
/// user's entries removed and a `passport-*` entry written for each of
/// them and for each entry of ours already there. The bytes before the
/// first import and the names replaced are kept first.
pub fn repoint(r: &Repoint, keys: &Keys) -> Result<Repointed, ConnectError> {
    let old = read_existing(r.config)?;
    // Checks the file can be edited before any key changes.
    repointed_text(r, &old, PLACEHOLDER)?;
    let c = client(r.kind);
    let key = if c.needs_key {
        keys.revoke(c.name).map_err(keys_error)?;
        keys.mint(c.name, None, chrono::Utc::now())
            .map_err(keys_error)?
            .1
    } else {
        String::new()
    };
    let (text, change) = repointed_text(r, &old, &key)?;
    let mut record = read_record(r.config)?.unwrap_or_default();
    let original = original_path(r.config);
    if !original.exists() || record.replaced.is_empty() {
        write_private(&original, old.as_bytes()).map_err(|e| write_failed(&original, &e))?;
    }
    for (name, _) in &r.entries {
        if !record.replaced.contains(name) {
            record.replaced.push(name.clone());
        }
    }
    let record_file = record_path(r.config);
    let json = serde_json::to_string_pretty(&record).unwrap_or_default();
    write_private(&record_file, json.as_bytes()).map_err(|e| write_failed(&record_file, &e))?;
    save(r.config, Some(&old), &text)?;
    Ok(change)
}

/// What restoring gives back.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The client.
    pub client: ClientKind,
    /// Its name for people.
    pub display: &'static str,
    /// The config file.
    pub config: PathBuf,
    /// The user's entries given back.
    pub entries: Vec<String>,
    /// Keys revoked (0 in a preview).
    pub revoked_keys: usize,
}

/// Checks a restore: the original text when the file differs from what
/// the import wrote only in our `passport-*` entries.
pub fn preview_restore(
    kind: ClientKind,
    config: Option<&Path>,
) -> Result<(Restored, String), ConnectError> {
    let c = client(kind);
    let path = crate::config_path(kind, config)?;
    let none = || {
        ConnectError::other(
            "nothing_to_restore",
            format!(
                "{} has no import to undo ({} is missing); `disconnect` without --restore removes our entries",
                path.display(),
                original_path(&path).display()
            ),
        )
    };
    let record = read_record(&path)?.ok_or_else(none)?;
    let original = read_config(&original_path(&path))?.ok_or_else(none)?;
    let current = read_existing(&path)?;
    let edit = |e| edit_error(&path, e);
    let ours_out = jsonedit::remove_prefixed(&current, c.container, PREFIX).map_err(edit)?;
    let expected = jsonedit::remove_members(&original, c.container, &record.replaced)
        .and_then(|t| jsonedit::remove_prefixed(&t, c.container, PREFIX))
        .and_then(|t| jsonedit::with_container(&t, c.container))
        .map_err(edit)?;
    if ours_out != expected {
        return Err(ConnectError::other(
            "changed_since_import",
            format!(
                "{} was changed since the import besides its passport-* entries, so putting \
                 it back would lose that change; nothing was changed. The file before the \
                 import is {}: copy back what you need by hand, or run `disconnect` without \
                 --restore to remove only our entries",
                path.display(),
                original_path(&path).display()
            ),
        ));
    }
    let restored = Restored {
        client: kind,
        display: c.display,
        config: path,
        entries: record.replaced,
        revoked_keys: 0,
    };
    Ok((restored, original))
}

/// Puts the file back as it was before the import (see
/// [`preview_restore`]), revokes the client's keys and forgets the import.
pub fn restore(
    kind: ClientKind,
    config: Option<&Path>,
    keys: &Keys,
) -> Result<Restored, ConnectError> {
    let (mut restored, original) = preview_restore(kind, config)?;
    let path = restored.config.clone();
    // The record goes first: a file put back while the record stayed would
    // be refused by the next restore and misread by the next import.
    let record = record_path(&path);
    if let Err(e) = std::fs::remove_file(&record)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(ConnectError::other(
            "config_write",
            format!(
                "cannot remove {}: {e}; nothing was changed",
                record.display()
            ),
        ));
    }
    let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    write_private(&target, original.as_bytes()).map_err(|e| write_failed(&target, &e))?;
    restored.revoked_keys = keys.revoke(client(kind).name).map_err(keys_error)?;
    // Without its record a leftover copy is harmless: the next import
    // replaces it.
    let _ = std::fs::remove_file(original_path(&path));
    Ok(restored)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn kind_of(kind: ClientKind, entry: Value) -> Kind {
        classify(kind, "mine", &entry)
    }

    #[test]
    fn every_clients_field_for_a_remote_server_is_read() {
        let remote = |u: &str| Kind::Remote(u.to_string());
        let cases = [
            (
                ClientKind::ClaudeCode,
                json!({"type": "http", "url": "https://a.example/mcp"}),
            ),
            (
                ClientKind::Cursor,
                json!({"url": "https://a.example/mcp", "headers": {"X": "y"}}),
            ),
            (
                ClientKind::Vscode,
                json!({"type": "http", "url": "https://a.example/mcp"}),
            ),
            (
                ClientKind::Windsurf,
                json!({"serverUrl": "https://a.example/mcp"}),
            ),
            (
                ClientKind::Gemini,
                json!({"httpUrl": "https://a.example/mcp"}),
            ),
            (ClientKind::Zed, json!({"uri": "https://a.example/mcp"})),
            (
                ClientKind::ClaudeDesktop,
                json!({"command": "npx", "args": ["-y", "mcp-remote", "https://a.example/mcp", "--header", "A: b"]}),
            ),
        ];
        for (kind, entry) in cases {
            assert_eq!(
                kind_of(kind, entry.clone()),
                remote("https://a.example/mcp"),
                "{entry}"
            );
        }
    }

    #[test]
    fn sse_local_ours_and_the_broker_are_not_imported() {
        let sse = kind_of(ClientKind::Gemini, json!({"url": "https://a.example/sse"}));
        assert!(matches!(sse, Kind::Skip(r) if r.contains("SSE")));
        let sse = kind_of(
            ClientKind::ClaudeCode,
            json!({"type": "sse", "url": "https://a.example/sse"}),
        );
        assert!(matches!(sse, Kind::Skip(_)));
        assert!(matches!(
            kind_of(ClientKind::Cursor, json!({"url": "file:///etc/passwd"})),
            Kind::Skip(_)
        ));
        for keyed in [
            "https://a.example/mcp?api_key=fixture-secret",
            "https://user:fixture-secret@a.example/mcp",
        ] {
            let skip = kind_of(ClientKind::Cursor, json!({ "url": keyed }));
            assert!(
                matches!(&skip, Kind::Skip(r) if !r.contains("fixture-secret")),
                "{skip:?}"
            );
        }
        assert_eq!(
            kind_of(
                ClientKind::Cursor,
                json!({"command": "npx", "args": ["server"]})
            ),
            Kind::Other
        );
        assert_eq!(
            kind_of(
                ClientKind::Cursor,
                json!({"url": "http://127.0.0.1:8755/v1/mcp/github-mcp"})
            ),
            Kind::Other
        );
        assert_eq!(
            classify(
                ClientKind::Cursor,
                "passport-x",
                &json!({"url": "https://a.example/mcp"})
            ),
            Kind::Other
        );
    }

    #[test]
    fn a_server_known_by_its_url_gets_a_readable_name_and_an_encoded_proxy_path() {
        let id = "http://127.0.0.1:4444/mcp";
        assert_eq!(crate::entry_name(id), "passport-127-0-0-1-4444-mcp");
        assert_eq!(
            crate::entry_name("github-mcp@work"),
            "passport-github-mcp-work"
        );
        let proxy = crate::proxy_url(8755, id);
        assert_eq!(
            proxy,
            "http://127.0.0.1:8755/v1/mcp/http%3A%2F%2F127.0.0.1%3A4444%2Fmcp"
        );
        assert_eq!(
            crate::proxy_url(8755, "github-mcp"),
            "http://127.0.0.1:8755/v1/mcp/github-mcp"
        );
        let text = json!({"mcpServers": {"passport-x": {"url": proxy}}}).to_string();
        assert_eq!(our_servers(ClientKind::Cursor, &text), vec![id.to_string()]);
    }

    #[test]
    fn our_entries_name_their_servers_by_url_or_stdio_argument() {
        let text = r#"{"mcpServers": {
            "passport-a": {"url": "http://127.0.0.1:1/v1/mcp/github-mcp"},
            "passport-b": {"url": "http://127.0.0.1:1/v1/mcp/http%3A%2F%2Fh%3A1%2Fmcp"},
            "mine": {"url": "https://a.example/mcp"}}}"#;
        assert_eq!(
            our_servers(ClientKind::Cursor, text),
            vec!["github-mcp".to_string(), "http://h:1/mcp".to_string()]
        );
        let text =
            r#"{"mcpServers": {"passport-a": {"command": "x", "args": ["stdio", "slack-mcp"]}}}"#;
        assert_eq!(
            our_servers(ClientKind::ClaudeDesktop, text),
            vec!["slack-mcp".to_string()]
        );
    }
}
