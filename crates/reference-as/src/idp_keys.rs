//! Trusted identity providers' signing keys, for checking ID-JAGs.
//!
//! As a real AS would, it finds an IdP's keys over HTTP: the OpenID
//! configuration at `{issuer}/.well-known/openid-configuration` (whose
//! `issuer` must be the trusted one exactly), then its `jwks_uri`. Keys are
//! kept per issuer; an assertion whose `kid` is not among them fetches the
//! set again (key rotation), at most once every few seconds so a stream of
//! forged `kid`s cannot make the AS hammer the IdP. Only ES256 (P-256) keys
//! are used: the allow-list of algorithms is exactly one, never `none`.

use crate::crypto::now;
use crate::error::OAuthError;
use crate::state::{AsState, lock};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// How soon the same issuer's keys may be fetched again, seconds.
const REFETCH_AFTER: i64 = 5;
/// The largest metadata or JWKS document read, bytes.
const MAX_DOCUMENT: usize = 64 * 1024;

/// One IdP's keys: `(kid, key)`.
type KeySet = Vec<(Option<String>, VerifyingKey)>;

/// The keys fetched so far, by issuer, with when they were fetched.
#[derive(Debug, Default)]
pub struct KeyCache {
    by_issuer: Mutex<HashMap<String, (i64, KeySet)>>,
}

/// A signed JWT split into its parts, before its signature is checked.
#[derive(Debug)]
pub struct Unverified {
    /// The decoded header.
    pub header: Value,
    /// The decoded claims (not to be trusted until [`verify`] says so).
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

/// Splits a compact JWS; `None` when it is not one.
pub fn parse(token: &str) -> Option<Unverified> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, claims) = signing_input.split_once('.')?;
    let decode = |part: &str| -> Option<Value> {
        serde_json::from_slice(&B64.decode(part).ok()?)
            .ok()
            .filter(Value::is_object)
    };
    Some(Unverified {
        header: decode(header)?,
        claims: decode(claims)?,
        signing_input: signing_input.to_string(),
        signature: B64.decode(signature).ok()?,
    })
}

fn unavailable(what: &str) -> OAuthError {
    OAuthError::device(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        format!(
            "the identity provider's signing keys could not be fetched: {what}; try again later"
        ),
    )
}

/// Checks `jwt`'s ES256 signature against the keys of the trusted IdP
/// `issuer` (fetched when needed). `invalid_grant` when no key verifies it.
pub async fn verify(state: &AsState, issuer: &str, jwt: &Unverified) -> Result<(), OAuthError> {
    if jwt.header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(OAuthError::invalid_grant(
            "the assertion's signing algorithm is not accepted (ES256 only)",
        ));
    }
    let signature = Signature::from_slice(&jwt.signature)
        .map_err(|_| OAuthError::invalid_grant("the assertion's signature is malformed"))?;
    let kid = jwt.header.get("kid").and_then(Value::as_str);
    let matches = |keys: &KeySet| {
        keys.iter()
            .filter(|(k, _)| kid.is_none() || k.as_deref() == kid)
            .any(|(_, key)| key.verify(jwt.signing_input.as_bytes(), &signature).is_ok())
    };
    let known_kid = |keys: &KeySet| kid.is_none() || keys.iter().any(|(k, _)| k.as_deref() == kid);
    let cached = lock(&state.idp_keys.by_issuer).get(issuer).cloned();
    let fresh_enough = cached
        .as_ref()
        .is_some_and(|(at, keys)| known_kid(keys) || now() - at < REFETCH_AFTER);
    let keys = match cached {
        Some((_, keys)) if fresh_enough => keys,
        _ => {
            let keys = fetch(state, issuer).await?;
            lock(&state.idp_keys.by_issuer).insert(issuer.to_string(), (now(), keys.clone()));
            keys
        }
    };
    if matches(&keys) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "the assertion's signature does not verify with the identity provider's published keys",
        ))
    }
}

async fn get_json(state: &AsState, url: &str) -> Result<Value, OAuthError> {
    let response = state
        .http
        .get(url)
        .send()
        .await
        .map_err(|_| unavailable("the identity provider did not answer"))?;
    if !response.status().is_success() {
        return Err(unavailable(&format!(
            "the identity provider answered {}",
            response.status()
        )));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|_| unavailable("the answer could not be read"))?;
    if bytes.len() > MAX_DOCUMENT {
        return Err(unavailable("the document is larger than 64 KiB"));
    }
    serde_json::from_slice(&bytes).map_err(|_| unavailable("the document is not JSON"))
}

async fn fetch(state: &AsState, issuer: &str) -> Result<KeySet, OAuthError> {
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let metadata = get_json(state, &discovery).await?;
    if metadata.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(unavailable("its OpenID configuration names another issuer"));
    }
    let jwks_uri = metadata
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| unavailable("its OpenID configuration has no jwks_uri"))?;
    let jwks = get_json(state, jwks_uri).await?;
    Ok(jwks
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(p256_key).collect())
        .unwrap_or_default())
}

/// A P-256 public key from a JWK, with its `kid`; `None` for other keys.
fn p256_key(jwk: &Value) -> Option<(Option<String>, VerifyingKey)> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("kty") != Some("EC") || field("crv") != Some("P-256") {
        return None;
    }
    if field("alg").is_some_and(|alg| alg != "ES256") || field("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let coordinate =
        |name: &str| -> Option<Vec<u8>> { B64.decode(field(name)?).ok().filter(|b| b.len() == 32) };
    let mut point = vec![0x04];
    point.extend(coordinate("x")?);
    point.extend(coordinate("y")?);
    let key = VerifyingKey::from_sec1_bytes(&point).ok()?;
    Some((field("kid").map(String::from), key))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_published_jwk_round_trips_to_the_key_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::db::Store::open(dir.path()).unwrap();
        let signer = crate::jwt::TokenSigner::load_or_create(&store).unwrap();
        let jwks = signer.jwks();
        let (kid, key) = p256_key(&jwks["keys"][0]).unwrap();
        assert!(kid.is_some());
        let token = signer.sign_typed("oauth-id-jag+jwt", &serde_json::json!({"sub": "demo"}));
        let jwt = parse(&token).unwrap();
        let signature = Signature::from_slice(&jwt.signature).unwrap();
        assert!(key.verify(jwt.signing_input.as_bytes(), &signature).is_ok());
        assert_eq!(jwt.header["typ"], "oauth-id-jag+jwt");
    }

    #[test]
    fn other_keys_and_malformed_tokens_are_ignored() {
        assert!(p256_key(&serde_json::json!({"kty": "RSA", "n": "x", "e": "AQAB"})).is_none());
        assert!(
            p256_key(&serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}))
                .is_none()
        );
        assert!(parse("not-a-jwt").is_none());
        assert!(parse("e30.e30").is_none());
    }
}
