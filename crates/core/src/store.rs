//! Where secrets live: the [`TokenStore`] trait.
//!
//! The engine keeps refresh tokens and client secrets only through this
//! trait. The desktop app and the CLI pass the OS keyring implementation
//! (crate `passport-keyring`); unit tests pass [`MemoryStore`]. There is no
//! file-backed implementation on purpose: if the keyring cannot be reached
//! the engine reports [`StoreError`] and never falls back to plaintext.

use std::collections::HashMap;
use std::sync::Mutex;

/// What a stored secret is, and whose.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreKey {
    /// The refresh token of one grant.
    RefreshToken {
        /// The grant's id.
        grant_id: String,
    },
    /// The client secret registered at one issuer.
    ClientSecret {
        /// The issuer, exactly as published.
        issuer: String,
    },
    /// This installation's DPoP private key (one, for every grant).
    DpopKey,
    /// The client secret of one machine grant (`login --client-credentials`).
    MachineSecret {
        /// The grant's id.
        grant_id: String,
    },
    /// The refresh token of an enterprise grant's sign-in at the organization's IdP.
    IdpRefreshToken {
        /// The grant's id.
        grant_id: String,
    },
    /// The client secret an enterprise grant uses at its servers' authorization servers.
    EnterpriseSecret {
        /// The grant's id.
        grant_id: String,
    },
}

impl StoreKey {
    /// A stable, printable name for the item (no secret in it), used as the
    /// keyring entry's user/account field.
    pub fn account(&self) -> String {
        match self {
            StoreKey::RefreshToken { grant_id } => format!("refresh-token:{grant_id}"),
            StoreKey::ClientSecret { issuer } => format!("client-secret:{issuer}"),
            StoreKey::DpopKey => "dpop-key".to_string(),
            StoreKey::MachineSecret { grant_id } => format!("machine-secret:{grant_id}"),
            StoreKey::IdpRefreshToken { grant_id } => format!("idp-refresh-token:{grant_id}"),
            StoreKey::EnterpriseSecret { grant_id } => format!("enterprise-secret:{grant_id}"),
        }
    }
}

/// Why the secret store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No secret service / keychain could be reached.
    #[error(
        "the OS keyring is not available: {0}. Start or unlock your keyring (on Linux: a Secret Service such as gnome-keyring), then try again"
    )]
    Unavailable(String),
    /// The keyring is locked and the user did not unlock it.
    #[error("the OS keyring is locked. Unlock it, then try again")]
    Locked,
    /// The keyring refused or failed the operation.
    #[error("the OS keyring failed: {0}")]
    Failed(String),
}

/// A place for secrets. Implementations must be safe to call from any thread.
pub trait TokenStore: Send + Sync {
    /// Reads a secret; `Ok(None)` when there is none.
    fn get(&self, key: &StoreKey) -> Result<Option<String>, StoreError>;
    /// Writes (or replaces) a secret. Must be durable when it returns `Ok`.
    fn put(&self, key: &StoreKey, secret: &str) -> Result<(), StoreError>;
    /// Deletes a secret; deleting a missing one is `Ok`.
    fn delete(&self, key: &StoreKey) -> Result<(), StoreError>;
}

/// An in-memory store for unit tests. It can be told to fail, to test the
/// engine's handling of keyring errors.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<StoreKey, String>>,
    failure: Mutex<Option<StoreError>>,
    write_failure: Mutex<Option<StoreError>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail with `error` (or succeed again with `None`).
    pub fn fail_with(&self, error: Option<StoreError>) {
        *self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    /// Makes every later write (put, delete) fail with `error`; reads still work.
    pub fn fail_writes_with(&self, error: Option<StoreError>) {
        *self
            .write_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    fn check_write(&self) -> Result<(), StoreError> {
        self.check()?;
        match &*self
            .write_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// How many secrets it holds.
    pub fn len(&self) -> usize {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self) -> Result<(), StoreError> {
        match &*self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl TokenStore for MemoryStore {
    fn get(&self, key: &StoreKey) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self
            .items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    fn put(&self, key: &StoreKey, secret: &str) -> Result<(), StoreError> {
        self.check_write()?;
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone(), secret.to_string());
        Ok(())
    }

    fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.check_write()?;
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        Ok(())
    }
}
