//! Per-client keys for the local endpoint.
//!
//! Each connected client gets its own key, shown once and stored only as a
//! SHA-256 digest, optionally limited to some servers, and revocable. A key
//! reads `mpk_<id>_<secret>`: the id finds the record, the secret is
//! compared by digest in constant time.
//!
//! The file is shared by processes: the broker mints the CLI's key,
//! `mcp-passport connect`/`disconnect` and the desktop app mint and revoke
//! clients' keys. Every change is a read-modify-write under an advisory
//! lock on `keys.json.lock` beside the file, reading the file afresh under
//! the lock and replacing it atomically ([`passport_core::atomic_file`]), so
//! concurrent changes neither corrupt the file nor lose each other's keys.
//!
//! Revoked records do not pile up: the [`KEEP_REVOKED`] most recently
//! revoked are kept (so `mcp-passport clients --json` still lists them for a
//! while), older ones are dropped. Either way a revoked key gets the same
//! 401 as an unknown one. The broker's own key is replaced at each start,
//! its old records removed, not kept as revoked ones.

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
    /// When it was revoked (absent in files written before this was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How many revoked records the file keeps, the most recently revoked.
pub const KEEP_REVOKED: usize = 32;

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
    /// The lock beside the file could not be taken.
    #[error("cannot lock the client key file {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
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

/// A new record for `client` and its key (`mpk_<id>_<secret>`).
fn new_key(client: &str, servers: Option<Vec<String>>, now: DateTime<Utc>) -> (ClientKey, String) {
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
        revoked_at: None,
    };
    (record, format!("mpk_{id}_{secret}"))
}

/// Drops revoked records beyond the [`KEEP_REVOKED`] most recently revoked
/// (records from before `revoked_at` was kept count by when they were minted).
fn prune(keys: &mut Vec<ClientKey>) {
    let mut revoked: Vec<(DateTime<Utc>, usize)> = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.revoked)
        .map(|(i, k)| (k.revoked_at.unwrap_or(k.created_at), i))
        .collect();
    if revoked.len() <= KEEP_REVOKED {
        return;
    }
    // Newest first; among equal times, the later record.
    revoked.sort_unstable_by(|a, b| b.cmp(a));
    let mut drop = vec![false; keys.len()];
    for (_, i) in &revoked[KEEP_REVOKED..] {
        drop[*i] = true;
    }
    let mut dropped = drop.into_iter();
    keys.retain(|_| !dropped.next().unwrap_or(false));
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

    /// The lock file beside the key file.
    fn lock_path(&self) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_else(|| "keys.json".into());
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// Runs one read-modify-write of the file: takes the lock (waiting for
    /// other processes), reads the file afresh, applies `change`, drops old
    /// revoked records, writes the file atomically, and shows the result to
    /// this process's readers. Blocking: async callers wrap it in
    /// [`passport_core::atomic_file::blocking`].
    fn change<T>(&self, change: impl FnOnce(&mut Vec<ClientKey>) -> T) -> Result<T, KeyError> {
        let lock_path = self.lock_path();
        let lock_error = |source| KeyError::Lock {
            path: lock_path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(lock_error)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let lock_file = options.open(&lock_path).map_err(lock_error)?;
        lock_file.lock().map_err(lock_error)?;
        let mut keys: Vec<ClientKey> = read_file(&self.path)?
            .keys
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect();
        let out = change(&mut keys);
        prune(&mut keys);
        let json =
            serde_json::to_vec_pretty(&keys).map_err(|_| KeyError::Corrupt(self.path.clone()))?;
        // Under the lock, a temporary file beside it is what a crash left.
        passport_core::atomic_file::remove_leftovers(&self.path);
        passport_core::atomic_file::write(&self.path, &json).map_err(|e| KeyError::Io {
            path: self.path.clone(),
            source: e.source,
        })?;
        let version = version(&self.path);
        drop(lock_file);
        *lock(&self.keys) = Loaded {
            keys: keys.into_iter().map(Arc::new).collect(),
            version,
            checked: Some(std::time::Instant::now()),
        };
        Ok(out)
    }

    /// Mints a key for `client`; returns the record and the key, which is shown once.
    pub fn mint(
        &self,
        client: &str,
        servers: Option<Vec<String>>,
        now: DateTime<Utc>,
    ) -> Result<(ClientKey, String), KeyError> {
        let (record, key) = new_key(client, servers, now);
        self.change(|keys| keys.push(record.clone()))?;
        Ok((record, key))
    }

    /// Mints a key for `client` and removes every other record of that
    /// client, live or revoked, in one change: for a key that has one holder
    /// at a time (the broker's own key, replaced at each start).
    pub fn replace(
        &self,
        client: &str,
        servers: Option<Vec<String>>,
        now: DateTime<Utc>,
    ) -> Result<(ClientKey, String), KeyError> {
        let (record, key) = new_key(client, servers, now);
        self.change(|keys| {
            keys.retain(|k| k.client != client);
            keys.push(record.clone());
        })?;
        Ok((record, key))
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
        let now = Utc::now();
        self.change(|keys| {
            let mut count = 0;
            for k in keys
                .iter_mut()
                .filter(|k| !k.revoked && (k.client == client_or_id || k.id == client_or_id))
            {
                k.revoked = true;
                k.revoked_at = Some(now);
                count += 1;
            }
            count
        })
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
mod tests;
