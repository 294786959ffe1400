//! Where one user's MCP Passport files live, for the command line and the
//! desktop app alike: the state directory (state file, client keys, audit
//! log) and the runtime directory (refresher lock, endpoint file).
//!
//! Without an explicit home, the state directory is `<config dir>/<name>`
//! and the runtime directory `<runtime dir>/<name>` (or `<home>/run` where
//! the system has no runtime directory, as on macOS and Windows). With an
//! explicit home (`--home`, `MCP_PASSPORT_HOME`), both live under it, so a
//! test or a second profile is wholly apart.

use std::path::PathBuf;

/// The broker's port when none is configured.
pub const DEFAULT_PORT: u16 = 8755;

/// The directory name of the everyday profile (the demo has its own).
pub const PROFILE: &str = "mcp-passport";

/// The files of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The state directory.
    pub home: PathBuf,
    /// The runtime directory.
    pub runtime: PathBuf,
}

impl Paths {
    /// Everything under an explicit home; the runtime files in `home/run`.
    pub fn under(home: PathBuf) -> Self {
        Self {
            runtime: home.join("run"),
            home,
        }
    }

    /// The user's own directories for the profile `name` ([`PROFILE`]);
    /// `None` when the system names no config directory.
    pub fn for_user(name: &str) -> Option<Self> {
        let home = dirs::config_dir()?.join(name);
        let runtime = dirs::runtime_dir()
            .map(|d| d.join(name))
            .unwrap_or_else(|| home.join("run"));
        Some(Self { home, runtime })
    }

    /// The state file (grants, clients; no secret).
    pub fn state_file(&self) -> PathBuf {
        self.home.join("state.json")
    }

    /// The client key file (digests only).
    pub fn keys_file(&self) -> PathBuf {
        self.home.join("keys.json")
    }

    /// The audit log of the broker's requests.
    pub fn audit_file(&self) -> PathBuf {
        self.home.join("audit.jsonl")
    }

    /// The broker's endpoint file (port and the CLI's key).
    pub fn endpoint_file(&self) -> PathBuf {
        self.runtime.join("endpoint.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_home_holds_everything() {
        let paths = Paths::under(PathBuf::from("profile"));
        assert_eq!(paths.state_file(), PathBuf::from("profile/state.json"));
        assert_eq!(paths.keys_file(), PathBuf::from("profile/keys.json"));
        assert_eq!(paths.audit_file(), PathBuf::from("profile/audit.jsonl"));
        assert_eq!(
            paths.endpoint_file(),
            PathBuf::from("profile/run/endpoint.json")
        );
    }
}
