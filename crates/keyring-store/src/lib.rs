//! MCP Passport's [`TokenStore`] on the OS keyring: the Secret Service on
//! Linux, the Keychain on macOS, the Credential Manager on Windows.
//!
//! Items live under one service name (the app identifier, so tests use
//! their own) with the [`StoreKey::account`] as the user name. When the
//! keyring cannot be reached, every call fails with a typed
//! [`StoreError`]; there is deliberately no fallback to a file, because a
//! token manager that quietly writes refresh tokens to disk is worse than
//! one that stops and says why.

use passport_core::store::{StoreError, StoreKey, TokenStore};

/// The OS keyring, namespaced by an app identifier.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
}

impl KeyringStore {
    /// A store whose items are filed under `app_identifier`
    /// (for example `io.github.mcppassport`).
    pub fn new(app_identifier: &str) -> Self {
        Self {
            service: app_identifier.to_string(),
        }
    }

    /// The service name items are filed under.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, key: &StoreKey) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, &key.account()).map_err(map_error)
    }
}

/// Maps keyring errors to the engine's typed errors. No variant carries a secret.
fn map_error(e: keyring::Error) -> StoreError {
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            let text = inner.to_string();
            if text.to_ascii_lowercase().contains("locked") {
                StoreError::Locked
            } else {
                StoreError::Unavailable(text)
            }
        }
        keyring::Error::PlatformFailure(inner) => StoreError::Unavailable(inner.to_string()),
        other => StoreError::Failed(other.to_string()),
    }
}

impl TokenStore for KeyringStore {
    fn get(&self, key: &StoreKey) -> Result<Option<String>, StoreError> {
        match self.entry(key)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    fn put(&self, key: &StoreKey, secret: &str) -> Result<(), StoreError> {
        self.entry(key)?.set_password(secret).map_err(map_error)
    }

    fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }
}
