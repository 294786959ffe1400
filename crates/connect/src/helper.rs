//! `connect claude-code --helper`: entries that point Claude Code at each
//! server itself, not at the local proxy, with Claude Code's `headersHelper`
//! running `mcp-passport headers <id>` for a fresh token whenever it
//! connects. No key is minted: no proxy is in the path. Claude Code runs the
//! helper through the shell, so each word is quoted where it needs to be.
//!
//! `disconnect` removes these entries like any other `passport-*` entry.

use super::{
    Change, ClientKind, ConnectError, Rendered, Request, chosen, client, config_path, container,
    entry_name, keys_error, texts, write_entries,
};
use crate::files::{read_config, save};
use crate::format::current_entries;
use crate::preview::compact;
use passport_broker::keys::Keys;
use serde_json::json;

/// What the helper entries are built from.
#[derive(Debug, Clone)]
pub struct Helper<'a> {
    /// Each granted server's own URL, by address (`<id>`, `<id>@<label>`).
    pub urls: &'a [(String, String)],
    /// The program and global options that run `mcp-passport`; the helper
    /// is this followed by `headers <address>`.
    pub command: &'a [String],
}

/// The clients with a headers helper (Claude Code only).
pub fn supported(kind: ClientKind) -> bool {
    kind == ClientKind::ClaudeCode
}

/// One word for the shell, quoted when it holds anything but plain
/// characters (POSIX single quotes; double quotes on Windows).
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=+,".contains(c));
    if plain {
        word.to_string()
    } else if cfg!(windows) {
        format!("\"{}\"", word.replace('"', "\"\""))
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The helper command for one server.
pub fn command_line(command: &[String], address: &str) -> String {
    command
        .iter()
        .map(String::as_str)
        .chain(["headers", address])
        .map(shell_word)
        .collect::<Vec<_>>()
        .join(" ")
}

fn entries(request: &Request, helper: &Helper) -> Result<Vec<Rendered>, ConnectError> {
    if !supported(request.kind) {
        return Err(ConnectError::other(
            "no_helper",
            format!(
                "{} has no headers helper; connect it without --helper (its entries go \
                 through the local proxy)",
                request.kind.display()
            ),
        ));
    }
    if helper.command.is_empty() {
        return Err(ConnectError::other(
            "no_exe",
            "the mcp-passport command to run as the helper is not known",
        ));
    }
    chosen(request)?
        .iter()
        .map(|id| {
            let url = helper
                .urls
                .iter()
                .find(|(address, _)| address == id)
                .map(|(_, url)| url)
                .ok_or_else(|| {
                    ConnectError::other(
                        "no_url",
                        format!(
                            "{id}'s own URL is not known, so it cannot be reached without \
                             the proxy; connect without --helper"
                        ),
                    )
                })?;
            let fields = vec![
                ("type", json!("http")),
                ("url", json!(url)),
                ("headersHelper", json!(command_line(helper.command, id))),
            ];
            Ok((entry_name(id), fields))
        })
        .collect()
}

/// What connecting with the helper would change; writes nothing.
pub fn preview(request: &Request, helper: &Helper) -> Result<Change, ConnectError> {
    let entries = entries(request, helper)?;
    let path = config_path(request.kind, request.config)?;
    let old = read_config(&path)?;
    let (_, entries) = write_entries(request.kind, &path, old.as_deref(), entries)?;
    Ok(Change {
        client: request.kind,
        display: client(request.kind).display,
        before: texts(current_entries(
            client(request.kind).format,
            old.as_deref(),
            container(request.kind, old.as_deref()),
        )),
        after: entries
            .iter()
            .map(|(name, fields)| (name.clone(), compact(fields)))
            .collect(),
        servers: entries
            .iter()
            .map(|(name, _)| name.trim_start_matches(super::PREFIX).to_string())
            .collect(),
        config: path,
        revoked_keys: 0,
    })
}

/// Connects with the helper: writes one entry per chosen server (backing
/// the file up first) and revokes the client's key, which no entry uses now.
pub fn connect(request: &Request, helper: &Helper, keys: &Keys) -> Result<Change, ConnectError> {
    let mut change = preview(request, helper)?;
    let old = read_config(&change.config)?;
    let (text, _) = write_entries(
        request.kind,
        &change.config,
        old.as_deref(),
        entries(request, helper)?,
    )?;
    save(&change.config, old.as_deref(), &text)?;
    change.revoked_keys = keys.revoke(client(request.kind).name).map_err(keys_error)?;
    Ok(change)
}
