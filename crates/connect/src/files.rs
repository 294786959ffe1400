//! Reading and writing client config files: atomically, readable by the
//! user only (the file holds a key), with a backup of what was there.

use crate::ConnectError as Failure;
use std::path::{Path, PathBuf};

pub(super) fn read_config(path: &Path) -> Result<Option<String>, Failure> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::other(
            "config_unreadable",
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// Writes `bytes` atomically and durably, readable by the user only (the
/// project's one atomic replacement, `passport_core::atomic_file`).
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    passport_core::atomic_file::write(path, bytes)
        .map_err(|e| std::io::Error::new(e.source.kind(), e.to_string()))
}

/// `<file>.mcp-passport.bak`.
pub(super) fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".mcp-passport.bak");
    PathBuf::from(name)
}

/// Backs up the old text (when there was a file and it changes), then writes the new.
pub(super) fn save(path: &Path, old: Option<&str>, new: &str) -> Result<(), Failure> {
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        Failure::other(
            "config_write",
            format!("cannot {what} {}: {e}", p.display()),
        )
    };
    // Write through a symlink (dotfile managers) rather than replacing it.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(old) = old
        && old != new
    {
        let backup = backup_path(path);
        write_private(&backup, old.as_bytes()).map_err(|e| fail("back up to", &backup, e))?;
    }
    // Written even when unchanged, to tighten the mode: the file holds a key.
    write_private(&target, new.as_bytes()).map_err(|e| fail("write", &target, e))
}
