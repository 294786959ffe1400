//! `disconnect --restore`: the file put back as it was before the first
//! import, only when our entries are the only change since.

use super::*;

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
