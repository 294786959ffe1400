//! Connected clients follow the grants: after servers are added or revoked,
//! every client recorded as connected ([`crate::record`]) gets one entry
//! per server granted now, with the same backup and write rules as
//! `connect`. A client whose entries changed since they were written is
//! left alone and reported; a client connected to chosen servers follows
//! revocations only. The client's key is kept when its file still holds
//! it (its other entries stay byte for byte), so a running client is not
//! cut off.
//!
//! Everything returns data; the command line and the app word it.

use crate::record::{Record, Records, current_entries, entries_digest};
use crate::{Change, ClientKind, ConnectError, Request, client, keys_error};
use passport_broker::keys::Keys;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What following needs: the servers granted now and how entries are written.
#[derive(Debug, Clone, Copy)]
pub struct Follow<'a> {
    /// The servers granted now (addresses).
    pub granted: &'a [String],
    /// The broker's port.
    pub port: u16,
    /// The `mcp-passport` command (for stdio clients).
    pub exe: &'a str,
    /// The client keys.
    pub keys: &'a Keys,
    /// The records of what was written.
    pub records: &'a Records,
}

/// What happened to one connected client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Its entries already matched the granted servers.
    Unchanged,
    /// Entries were added or removed.
    Updated {
        /// Servers whose entries were added.
        added: Vec<String>,
        /// Servers whose entries were removed.
        removed: Vec<String>,
    },
    /// Its entries were changed by hand since they were written: left alone.
    EditedByHand,
    /// It could not be updated; nothing was changed in its file.
    Failed {
        /// Stable code.
        code: &'static str,
        /// What happened and what to do.
        message: String,
    },
}

/// One connected client after following.
#[derive(Debug, Clone, Serialize)]
pub struct Followed {
    /// The client.
    pub client: ClientKind,
    /// Its name for people.
    pub display: &'static str,
    /// Its config file.
    pub config: PathBuf,
    /// What happened.
    pub outcome: Outcome,
}

/// A client's state, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClientState {
    /// No trace of it on this machine.
    NotInstalled,
    /// Installed, no entries of ours.
    NotConnected,
    /// Our entries are there as written.
    Connected {
        /// The servers it has entries for.
        servers: Vec<String>,
    },
    /// Our entries were changed by hand since they were written.
    EditedByHand,
}

/// Connects (see [`crate::connect`]) and records what was written.
pub fn connect_recorded(
    request: &Request,
    keys: &Keys,
    records: &Records,
) -> Result<Change, ConnectError> {
    let change = crate::connect(request, keys)?;
    records.wrote(&change, !request.wanted.is_empty())?;
    Ok(change)
}

/// Disconnects (see [`crate::disconnect`]) and forgets the record.
pub fn disconnect_recorded(
    kind: ClientKind,
    config: Option<&Path>,
    keys: &Keys,
    records: &Records,
) -> Result<Change, ConnectError> {
    let change = crate::disconnect(kind, config, keys)?;
    records.forget(kind, &change.config)?;
    Ok(change)
}

/// The state of `kind` (its file `config`); `installed` from detection.
pub fn state(kind: ClientKind, config: &Path, installed: bool, records: &Records) -> ClientState {
    let entries = current_entries(kind, config).unwrap_or_default();
    match records.find(kind, config).ok().flatten() {
        Some(r) if entries_digest(&entries) == r.digest => {
            ClientState::Connected { servers: r.servers }
        }
        Some(_) => ClientState::EditedByHand,
        None if !entries.is_empty() => ClientState::Connected {
            servers: entries
                .iter()
                .map(|(name, _)| name.trim_start_matches(crate::PREFIX).to_string())
                .collect(),
        },
        None if installed => ClientState::NotConnected,
        None => ClientState::NotInstalled,
    }
}

/// Brings every recorded client's entries to the granted servers. Fails
/// only when the records cannot be read; each client's own failure is its
/// outcome, and does not stop the others.
pub fn follow(f: &Follow) -> Result<Vec<Followed>, ConnectError> {
    let mut out = Vec::new();
    for record in f.records.list()? {
        let Some(kind) = ClientKind::from_name(&record.client) else {
            continue;
        };
        let outcome = follow_one(f, kind, &record).unwrap_or_else(|e| Outcome::Failed {
            code: e.code,
            message: e.message,
        });
        out.push(Followed {
            client: kind,
            display: kind.display(),
            config: record.config,
            outcome,
        });
    }
    Ok(out)
}

/// The servers a recorded client should have entries for now.
fn wanted(f: &Follow, record: &Record) -> Vec<String> {
    if record.chosen {
        record
            .servers
            .iter()
            .filter(|s| f.granted.contains(s))
            .cloned()
            .collect()
    } else {
        f.granted.to_vec()
    }
}

fn follow_one(f: &Follow, kind: ClientKind, record: &Record) -> Result<Outcome, ConnectError> {
    if entries_digest(&current_entries(kind, &record.config)?) != record.digest {
        return Ok(Outcome::EditedByHand);
    }
    let target = wanted(f, record);
    let added: Vec<String> = target
        .iter()
        .filter(|s| !record.servers.contains(s))
        .cloned()
        .collect();
    let removed: Vec<String> = record
        .servers
        .iter()
        .filter(|s| !target.contains(s))
        .cloned()
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let change = rewrite(f, kind, &record.config, &target, record.chosen)?;
    f.records.wrote(&change, record.chosen)?;
    Ok(Outcome::Updated { added, removed })
}

/// The client's live key in its file's text, if the file still holds it.
fn key_in(text: &str, kind: ClientKind, keys: &Keys) -> Option<String> {
    text.match_indices("mpk_").find_map(|(at, _)| {
        let candidate: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        keys.verify(&candidate)
            .filter(|k| k.client == kind.name())
            .map(|_| candidate)
    })
}

/// Writes exactly `servers`' entries into the client's file, with the key
/// it holds (a new one when it holds none that is live).
fn rewrite(
    f: &Follow,
    kind: ClientKind,
    config: &Path,
    servers: &[String],
    chosen: bool,
) -> Result<Change, ConnectError> {
    if servers.is_empty() {
        // No server left: our entries go; the key stays for when one comes back.
        let (mut change, old, new) = crate::preview_disconnect(kind, Some(config))?;
        crate::remove_entries(kind, config, old.as_deref(), new.as_deref())?;
        change.servers = Vec::new();
        return Ok(change);
    }
    if kind == ClientKind::ClaudeDesktop && f.exe.is_empty() {
        return Err(ConnectError::other(
            "cli_missing",
            "Claude Desktop's entries run the mcp-passport command, which was not found; install it, then connect Claude Desktop again",
        ));
    }
    let request = Request {
        kind,
        config: Some(config),
        granted: servers,
        wanted: &[],
        port: f.port,
        exe: f.exe,
    };
    // Checks the file can be edited before any key changes.
    let change = crate::preview_connect(&request)?;
    let old = crate::our_text(kind, config)?;
    let desc = client(kind);
    let key = match old.as_deref().and_then(|t| key_in(t, kind, f.keys)) {
        Some(key) => key,
        None if desc.needs_key => {
            f.keys.revoke(desc.name).map_err(keys_error)?;
            let limit = chosen.then(|| servers.to_vec());
            f.keys
                .mint(desc.name, limit, chrono::Utc::now())
                .map_err(keys_error)?
                .1
        }
        None => String::new(),
    };
    crate::write_chosen(&request, config, servers, &key)?;
    Ok(change)
}

/// A line for people about one followed client (`None` when unchanged).
pub fn describe(f: &Followed, command_hint: bool) -> Option<String> {
    let (name, path) = (f.display, f.config.display());
    match &f.outcome {
        Outcome::Unchanged => None,
        Outcome::Updated { added, removed } => {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(", ")));
            }
            Some(format!(
                "{name}: {} ({path}, the old file backed up). Restart {name} to load them.",
                parts.join("; ")
            ))
        }
        Outcome::EditedByHand => Some(if command_hint {
            format!(
                "{name}: its entries in {path} were changed by hand since MCP Passport wrote them, so they were left as they are. \
                 To let MCP Passport keep them current, run `mcp-passport connect {}` (it rewrites its passport-* entries).",
                f.client.name()
            )
        } else {
            format!(
                "{name}: its entries in {path} were changed by hand since MCP Passport wrote them, so they were left as they are. \
                 Connect it again to let MCP Passport keep them current."
            )
        }),
        Outcome::Failed { message, .. } => Some(format!("{name}: not updated: {message}")),
    }
}
