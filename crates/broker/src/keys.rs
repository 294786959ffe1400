//! Per-client keys for the local endpoint.
//!
//! Each connected client gets its own key, shown once and stored only as a
//! SHA-256 digest, optionally limited to some servers, and revocable. A key
//! reads `mpk_<id>_<secret>`: the id finds the record, the secret is
//! compared by digest in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A client's key record (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientKey {
    /// Public id (part of the key).
    pub id: String,
    /// Which client holds it (`cursor`, `claude-code`, `mcp-passport-cli`...).
    pub client: String,
    /// Hex SHA-256 of the secret part.
    pub hash: String,
    /// Servers it may use; `None` means all granted servers.
    pub servers: Option<Vec<String>>,
    /// When it was minted.
    pub created_at: DateTime<Utc>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl ClientKey {
    /// Whether this key may use `server` (id or URL).
    pub fn allows(&self, server: &str) -> bool {
        self.servers
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| x == server))
    }
}

/// Why the key file failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing failed.
    #[error("client key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("client key file {0} is corrupt; move it aside (clients must then be connected again)")]
    Corrupt(PathBuf),
}

/// The client keys, persisted in one file. The file is the truth: `connect`
/// and `disconnect` (other processes) change it while the broker runs, so
/// it is read again whenever its modification time changes.
#[derive(Debug)]
pub struct Keys {
    path: PathBuf,
    keys: Mutex<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    keys: Vec<ClientKey>,
    modified: Option<std::time::SystemTime>,
}

fn read_file(path: &Path) -> Result<Loaded, KeyError> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let keys = match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|_| KeyError::Corrupt(path.to_path_buf()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(KeyError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(Loaded { keys, modified })
}

fn digest(secret: &str) -> String {
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` random bytes, base64url.
fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Writes `bytes` to `path` atomically, readable by the user only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn lock(m: &Mutex<Loaded>) -> std::sync::MutexGuard<'_, Loaded> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Keys {
    /// Loads the key file (missing means no keys).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, KeyError> {
        let path = path.into();
        let loaded = read_file(&path)?;
        Ok(Self {
            path,
            keys: Mutex::new(loaded),
        })
    }

    /// The current keys, read again from the file when it changed.
    fn current(&self) -> std::sync::MutexGuard<'_, Loaded> {
        let mut loaded = lock(&self.keys);
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified != loaded.modified {
            match read_file(&self.path) {
                Ok(fresh) => *loaded = fresh,
                Err(e) => {
                    tracing::warn!(error = %e, "could not reread the client key file; keeping the keys in memory")
                }
            }
        }
        loaded
    }

    fn save(&self, keys: &[ClientKey]) -> Result<(), KeyError> {
        let json =
            serde_json::to_vec_pretty(keys).map_err(|_| KeyError::Corrupt(self.path.clone()))?;
        write_private(&self.path, &json).map_err(|source| KeyError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Mints a key for `client`; returns the record and the key, which is shown once.
    pub fn mint(
        &self,
        client: &str,
        servers: Option<Vec<String>>,
        now: DateTime<Utc>,
    ) -> Result<(ClientKey, String), KeyError> {
        let mut id_bytes = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        // Hex, so the id never contains the `_` that separates it from the secret.
        let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
        let secret = random(32);
        let record = ClientKey {
            id: id.clone(),
            client: client.to_string(),
            hash: digest(&secret),
            servers,
            created_at: now,
            revoked: false,
        };
        let mut loaded = self.current();
        let mut next = loaded.keys.clone();
        next.push(record.clone());
        self.save(&next)?;
        *loaded = Loaded {
            keys: next,
            modified: std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok(),
        };
        Ok((record, format!("mpk_{id}_{secret}")))
    }

    /// The live key record for a presented key.
    pub fn verify(&self, presented: &str) -> Option<ClientKey> {
        let rest = presented.strip_prefix("mpk_")?;
        let (id, secret) = rest.split_once('_')?;
        let loaded = self.current();
        let record = loaded.keys.iter().find(|k| k.id == id && !k.revoked)?;
        same(&record.hash, &digest(secret)).then(|| record.clone())
    }

    /// Revokes every live key of `client` (or with that id); returns how many.
    pub fn revoke(&self, client_or_id: &str) -> Result<usize, KeyError> {
        let mut loaded = self.current();
        let mut next = loaded.keys.clone();
        let mut count = 0;
        for k in next
            .iter_mut()
            .filter(|k| !k.revoked && (k.client == client_or_id || k.id == client_or_id))
        {
            k.revoked = true;
            count += 1;
        }
        self.save(&next)?;
        *loaded = Loaded {
            keys: next,
            modified: std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok(),
        };
        Ok(count)
    }

    /// Every key record.
    pub fn list(&self) -> Vec<ClientKey> {
        self.current().keys.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_minted_key_verifies_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path().join("keys.json")).unwrap();
        for _ in 0..200 {
            let (record, key) = keys.mint("c", None, Utc::now()).unwrap();
            assert_eq!(keys.verify(&key).map(|k| k.id), Some(record.id));
            let mut tampered = key.clone();
            tampered.pop();
            assert!(keys.verify(&tampered).is_none());
        }
    }
}

#[cfg(test)]
mod shared_file_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_minted_or_revoked_by_another_process_take_effect_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Keys::open(dir.path().join("keys.json")).unwrap();
        let (_, own) = broker.mint("mcp-passport-cli", None, Utc::now()).unwrap();
        // `connect` in another process opens the same file and mints a key.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let other = Keys::open(dir.path().join("keys.json")).unwrap();
        let (_, cursor) = other.mint("cursor", None, Utc::now()).unwrap();
        assert!(
            broker.verify(&cursor).is_some(),
            "the broker sees the new key"
        );
        assert!(broker.verify(&own).is_some(), "and keeps its own");
        std::thread::sleep(std::time::Duration::from_millis(20));
        other.revoke("cursor").unwrap();
        assert!(
            broker.verify(&cursor).is_none(),
            "a revocation elsewhere is honoured"
        );
        assert!(broker.verify(&own).is_some());
    }
}
