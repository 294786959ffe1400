//! Connecting and disconnecting one client: its entries rendered with a
//! new key, previewed as data ([`Change`]), written in the client's format
//! after a backup, and removed again.

use super::{
    Change, ClientKind, ConnectError, Entry, PLACEHOLDER, PREFIX, Rendered, Request, chosen,
    client, config_path, container, edit_error, entry_name, keys_error, proxy_url,
};
use crate::files::{read_config, save};
use crate::format::{Format, current_entries};
use crate::jsonedit::Node;
use crate::preview::compact;
use crate::{continue_dev, format, print};
use passport_broker::keys::Keys;
use serde_json::Value;
use std::path::Path;

/// The new file text with `key` in each entry, and the entries.
pub(crate) fn render(
    request: &Request,
    path: &Path,
    old: Option<&str>,
    chosen: &[String],
    key: &str,
) -> Result<(String, Vec<Rendered>), ConnectError> {
    write_entries(
        request.kind,
        path,
        old,
        render_entries(request, chosen, key),
    )
}

/// One entry per chosen server, pointing at the proxy with `key`.
pub(crate) fn render_entries(request: &Request, chosen: &[String], key: &str) -> Vec<Rendered> {
    let client = client(request.kind);
    chosen
        .iter()
        .map(|id| {
            let proxy = proxy_url(request.port, id);
            let entry = Entry {
                id,
                proxy: &proxy,
                key,
                exe: request.exe,
            };
            (entry_name(id), (client.entry)(&entry))
        })
        .collect()
}

/// The entries as values to write, members in order.
pub(crate) fn nodes(entries: &[Rendered]) -> Vec<(String, Node)> {
    entries
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
        .collect()
}

/// The new file text with `entries` as our entries (every other byte kept).
pub(crate) fn write_entries(
    kind: ClientKind,
    path: &Path,
    old: Option<&str>,
    entries: Vec<Rendered>,
) -> Result<(String, Vec<Rendered>), ConnectError> {
    let text = format::set_members(
        client(kind).format,
        old.unwrap_or(""),
        container(kind, old),
        &entries,
    )
    .map_err(|e| edit_error(path, e))?;
    Ok((text, entries))
}

pub(crate) fn texts(entries: Vec<(String, Value)>) -> Vec<(String, String)> {
    entries
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

/// What connecting would change; writes nothing and mints no key.
pub fn preview_connect(request: &Request) -> Result<Change, ConnectError> {
    let path = config_path(request.kind, request.config)?;
    let chosen = chosen(request)?;
    if client(request.kind).format == Format::YamlDir {
        let entries = render_entries(request, &chosen, PLACEHOLDER);
        return continue_dev::preview(request.kind, path, chosen, &entries);
    }
    let old = read_config(&path)?;
    let (_, entries) = render(request, &path, old.as_deref(), &chosen, PLACEHOLDER)?;
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
        config: path,
        servers: chosen,
        revoked_keys: 0,
    })
}

/// Connects: replaces the client's key (limited to `wanted` when given)
/// and writes one entry per chosen server, backing the file up first.
pub fn connect(request: &Request, keys: &Keys) -> Result<Change, ConnectError> {
    // Checks the file can be edited before any key changes.
    let change = preview_connect(request)?;
    let client = client(request.kind);
    let key = if client.needs_key {
        keys.revoke(client.name).map_err(keys_error)?;
        let limit = (!request.wanted.is_empty()).then(|| change.servers.clone());
        let (_, key) = keys
            .mint(client.name, limit, chrono::Utc::now())
            .map_err(keys_error)?;
        key
    } else {
        String::new()
    };
    write_chosen(request, &change.config, &change.servers, &key)?;
    Ok(change)
}

/// Writes exactly `servers`' entries, with `key`, into the client's file
/// (backed up first) or folder.
pub(crate) fn write_chosen(
    request: &Request,
    config: &Path,
    servers: &[String],
    key: &str,
) -> Result<(), ConnectError> {
    if client(request.kind).format == Format::YamlDir {
        return continue_dev::write(config, &render_entries(request, servers, key));
    }
    let old = read_config(config)?;
    let (text, _) = render(request, config, old.as_deref(), servers, key)?;
    save(config, old.as_deref(), &text)
}

/// The text that holds our entries: the client's file, or our files in its
/// folder; `None` when there is none.
pub(crate) fn our_text(kind: ClientKind, config: &Path) -> Result<Option<String>, ConnectError> {
    if client(kind).format == Format::YamlDir {
        return continue_dev::our_text(config);
    }
    read_config(config)
}

/// What disconnecting would remove; writes nothing.
pub fn preview_disconnect(
    kind: ClientKind,
    config: Option<&Path>,
) -> Result<(Change, Option<String>, Option<String>), ConnectError> {
    let client = client(kind);
    let path = config_path(kind, config)?;
    if client.format == Format::YamlDir {
        return Ok((continue_dev::preview_disconnect(kind, path)?, None, None));
    }
    let old = read_config(&path)?;
    let container = container(kind, old.as_deref());
    let before = current_entries(client.format, old.as_deref(), container);
    let servers = before
        .iter()
        .map(|(k, _)| k.trim_start_matches(PREFIX).to_string())
        .collect();
    let new = match &old {
        Some(text) => Some(
            format::remove_prefixed(client.format, text, container)
                .map_err(|e| edit_error(&path, e))?,
        ),
        None => None,
    };
    let change = Change {
        client: kind,
        display: client.display,
        config: path,
        servers,
        before: texts(before),
        after: Vec::new(),
        revoked_keys: 0,
    };
    Ok((change, old, new))
}

/// Disconnects: removes every `passport-*` entry and revokes the client's keys.
pub fn disconnect(
    kind: ClientKind,
    config: Option<&Path>,
    keys: &Keys,
) -> Result<Change, ConnectError> {
    if kind == ClientKind::Jetbrains && config.is_none() {
        // Its entries were pasted by hand: cutting it off is revoking its key.
        return print::revoke(kind, keys);
    }
    let (mut change, old, new) = preview_disconnect(kind, config)?;
    remove_entries(kind, &change.config, old.as_deref(), new.as_deref())?;
    change.revoked_keys = keys.revoke(client(kind).name).map_err(keys_error)?;
    Ok(change)
}

/// Removes our entries: the file's new text `new` written over `old`
/// (from `preview_disconnect`), or our files deleted from the folder.
pub(crate) fn remove_entries(
    kind: ClientKind,
    config: &Path,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<(), ConnectError> {
    if client(kind).format == Format::YamlDir {
        return continue_dev::remove(config);
    }
    if let (Some(old), Some(new)) = (old, new)
        && old != new
    {
        save(config, Some(old), new)?;
    }
    Ok(())
}
