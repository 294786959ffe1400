//! Finding the trusted AS's keys: metadata discovery and a JWKS cache.
//!
//! A sample server may start before its AS listens, so nothing is fetched at
//! start-up: the first token triggers discovery. Keys are cached; a token
//! whose `kid` is unknown triggers one refetch (the AS may have rotated), but
//! refetches are spaced out so that a flood of made-up `kid`s cannot turn the
//! server into an amplifier against the AS. Failed discovery is retried only
//! after a short pause for the same reason.

use crate::error::Error;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The shortest time between two JWKS refetches caused by unknown `kid`s.
const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// How long to wait after a failed discovery before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The parts of RFC 8414 / OpenID Connect discovery metadata we use.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AsMetadata {
    /// Must equal the trusted issuer exactly.
    pub issuer: String,
    /// Where the signing keys are.
    pub jwks_uri: String,
    /// RFC 7662 endpoint, if the AS has one.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
}

/// Why no key could be offered for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The AS could not be reached or answered nonsense: not the token's fault.
    Unavailable,
    /// The AS answered, but has no key with the token's `kid`.
    UnknownKey,
}

#[derive(Default)]
struct Cache {
    metadata: Option<AsMetadata>,
    keys: Vec<Jwk>,
    last_failure: Option<Instant>,
    last_refetch: Option<Instant>,
}

/// The trusted issuer's metadata and keys, fetched lazily and cached.
pub(crate) struct KeySource {
    issuer: String,
    metadata_urls: Vec<String>,
    http: reqwest::Client,
    cache: Mutex<Cache>,
}

impl KeySource {
    /// A key source for `issuer`; fails only if the issuer is not an
    /// absolute http(s) URL.
    pub fn new(issuer: &str, http: reqwest::Client) -> Result<Self, Error> {
        let metadata_urls = metadata_urls(issuer).ok_or_else(|| Error::InvalidIssuer {
            issuer: issuer.to_string(),
        })?;
        Ok(Self {
            issuer: issuer.to_string(),
            metadata_urls,
            http,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The AS's metadata, discovering it first if need be.
    pub async fn metadata(&self) -> Result<AsMetadata, KeyError> {
        let mut cache = self.cache.lock().await;
        self.ensure_loaded(&mut cache).await?;
        cache.metadata.clone().ok_or(KeyError::Unavailable)
    }

    /// The signing keys that may have signed a token with this `kid` (all
    /// signing keys when the token names none).
    pub async fn keys_for(&self, kid: Option<&str>) -> Result<Vec<Jwk>, KeyError> {
        let mut cache = self.cache.lock().await;
        self.ensure_loaded(&mut cache).await?;
        let found = select(&cache.keys, kid);
        if !found.is_empty() {
            return Ok(found);
        }
        if cache
            .last_refetch
            .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL)
        {
            return Err(KeyError::UnknownKey);
        }
        cache.last_refetch = Some(Instant::now());
        tracing::info!(issuer = %self.issuer, "unknown key id: refetching the JWKS");
        match self.load().await {
            Ok((metadata, keys)) => {
                cache.metadata = Some(metadata);
                cache.keys = keys;
            }
            Err(reason) => {
                tracing::warn!(issuer = %self.issuer, reason, "JWKS refetch failed; keeping the cached keys");
                return Err(KeyError::Unavailable);
            }
        }
        let found = select(&cache.keys, kid);
        if found.is_empty() {
            Err(KeyError::UnknownKey)
        } else {
            Ok(found)
        }
    }

    async fn ensure_loaded(&self, cache: &mut Cache) -> Result<(), KeyError> {
        if cache.metadata.is_some() {
            return Ok(());
        }
        if cache
            .last_failure
            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE)
        {
            return Err(KeyError::Unavailable);
        }
        match self.load().await {
            Ok((metadata, keys)) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "discovered the authorization server");
                cache.metadata = Some(metadata);
                cache.keys = keys;
                cache.last_failure = None;
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(issuer = %self.issuer, reason, "authorization server discovery failed");
                cache.last_failure = Some(Instant::now());
                Err(KeyError::Unavailable)
            }
        }
    }

    /// Discovers the metadata, then fetches the JWKS it names.
    async fn load(&self) -> Result<(AsMetadata, Vec<Jwk>), &'static str> {
        let metadata = self.discover().await?;
        let keys = self.fetch_jwks(&metadata.jwks_uri).await?;
        Ok((metadata, keys))
    }

    async fn discover(&self) -> Result<AsMetadata, &'static str> {
        let mut reason = "no metadata document found";
        for url in &self.metadata_urls {
            let Ok(response) = self
                .http
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
            else {
                reason = "metadata request failed";
                continue;
            };
            if !response.status().is_success() {
                continue;
            }
            let Ok(metadata) = response.json::<AsMetadata>().await else {
                reason = "metadata is not valid JSON with issuer and jwks_uri";
                continue;
            };
            if metadata.issuer != self.issuer {
                reason = "metadata names a different issuer";
                continue;
            }
            return Ok(metadata);
        }
        Err(reason)
    }

    async fn fetch_jwks(&self, jwks_uri: &str) -> Result<Vec<Jwk>, &'static str> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let response = self
            .http
            .get(jwks_uri)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|_| "JWKS request failed")?;
        if !response.status().is_success() {
            return Err("JWKS request was refused");
        }
        let set: RawSet = response
            .json()
            .await
            .map_err(|_| "JWKS is not a JSON key set")?;
        // Keys of kinds we cannot parse are skipped rather than failing the set.
        Ok(set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .collect())
    }
}

/// Signing keys matching `kid` (or all signing keys when `kid` is absent).
fn select(keys: &[Jwk], kid: Option<&str>) -> Vec<Jwk> {
    keys.iter()
        .filter(|k| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .cloned()
        .collect()
}

/// The metadata addresses to try for `issuer`, in order: RFC 8414 with the
/// path appended after the well-known segment, OpenID Connect the same way,
/// then OpenID Connect appended to the issuer.
fn metadata_urls(issuer: &str) -> Option<Vec<String>> {
    let url = url::Url::parse(issuer).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let mut urls = vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
    ];
    urls.dedup();
    Some(urls)
}

#[cfg(test)]
mod tests {
    use super::metadata_urls;

    #[test]
    fn metadata_urls_put_the_issuer_path_after_the_well_known_segment() {
        let urls = metadata_urls("https://as.example/tenant/").unwrap_or_default();
        assert_eq!(
            urls,
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant",
                "https://as.example/.well-known/openid-configuration/tenant",
                "https://as.example/tenant/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn metadata_urls_for_a_bare_origin_are_deduplicated() {
        let urls = metadata_urls("http://127.0.0.1:9000").unwrap_or_default();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:9000/.well-known/oauth-authorization-server",
                "http://127.0.0.1:9000/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn metadata_urls_reject_non_http_issuers() {
        assert!(metadata_urls("urn:example:as").is_none());
        assert!(metadata_urls("not a url").is_none());
    }
}
