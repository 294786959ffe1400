//! Access tokens in memory, and one async lock per grant so that
//! concurrent callers share one refresh. Nothing here touches the network
//! or the store.

use super::lock;
use crate::secret::AccessToken;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub(super) struct Cached {
    pub(super) token: AccessToken,
    pub(super) issued_at: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
}

/// Tokens in memory, keyed by (grant id, server id); the shared token of a
/// grant uses the server id `*`. Plus one async lock per grant.
#[derive(Debug, Default)]
pub(super) struct TokenCache {
    /// grant id -> server id (or `*`) -> token; looked up by `&str`, no allocation.
    tokens: Mutex<HashMap<String, HashMap<String, Cached>>>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// One metadata fetch per issuer at a time.
    metadata_flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The slot of a grant's shared (multi-audience) token.
pub(super) const SHARED: &str = "*";

impl TokenCache {
    pub(super) fn get(&self, grant: &str, server: &str) -> Option<Cached> {
        lock(&self.tokens)
            .get(grant)
            .and_then(|m| m.get(server))
            .cloned()
    }

    pub(super) fn put(
        &self,
        grant: &str,
        server: &str,
        token: AccessToken,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) {
        lock(&self.tokens)
            .entry(grant.to_string())
            .or_default()
            .insert(
                server.to_string(),
                Cached {
                    token,
                    issued_at,
                    expires_at,
                },
            );
    }

    pub(super) fn put_shared(
        &self,
        grant: &str,
        token: AccessToken,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) {
        self.put(grant, SHARED, token, issued_at, expires_at);
    }

    /// Removes and returns the tokens of a grant (all servers, or one and the shared one).
    pub(super) fn take(&self, grant: &str, server: Option<&str>) -> Vec<AccessToken> {
        let mut tokens = lock(&self.tokens);
        let Some(servers) = tokens.get_mut(grant) else {
            return Vec::new();
        };
        let taken: Vec<AccessToken> = match server {
            None => servers.drain().map(|(_, c)| c.token).collect(),
            Some(one) => [one, SHARED]
                .iter()
                .filter_map(|k| servers.remove(*k))
                .map(|c| c.token)
                .collect(),
        };
        if servers.is_empty() {
            tokens.remove(grant);
        }
        taken
    }

    pub(super) fn flight(&self, grant: &str) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(lock(&self.flights).entry(grant.to_string()).or_default())
    }

    pub(super) fn metadata_flight(&self, issuer: &str) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(
            lock(&self.metadata_flights)
                .entry(issuer.to_string())
                .or_default(),
        )
    }
}
