//! DPoP at the engine: the installation's key, kept in the TokenStore
//! (made on first use), proofs for token requests where the AS advertises
//! ES256, and proofs and nonces for the proxy's requests to servers whose
//! grant is DPoP-bound.

use super::{Engine, lock};
use crate::dpop::{DpopKey, NonceCache, Prover};
use crate::error::EngineError;
use crate::metadata::AsMetadata;
use crate::store::StoreKey;
use std::sync::{Arc, Mutex};

/// The key once loaded, and the nonces servers gave.
#[derive(Debug, Default)]
pub(super) struct DpopState {
    key: Mutex<Option<Arc<DpopKey>>>,
    nonces: NonceCache,
}

impl Engine {
    /// The installation's DPoP key: from the store, or made and stored now.
    fn dpop_key(&self) -> Result<Arc<DpopKey>, EngineError> {
        let mut held = lock(&self.dpop.key);
        if let Some(key) = held.as_ref() {
            return Ok(Arc::clone(key));
        }
        let stored = self.store.get(&StoreKey::DpopKey)?;
        let key = match stored.map(|s| DpopKey::from_secret(&s)) {
            Some(Ok(key)) => key,
            other => {
                if matches!(other, Some(Err(_))) {
                    tracing::warn!("the stored DPoP key is unusable; a new one replaces it");
                }
                let key = DpopKey::generate();
                self.store.put(&StoreKey::DpopKey, &key.to_secret())?;
                key
            }
        };
        let key = Arc::new(key);
        *held = Some(Arc::clone(&key));
        Ok(key)
    }

    /// The key, where the AS advertises ES256 DPoP proofs; else `None`.
    pub(super) fn dpop_key_for(
        &self,
        metadata: &AsMetadata,
    ) -> Result<Option<Arc<DpopKey>>, EngineError> {
        if !crate::dpop::advertised(metadata.dpop_signing_alg_values_supported.as_deref()) {
            return Ok(None);
        }
        self.dpop_key().map(Some)
    }

    /// What a token request needs to carry proofs with `key`.
    pub(super) fn prover<'a>(&'a self, key: Option<&'a DpopKey>) -> Option<Prover<'a>> {
        key.map(|key| Prover {
            key,
            nonces: &self.dpop.nonces,
            now: self.clock.now().timestamp(),
        })
    }

    /// Whether `server`'s tokens are DPoP-bound (usable only with a proof).
    pub fn dpop_bound(&self, server: &str) -> bool {
        self.with_resolved(server, false, |grant, _| grant.dpop_bound)
            .unwrap_or(false)
    }

    /// A fresh proof for a request to a resource server with `access_token`
    /// (`ath`), carrying the nonce `url`'s origin gave last.
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: &str,
    ) -> Result<String, EngineError> {
        let key = self.dpop_key()?;
        let nonce = self.dpop.nonces.get(url);
        Ok(key.proof(
            method,
            url,
            self.clock.now().timestamp(),
            Some(access_token),
            nonce.as_deref(),
        )?)
    }

    /// Keeps a nonce a resource server sent with its answer; whether the
    /// answer asked for the request again with it (`use_dpop_nonce`).
    pub fn dpop_answer(
        &self,
        url: &str,
        status: http::StatusCode,
        headers: &http::HeaderMap,
    ) -> bool {
        let fresh = self.dpop.nonces.note(url, headers);
        fresh && crate::dpop::resource_asks_nonce(status, headers)
    }
}
