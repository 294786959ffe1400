//! Continue: one YAML block per server in `~/.continue/mcpServers/`
//! (`$CONTINUE_GLOBAL_DIR/mcpServers/` when set), each
//! `{name, version, schema: v1, mcpServers: [{name, type: streamable-http,
//! url, requestOptions: {headers}}]}` (Continue ignores a plain `headers`
//! there). The folder is the user's; the files `passport-<id>.yaml` that
//! start with our mark are ours entirely: connect writes one per chosen
//! server and removes our others, disconnect deletes exactly those. A file
//! of that name without our mark is the user's and is never touched.

use super::{Change, Client, ConnectError, Entry, PREFIX, Rendered, bearer, entry_name};
use crate::files::write_private;
use crate::format::Format;
use crate::preview::{compact, redact};
use crate::yamledit::{field, list_item, parse};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn default_path() -> Option<PathBuf> {
    let home = match std::env::var_os("CONTINUE_GLOBAL_DIR").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home),
        None => dirs::home_dir()?.join(".continue"),
    };
    Some(home.join("mcpServers"))
}

/// Continue.
pub(super) const CLIENT: Client = Client {
    name: "continue",
    display: "Continue",
    container: "mcpServers",
    default_path,
    entry: |e: &Entry| {
        vec![
            ("name", json!(entry_name(e.id))),
            ("type", json!("streamable-http")),
            ("url", json!(e.proxy)),
            ("requestOptions", json!({"headers": bearer(e.key)})),
        ]
    },
    needs_key: true,
    format: Format::YamlDir,
};

/// The first line of every file we write.
const MARK: &str = "# Written by MCP Passport";

fn failure(code: &'static str, message: String) -> ConnectError {
    ConnectError::other(code, message)
}

/// `passport-<id>.yaml`, for a name that is safe as a file name.
fn file_for(dir: &Path, name: &str) -> Result<PathBuf, ConnectError> {
    let safe = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !safe || name.starts_with('.') {
        return Err(failure(
            "config_invalid",
            format!("{name} cannot be a file name; connect the other servers with --servers"),
        ));
    }
    Ok(dir.join(format!("{name}.yaml")))
}

/// The file for one server.
pub(super) fn document(name: &str, fields: &[(&str, Value)]) -> String {
    let id = name.trim_start_matches(PREFIX);
    format!(
        "{MARK}; `mcp-passport disconnect continue` removes it.\n{}{}{}mcpServers:\n{}",
        field("name", &json!(format!("{id} (MCP Passport)")), 0, "\n"),
        field("version", &json!("0.0.1"), 0, "\n"),
        field("schema", &json!("v1"), 0, "\n"),
        list_item(fields, 2, "\n"),
    )
}

/// Our files in the folder (a missing folder has none), with their text.
fn ours(dir: &Path) -> Result<Vec<(PathBuf, String)>, ConnectError> {
    let unreadable = |e: std::io::Error| {
        failure(
            "config_unreadable",
            format!("cannot read {}: {e}", dir.display()),
        )
    };
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(e)),
    };
    let mut found = Vec::new();
    for item in listing {
        let path = item.map_err(unreadable)?.path();
        let named = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".yaml"));
        if !named || !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(unreadable)?;
        if text.starts_with(MARK) {
            found.push((path, text));
        }
    }
    found.sort();
    Ok(found)
}

/// Our entries as the preview shows them, keys hidden.
fn entries(files: &[(PathBuf, String)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(path, text)| {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let server = parse(text)
                .ok()
                .and_then(|v| v["mcpServers"].get(0).cloned())
                .map_or_else(|| "(unreadable)".to_string(), |v| redact(&v).to_string());
            (stem, server)
        })
        .collect()
}

/// What connecting writes into the folder `dir`; changes nothing.
pub(super) fn preview(
    kind: super::ClientKind,
    dir: PathBuf,
    servers: Vec<String>,
    rendered: &[Rendered],
) -> Result<Change, ConnectError> {
    let mine = ours(&dir)?;
    for (name, _) in rendered {
        let file = file_for(&dir, name)?;
        if file.exists() && !mine.iter().any(|(p, _)| *p == file) {
            return Err(failure(
                "config_conflict",
                format!(
                    "{} was not written by MCP Passport; rename it, then connect again. Nothing was changed",
                    file.display()
                ),
            ));
        }
    }
    Ok(Change {
        client: kind,
        display: CLIENT.display,
        before: entries(&mine),
        after: rendered
            .iter()
            .map(|(name, fields)| (name.clone(), compact(fields)))
            .collect(),
        config: dir,
        servers,
        revoked_keys: 0,
    })
}

/// Writes one file per entry (readable by the user only: it holds the
/// key) and removes our files for servers no longer chosen.
pub(super) fn write(dir: &Path, rendered: &[Rendered]) -> Result<(), ConnectError> {
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        failure(
            "config_write",
            format!("cannot {what} {}: {e}", p.display()),
        )
    };
    let stale = ours(dir)?;
    let mut written = Vec::new();
    for (name, fields) in rendered {
        let file = file_for(dir, name)?;
        write_private(&file, document(name, fields).as_bytes())
            .map_err(|e| fail("write", &file, e))?;
        written.push(file);
    }
    for (path, _) in stale {
        if !written.contains(&path) {
            std::fs::remove_file(&path).map_err(|e| fail("remove", &path, e))?;
        }
    }
    Ok(())
}

/// What disconnecting removes from `dir`; changes nothing.
pub(super) fn preview_disconnect(
    kind: super::ClientKind,
    dir: PathBuf,
) -> Result<Change, ConnectError> {
    let mine = ours(&dir)?;
    let before = entries(&mine);
    Ok(Change {
        client: kind,
        display: CLIENT.display,
        servers: before
            .iter()
            .map(|(k, _)| k.trim_start_matches(PREFIX).to_string())
            .collect(),
        before,
        after: Vec::new(),
        config: dir,
        revoked_keys: 0,
    })
}

/// The text of our files in `dir`, one after another (where a key is looked for).
pub(super) fn our_text(dir: &Path) -> Result<Option<String>, ConnectError> {
    let mine = ours(dir)?;
    Ok((!mine.is_empty()).then(|| mine.into_iter().map(|(_, text)| text).collect()))
}

/// Deletes our files in `dir`, and no other.
pub(super) fn remove(dir: &Path) -> Result<(), ConnectError> {
    for (path, _) in ours(dir)? {
        std::fs::remove_file(&path).map_err(|e| {
            failure(
                "config_write",
                format!("cannot remove {}: {e}", path.display()),
            )
        })?;
    }
    Ok(())
}
