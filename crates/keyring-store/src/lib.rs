//! MCP Passport's [`TokenStore`] on the OS keyring: the Secret Service on
//! Linux, the Keychain on macOS, the Credential Manager on Windows.
//!
//! Items live under one service name (the app identifier, so tests use
//! their own) with the [`StoreKey::account`] as the user name. On Linux the
//! Secret Service item carries the attributes `service` (the app
//! identifier), `username` (the account) and `target` (`default`), plus
//! `application = rust-keyring` set by the `keyring` crate.
//!
//! Why there is no fallback: when the keyring cannot be reached, every call
//! fails with a typed [`StoreError`] that says what to do. Nothing is ever
//! written to a file instead, because a token manager that quietly writes
//! refresh tokens to disk is worse than one that stops and says why. The
//! platform backends are chosen by this crate's target-specific `keyring`
//! features; without them `keyring` would silently use an in-memory mock,
//! which the tests under `tests/` rule out by reading items back with
//! `secret-tool`.
//!
//! Every call has a time limit ([`bounded`]): a locked collection would
//! otherwise wait forever for an unlock prompt nobody answers. And every
//! call waits off the async workers: the engine calls the store from its
//! async refresh, and a keyring that takes seconds to answer must not hold
//! up the broker's other requests (tokens of other servers, the proxy).

mod bounded;
mod errors;

use errors::map_error;
use passport_core::store::{StoreError, StoreKey, TokenStore};

/// The OS keyring, namespaced by an app identifier.
///
/// Its `Debug` output shows only the service name: it holds no secret.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    bounded: bounded::Bounded,
}

impl KeyringStore {
    /// A store whose items are filed under `app_identifier`
    /// (for example `io.github.mcppassport`) as the keyring service name.
    pub fn new(app_identifier: &str) -> Self {
        Self {
            service: app_identifier.to_string(),
            bounded: bounded::Bounded::default(),
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

impl TokenStore for KeyringStore {
    fn get(&self, key: &StoreKey) -> Result<Option<String>, StoreError> {
        let entry = self.entry(key)?;
        bounded::off_workers(|| {
            self.bounded
                .run(bounded::LIMIT, move || match entry.get_password() {
                    Ok(secret) => Ok(Some(secret)),
                    Err(keyring::Error::NoEntry) => Ok(None),
                    Err(e) => Err(map_error(e)),
                })
        })
    }

    /// Creates or replaces the item. The Secret Service, the Keychain and
    /// the Credential Manager have committed the item when they answer, so
    /// `Ok` means durable.
    fn put(&self, key: &StoreKey, secret: &str) -> Result<(), StoreError> {
        let entry = self.entry(key)?;
        let secret = secret.to_string();
        bounded::off_workers(|| {
            self.bounded.run(bounded::LIMIT, move || {
                entry.set_password(&secret).map_err(map_error)
            })
        })
    }

    fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        let entry = self.entry(key)?;
        bounded::off_workers(|| {
            self.bounded
                .run(bounded::LIMIT, move || match entry.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(map_error(e)),
                })
        })
    }
}
