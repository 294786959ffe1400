//! A client's entries for the servers found replaced by ours, with what
//! was there kept beside the file for `disconnect --restore`.

use super::*;

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
pub(super) fn repointed_text(
    r: &Repoint,
    old: &str,
    key: &str,
) -> Result<(String, Repointed), ConnectError> {
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

pub(super) fn read_existing(path: &Path) -> Result<String, ConnectError> {
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
pub(super) fn record_path(config: &Path) -> PathBuf {
    with_suffix(config, ".mcp-passport-import.json")
}

pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The names an import replaced (no secret: names only).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) replaced: Vec<String>,
}

pub(super) fn read_record(config: &Path) -> Result<Option<Record>, ConnectError> {
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

pub(super) fn write_failed(path: &Path, e: &std::io::Error) -> ConnectError {
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
