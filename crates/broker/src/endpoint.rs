//! The endpoint file: how the CLI (`token`, `headers`, `stdio`, the admin
//! calls) finds the running broker. One typed struct, written by the broker
//! at start ([`write`], atomically, readable by the user only) and read by
//! everyone else ([`read`]); it goes away when the broker stops.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the endpoint file says about the running broker.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The CLI's own key (`mpk_...`), accepted by the admin API.
    pub key: String,
    /// The broker's process id.
    pub pid: u32,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("port", &self.port)
            .field("key", &"[redacted]")
            .field("pid", &self.pid)
            .finish()
    }
}

/// Reads the endpoint file; `None` when there is none or it is not valid
/// (a broker that is starting or stopping, or a file from another version).
pub fn read(path: &Path) -> Option<Endpoint> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the endpoint file atomically, readable by the user only.
pub fn write(path: &Path, endpoint: &Endpoint) -> Result<(), std::io::Error> {
    let json = serde_json::to_vec(endpoint).map_err(std::io::Error::other)?;
    // One broker per user (it holds the refresher lock): a temporary file
    // beside it is what a crashed broker left.
    passport_core::atomic_file::remove_leftovers(path);
    passport_core::atomic_file::write(path, &json).map_err(|e| e.source)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn what_is_written_reads_back_and_anything_else_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/endpoint.json");
        assert_eq!(read(&path), None);
        let endpoint = Endpoint {
            port: 8755,
            key: "mpk_00_secret".into(),
            pid: 42,
        };
        write(&path, &endpoint).unwrap();
        assert_eq!(read(&path), Some(endpoint.clone()));
        assert!(!format!("{endpoint:?}").contains("secret"));
        std::fs::write(&path, br#"{"port": 70000, "key": "k", "pid": 1}"#).unwrap();
        assert_eq!(read(&path), None, "a port out of range");
        std::fs::write(&path, b"{").unwrap();
        assert_eq!(read(&path), None);
    }
}
