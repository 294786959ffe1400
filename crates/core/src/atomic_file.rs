//! Replacing one of the program's own files so that a reader, or a crash,
//! only ever sees the old file or the new one, never half of either.
//!
//! [`write`] creates a temporary file in the target's folder (a unique name,
//! so concurrent writers never share one; mode 0600 on Unix from its
//! creation, before any byte is written), writes the bytes, fsyncs the file,
//! renames it over the target, and fsyncs the folder so the rename itself
//! survives a power cut. A failure at any step removes the temporary file.
//!
//! It makes a write atomic, not a read-modify-write: callers that read,
//! change and write back a file other processes also change must hold a lock
//! across the whole sequence (the client key file does).
//!
//! Everything here blocks (fsync can take long on a slow disk): async
//! callers run it through [`blocking`].

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a file could not be replaced.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct AtomicWriteError {
    /// What was attempted (`create`, `write`, `sync`, `replace`).
    pub action: &'static str,
    /// The file the step was about (the target, or its folder).
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

impl AtomicWriteError {
    fn new(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Replaces `path` with `bytes` atomically and durably; the new file is
/// readable and writable by the user only. Missing parent folders are
/// created. When it fails, `path` is as it was and no temporary file stays.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    write_with(path, |file| file.write_all(bytes))
}

/// Like [`write`], with the content written by `fill` into the open
/// temporary file.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), AtomicWriteError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| AtomicWriteError::new("create", dir, e))?;
    let (mut file, tmp) = create_temporary(path, dir)?;
    let written = fill(&mut file)
        .map_err(|e| AtomicWriteError::new("write", path, e))
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| AtomicWriteError::new("sync", path, e))
        });
    drop(file);
    let renamed = written.and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| AtomicWriteError::new("replace", path, e))
    });
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir).map_err(|e| AtomicWriteError::new("sync", dir, e))
}

/// A new, empty temporary file beside `path`: `.<name>.<random>.tmp`,
/// created exclusively (never an existing file, never through a link).
fn create_temporary(path: &Path, dir: &Path) -> Result<(std::fs::File, PathBuf), AtomicWriteError> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut last = None;
    for _ in 0..16 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&tmp) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(AtomicWriteError::new("create", &tmp, e)),
        }
    }
    Err(AtomicWriteError::new(
        "create",
        path,
        last.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
    ))
}

/// Removes temporary files a crashed writer of `path` left beside it. Only
/// for a writer that excludes every other writer of `path` (it holds a lock
/// they all take): it would otherwise remove another's file in flight.
pub fn remove_leftovers(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let ours = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .is_some_and(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit()));
        if ours {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Makes a rename in `dir` durable (Unix; elsewhere the rename is enough).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Runs `work`, which blocks (a file write and its fsync, a keyring call),
/// without holding up the async workers: on a multi-threaded Tokio runtime
/// the worker hands its other tasks to another thread first; elsewhere (no
/// runtime, or a single-threaded one, which serves nobody else) it simply
/// runs.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_file_is_replaced_whole_private_and_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/keys.json");
        write(&path, b"first").unwrap();
        write(&path, b"second, longer than the first").unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"second, longer than the first"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(entries(&dir.path().join("sub")), ["keys.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_temporary_file_is_private_before_any_byte_is_written() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("endpoint.json");
        let mut seen = None;
        write_with(&path, |file| {
            seen = Some((
                file.metadata()?.permissions().mode() & 0o777,
                file.metadata()?.len(),
            ));
            file.write_all(b"{}")
        })
        .unwrap();
        assert_eq!(seen, Some((0o600, 0)));
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write(&path, b"old").unwrap();
        let err = write_with(&path, |file| {
            file.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.action, "write");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["state.json"]);
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: the rename fails.
        let path = dir.path().join("taken");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"x").unwrap();
        let err = write(&path, b"new").unwrap_err();
        assert_eq!(err.action, "replace");
        assert_eq!(entries(dir.path()), ["taken"]);
    }

    #[test]
    fn leftovers_of_a_crashed_writer_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write(&path, b"{}").unwrap();
        for name in [
            ".state.json.0123456789abcdef.tmp",
            ".keys.json.0123456789abcdef.tmp",
            ".state.json.notours.tmp",
            "state.json.tmp",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_leftovers(&path);
        assert_eq!(
            entries(dir.path()),
            [
                ".keys.json.0123456789abcdef.tmp",
                ".state.json.notours.tmp",
                "state.json",
                "state.json.tmp"
            ]
        );
    }

    #[test]
    fn concurrent_writers_never_leave_a_mixed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::thread::scope(|s| {
            for n in 0..8u8 {
                let path = &path;
                s.spawn(move || {
                    let body = vec![b'a' + n; 64 * 1024];
                    for _ in 0..20 {
                        write(path, &body).unwrap();
                    }
                });
            }
        });
        let last = std::fs::read(&path).unwrap();
        assert_eq!(last.len(), 64 * 1024);
        assert!(last.iter().all(|b| *b == last[0]), "bytes of two writers");
        assert_eq!(entries(dir.path()), ["keys.json"]);
    }
}
