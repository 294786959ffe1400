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
use std::sync::{Arc, Mutex};

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
/// it is read again whenever it changed (modification time, size or inode:
/// every write replaces the file).
#[derive(Debug)]
pub struct Keys {
    path: PathBuf,
    keys: Mutex<Loaded>,
}

/// What identifies one version of the key file without reading it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Version {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

fn version(path: &Path) -> Option<Version> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Version {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

#[derive(Debug, Default)]
struct Loaded {
    keys: Vec<Arc<ClientKey>>,
    version: Option<Version>,
    /// When the file was last looked at.
    checked: Option<std::time::Instant>,
}

/// How long a look at the key file stands for a key that verifies: a
/// revocation elsewhere takes effect within this time. A key that does not
/// verify always gets a fresh look (a key minted a moment ago works at once).
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_millis(1);

fn read_file(path: &Path) -> Result<Loaded, KeyError> {
    let version = version(path);
    let keys: Vec<ClientKey> = match std::fs::read(path) {
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
    Ok(Loaded {
        keys: keys.into_iter().map(Arc::new).collect(),
        version,
        checked: None,
    })
}

/// Lowercase hex SHA-256 of `secret`, written into a fixed buffer (no allocation).
fn digest_hex(secret: &str) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in sha2::Sha256::digest(secret.as_bytes()).iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    out
}

fn digest(secret: &str) -> String {
    String::from_utf8_lossy(&digest_hex(secret)).into_owned()
}

/// `bytes` random bytes, base64url.
fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    /// The current keys, read again from the file when it changed (the
    /// file is looked at before the lock is taken, so callers never wait on
    /// each other's `stat`).
    fn current(&self) -> std::sync::MutexGuard<'_, Loaded> {
        let now = version(&self.path);
        let mut loaded = lock(&self.keys);
        loaded.checked = Some(std::time::Instant::now());
        if now != loaded.version {
            match read_file(&self.path) {
                Ok(fresh) => *loaded = fresh,
                Err(e) => {
                    tracing::warn!(error = %e, "could not reread the client key file; keeping the keys in memory")
                }
            }
        }
        loaded
    }

    fn save(&self, keys: &[Arc<ClientKey>]) -> Result<(), KeyError> {
        let plain: Vec<&ClientKey> = keys.iter().map(|k| &**k).collect();
        let json =
            serde_json::to_vec_pretty(&plain).map_err(|_| KeyError::Corrupt(self.path.clone()))?;
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
        next.push(Arc::new(record.clone()));
        self.save(&next)?;
        *loaded = Loaded {
            keys: next,
            version: version(&self.path),
            checked: Some(std::time::Instant::now()),
        };
        Ok((record, format!("mpk_{id}_{secret}")))
    }

    /// The live key record for a presented key. The secret is hashed once,
    /// before the lock is taken; the record is shared, not copied.
    pub fn verify(&self, presented: &str) -> Option<Arc<ClientKey>> {
        let rest = presented.strip_prefix("mpk_")?;
        let (id, secret) = rest.split_once('_')?;
        let hashed = digest_hex(secret);
        let find = |loaded: &Loaded| {
            let record = loaded.keys.iter().find(|k| k.id == id && !k.revoked)?;
            same(record.hash.as_bytes(), &hashed).then(|| Arc::clone(record))
        };
        {
            let loaded = lock(&self.keys);
            if loaded.checked.is_some_and(|t| t.elapsed() < LOOK_AGAIN)
                && let Some(found) = find(&loaded)
            {
                return Some(found);
            }
        }
        find(&self.current())
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
            Arc::make_mut(k).revoked = true;
            count += 1;
        }
        self.save(&next)?;
        *loaded = Loaded {
            keys: next,
            version: version(&self.path),
            checked: Some(std::time::Instant::now()),
        };
        Ok(count)
    }

    /// Every key record.
    pub fn list(&self) -> Vec<ClientKey> {
        self.current()
            .keys
            .iter()
            .map(|k| ClientKey::clone(k))
            .collect()
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
            assert_eq!(keys.verify(&key).map(|k| k.id.clone()), Some(record.id));
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

#[cfg(test)]
mod fresh_look_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_key_minted_elsewhere_verifies_right_after_a_verified_one() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Keys::open(dir.path().join("keys.json")).unwrap();
        let (_, own) = broker.mint("mcp-passport-cli", None, Utc::now()).unwrap();
        let other = Keys::open(dir.path().join("keys.json")).unwrap();
        // No pause: the broker has just looked at the file, and the new
        // file may carry the same modification time.
        assert!(broker.verify(&own).is_some());
        let (_, cursor) = other.mint("cursor", None, Utc::now()).unwrap();
        assert!(
            broker.verify(&cursor).is_some(),
            "a key that does not verify gets a fresh look at the file"
        );
        assert!(broker.verify("mpk_0000_nothing").is_none());
    }
}
