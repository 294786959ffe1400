//! One refresher per user: an exclusive lock on a file in the runtime
//! directory. Two refreshers on one rotating grant would burn it (the
//! second presents a spent refresh token and the AS revokes the grant), so
//! whoever refreshes holds this lock, and a second holder waits or refuses.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it (and kept it past the wait).
    #[error(
        "another MCP Passport process is refreshing tokens (lock {0}); wait for it, or stop it"
    )]
    Held(PathBuf),
    /// The lock file could not be opened.
    #[error("cannot open the lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The held lock; released on drop (and by the OS if the process dies).
#[derive(Debug)]
pub struct RefresherLock {
    file: File,
    path: PathBuf,
}

impl RefresherLock {
    /// Takes the lock in `dir`, waiting up to `wait` for another holder.
    pub fn acquire(dir: &Path, wait: Duration) -> Result<Self, LockError> {
        std::fs::create_dir_all(dir).map_err(|source| LockError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("refresher.lock");
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { file, path }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25))
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Held(path)),
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(LockError::Io { path, source });
                }
            }
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RefresherLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sec_22_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = RefresherLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let second = RefresherLock::acquire(dir.path(), Duration::from_millis(100));
        assert!(matches!(second, Err(LockError::Held(_))));
        drop(first);
        assert!(RefresherLock::acquire(dir.path(), Duration::ZERO).is_ok());
    }
}
