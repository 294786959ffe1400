//! The non-secret state file: registered clients and grants, as JSON under
//! the user's config directory.
//!
//! It is replaced atomically ([`crate::atomic_file`]: a temporary file
//! beside it, fsync, rename, fsync the directory), so a crash leaves either
//! the old or the new file, never half of one. It holds no secret: those are
//! in the keyring.

use crate::model::{ClientRecord, Grant};
use crate::providers::ProviderQuirks;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Everything the engine remembers across restarts, minus secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassportState {
    /// Format version.
    #[serde(default = "version")]
    pub version: u32,
    /// Registered clients, one per issuer.
    #[serde(default)]
    pub clients: Vec<ClientRecord>,
    /// Grants, one per sign-in.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Per-issuer provider settings added to the built-in profiles
    /// ([`crate::providers`]): from `login` options, confirmations, or
    /// learned from an authorization server's answers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, ProviderQuirks>,
    /// How each machine grant (client credentials, workload identity) asks
    /// for its tokens again; its secret, if any, is in the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine: Vec<crate::engine::MachineGrant>,
    /// How each enterprise grant (sign-in at the organization's IdP) gets
    /// its servers' tokens again; its secrets are in the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enterprise: Vec<crate::engine::EnterpriseGrant>,
}

fn version() -> u32 {
    1
}

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateFileError {
    /// The file system refused.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was attempted.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid state (edited by hand, or from a newer version).
    #[error(
        "{path} is not a valid MCP Passport state file ({reason}); move it aside to start afresh"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The state file at one path.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file at `path` (created on first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; a missing file is the empty state.
    pub fn load(&self) -> Result<PassportState, StateFileError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(PassportState {
                    version: 1,
                    ..Default::default()
                });
            }
            Err(source) => {
                return Err(StateFileError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let state: PassportState =
            serde_json::from_slice(&bytes).map_err(|e| StateFileError::Corrupt {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        if state.version > 1 {
            return Err(StateFileError::Corrupt {
                path: self.path.clone(),
                reason: format!("version {} is newer than this program", state.version),
            });
        }
        Ok(state)
    }

    /// Replaces the state atomically (see [`crate::atomic_file`]); the file
    /// is readable by the user only. It blocks on fsync: async callers run
    /// it through [`crate::atomic_file::blocking`].
    pub fn save(&self, state: &PassportState) -> Result<(), StateFileError> {
        let json = serde_json::to_vec_pretty(state).map_err(|e| StateFileError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        // Writers hold the refresher lock: a temporary file beside it is
        // what a crash left, never another save in flight.
        crate::atomic_file::remove_leftovers(&self.path);
        crate::atomic_file::write_with(&self.path, |file| {
            file.write_all(&json)?;
            crate::fault::point("state-file-before-rename");
            Ok(())
        })
        .map_err(|e| StateFileError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{ClientAuth, Registration};

    #[test]
    fn missing_file_is_empty_state_and_save_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("sub/state.json"));
        assert_eq!(file.load().unwrap().grants.len(), 0);
        let mut state = file.load().unwrap();
        state.clients.push(ClientRecord {
            issuer: "http://127.0.0.1:1".into(),
            client_id: "c".into(),
            auth: ClientAuth::None,
            registration: Registration::Dynamic,
            redirect_uris: vec![],
        });
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(file.path()).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn corrupt_file_is_a_clear_error_not_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = StateFile::new(&path).load();
        assert!(matches!(err, Err(StateFileError::Corrupt { .. })));
    }
}
