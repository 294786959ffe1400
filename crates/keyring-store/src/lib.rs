//! MCP Passport's [`TokenStore`] on the OS keyring: the Secret Service on
//! Linux, the Keychain on macOS, the Credential Manager on Windows.
//!
//! Items live under one service name (the app identifier, so tests use
//! their own) with the [`StoreKey::account`] as the user name. On Linux the
//! Secret Service item carries the attributes `service` (the app
//! identifier), `username` (the account) and `target` (`default`), plus
//! `application = rust-keyring`, as the `keyring` crate (version 3) names
//! it.
//!
//! On macOS and Windows every call goes through `keyring` 3. On Linux the
//! store talks to the Secret Service itself ([`connections`], [`items`]):
//! `keyring` 3 opens a D-Bus connection and negotiates an encrypted session
//! for every call, which made the keyring most of a token refresh. The
//! store keeps its connections open for its life, and names and finds
//! items exactly as `keyring` 3 does, so the two read each other's items.
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
#[cfg(target_os = "linux")]
mod connections;
mod errors;
#[cfg(target_os = "linux")]
mod items;

use passport_core::store::{StoreError, StoreKey, TokenStore};

/// The OS keyring, namespaced by an app identifier.
///
/// Its `Debug` output shows only the service name: it holds no secret.
/// Clones share the store's Secret Service connections.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    bounded: bounded::Bounded,
    #[cfg(target_os = "linux")]
    connections: std::sync::Arc<connections::Connections>,
}

impl KeyringStore {
    /// A store whose items are filed under `app_identifier`
    /// (for example `io.github.mcppassport`) as the keyring service name.
    pub fn new(app_identifier: &str) -> Self {
        Self {
            service: app_identifier.to_string(),
            bounded: bounded::Bounded::default(),
            #[cfg(target_os = "linux")]
            connections: Default::default(),
        }
    }

    /// The service name items are filed under.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// How many Secret Service connections this store (and its clones)
    /// opened so far: one, or a few under concurrent calls, plus one each
    /// time a kept connection broke.
    #[cfg(target_os = "linux")]
    pub fn connections_opened(&self) -> usize {
        self.connections.opened()
    }

    /// Runs `op` on one of the store's connections, under the time limit
    /// and off the async workers.
    #[cfg(target_os = "linux")]
    fn call<T: Send + 'static>(
        &self,
        key: &StoreKey,
        op: impl Fn(&dbus_secret_service::SecretService, &items::Name) -> Result<T, items::Failed>
        + Send
        + 'static,
    ) -> Result<T, StoreError> {
        let name = items::Name {
            service: self.service.clone(),
            user: key.account(),
        };
        let connections = std::sync::Arc::clone(&self.connections);
        bounded::off_workers(|| {
            self.bounded.run(bounded::LIMIT, move || {
                connections
                    .with(|service| op(service, &name))
                    .map_err(|failure| match failure {
                        connections::Failure::Service(e) => errors::map_service_error(e),
                        connections::Failure::Other(e) => e,
                    })
            })
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn entry(&self, key: &StoreKey) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, &key.account()).map_err(errors::map_error)
    }
}

#[cfg(target_os = "linux")]
impl TokenStore for KeyringStore {
    fn get(&self, key: &StoreKey) -> Result<Option<String>, StoreError> {
        self.call(key, items::get)
    }

    /// Creates or replaces the item. The Secret Service has committed the
    /// item when it answers, so `Ok` means durable.
    fn put(&self, key: &StoreKey, secret: &str) -> Result<(), StoreError> {
        let secret = secret.to_string();
        self.call(key, move |service, name| items::put(service, name, &secret))
    }

    fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.call(key, items::delete)
    }
}

#[cfg(not(target_os = "linux"))]
impl TokenStore for KeyringStore {
    fn get(&self, key: &StoreKey) -> Result<Option<String>, StoreError> {
        let entry = self.entry(key)?;
        bounded::off_workers(|| {
            self.bounded
                .run(bounded::LIMIT, move || match entry.get_password() {
                    Ok(secret) => Ok(Some(secret)),
                    Err(keyring::Error::NoEntry) => Ok(None),
                    Err(e) => Err(errors::map_error(e)),
                })
        })
    }

    /// Creates or replaces the item. The Keychain and the Credential
    /// Manager have committed the item when they answer, so `Ok` means
    /// durable.
    fn put(&self, key: &StoreKey, secret: &str) -> Result<(), StoreError> {
        let entry = self.entry(key)?;
        let secret = secret.to_string();
        bounded::off_workers(|| {
            self.bounded.run(bounded::LIMIT, move || {
                entry.set_password(&secret).map_err(errors::map_error)
            })
        })
    }

    fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        let entry = self.entry(key)?;
        bounded::off_workers(|| {
            self.bounded
                .run(bounded::LIMIT, move || match entry.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(errors::map_error(e)),
                })
        })
    }
}
