//! What MCP Passport wrote into each client's file: the file, the servers,
//! a digest of our entries as written, whether the user chose the servers,
//! and when. It tells "connected" from "edited by hand since" (the entries
//! no longer match the digest) and which clients follow added and revoked
//! servers ([`crate::follow`]).
//!
//! The file (`clients.json` in the user's MCP Passport folder, no secret in
//! it) is shared by the command line and the app: every change is a
//! read-modify-write under an advisory lock on `clients.json.lock`, and the
//! file is replaced atomically ([`passport_core::atomic_file`]), as the key
//! file is.

use crate::{Change, ClientKind, ConnectError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// One client's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The client's name (`cursor`...).
    pub client: String,
    /// The config file written.
    pub config: PathBuf,
    /// The servers whose entries were written.
    #[serde(default)]
    pub servers: Vec<String>,
    /// Hex SHA-256 of our entries as written (see [`entries_digest`]).
    pub digest: String,
    /// Whether the user chose the servers (`connect --servers`): then only
    /// revocations are followed, never additions.
    #[serde(default)]
    pub chosen: bool,
    /// When they were written.
    pub written_at: DateTime<Utc>,
}

/// The digest of a file's `passport-*` entries, as a [`Change`]'s `before`
/// lists them (name and text, keys hidden): what "edited by hand since" is
/// decided on.
pub fn entries_digest(entries: &[(String, String)]) -> String {
    let mut hash = sha2::Sha256::new();
    for (name, text) in entries {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Our entries in `kind`'s file now, keys hidden.
pub fn current_entries(
    kind: ClientKind,
    config: &Path,
) -> Result<Vec<(String, String)>, ConnectError> {
    Ok(crate::preview_disconnect(kind, Some(config))?.0.before)
}

/// The path made absolute (a relative `--config` is recorded as the file it named).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The record file.
#[derive(Debug, Clone)]
pub struct Records {
    path: PathBuf,
}

fn failure(what: &str, path: &Path, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::other(
        "records",
        format!(
            "cannot {what} {}: {e}. Check the permissions of MCP Passport's folder",
            path.display()
        ),
    )
}

impl Records {
    /// The record file `path` (`clients.json` beside the key file).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The records in MCP Passport's folder `home`.
    pub fn in_home(home: &Path) -> Self {
        Self::new(home.join("clients.json"))
    }

    /// Every record (none when the file is missing).
    pub fn list(&self) -> Result<Vec<Record>, ConnectError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                failure(
                    "read (delete it to start afresh; it holds no secret)",
                    &self.path,
                    e,
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(failure("read", &self.path, e)),
        }
    }

    /// The record of `client` at `config`.
    pub fn find(&self, client: ClientKind, config: &Path) -> Result<Option<Record>, ConnectError> {
        Ok(self
            .list()?
            .into_iter()
            .find(|r| r.client == client.name() && r.config == absolute(config)))
    }

    /// Records what a connect (or a follow) wrote: the entries now in the
    /// file, read back.
    pub fn wrote(&self, change: &Change, chosen: bool) -> Result<Record, ConnectError> {
        let entries = current_entries(change.client, &change.config)?;
        let record = Record {
            client: change.client.name().to_string(),
            config: absolute(&change.config),
            servers: change.servers.clone(),
            digest: entries_digest(&entries),
            chosen,
            written_at: Utc::now(),
        };
        let kept = record.clone();
        self.change(move |all| {
            match all
                .iter_mut()
                .find(|r| r.client == record.client && r.config == record.config)
            {
                Some(old) => *old = record,
                None => all.push(record),
            }
        })?;
        Ok(kept)
    }

    /// Forgets `client` at `config` (after a disconnect).
    pub fn forget(&self, client: ClientKind, config: &Path) -> Result<(), ConnectError> {
        let config = absolute(config);
        self.change(|all| all.retain(|r| !(r.client == client.name() && r.config == config)))
    }

    /// One read-modify-write under the lock, the file replaced atomically.
    fn change(&self, change: impl FnOnce(&mut Vec<Record>)) -> Result<(), ConnectError> {
        let mut name = self
            .path
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_else(|| "clients.json".into());
        name.push(".lock");
        let lock_path = self.path.with_file_name(name);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| failure("create", dir, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let lock_file = options
            .open(&lock_path)
            .map_err(|e| failure("open", &lock_path, e))?;
        lock_file
            .lock()
            .map_err(|e| failure("lock", &lock_path, e))?;
        let mut all = self.list()?;
        change(&mut all);
        let json = serde_json::to_vec_pretty(&all).map_err(|e| failure("write", &self.path, e))?;
        passport_core::atomic_file::write(&self.path, &json)
            .map_err(|e| failure("write", &self.path, e))?;
        drop(lock_file);
        Ok(())
    }
}
