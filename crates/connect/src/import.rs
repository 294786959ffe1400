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

mod repoint;
pub use repoint::{Repoint, Repointed, original_path, preview_repoint, repoint};
use repoint::{read_existing, read_record, record_path, write_failed};

mod restore;
pub use restore::{Restored, preview_restore, restore};

#[cfg(test)]
mod tests;
