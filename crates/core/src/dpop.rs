//! DPoP (RFC 9449): proofs that bind tokens to a key this installation holds.
//!
//! [`DpopKey`] is one ES256 (P-256) key pair; its private half is a secret
//! (the engine keeps it in the [`TokenStore`](crate::store::TokenStore) as
//! [`StoreKey::DpopKey`](crate::store::StoreKey::DpopKey)) and never
//! prints: `Debug` shows only the public key's thumbprint. A proof is a
//! `dpop+jwt` signed with it, naming the method (`htm`), the URL without
//! query or fragment (`htu`), the time (`iat`), a fresh `jti`, the access
//! token's hash (`ath`) for resource requests, and the server's `nonce`
//! when it asked for one.
//!
//! [`NonceCache`] keeps the last nonce each origin gave (`DPoP-Nonce`);
//! [`as_asks_nonce`] and [`resource_asks_nonce`] recognise the
//! `use_dpop_nonce` answers of an authorization server (400) and of a
//! resource server (401 with a `DPoP` challenge), after which the request
//! is sent once more with the nonce.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// The one signing algorithm used (and looked for in `dpop_signing_alg_values_supported`).
pub const ALG: &str = "ES256";

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The stored key is not a P-256 private key.
    #[error("the stored DPoP key is not usable")]
    BadKey,
    /// The URL the proof is for does not parse.
    #[error("the address {0} cannot be named in a DPoP proof")]
    BadUrl(String),
}

/// This installation's DPoP key pair.
pub struct DpopKey {
    key: SigningKey,
    jwk: Value,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// The key from its stored form ([`DpopKey::to_secret`]).
    pub fn from_secret(secret: &str) -> Result<Self, DpopError> {
        let bytes = B64.decode(secret.trim()).map_err(|_| DpopError::BadKey)?;
        let key = SigningKey::from_slice(&bytes).map_err(|_| DpopError::BadKey)?;
        Ok(Self::from_signing_key(key))
    }

    /// The private key's stored form (base64url of the scalar).
    ///
    /// Security: a secret; it goes to the TokenStore and nowhere else.
    pub fn to_secret(&self) -> String {
        B64.encode(self.key.to_bytes())
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let point = key.verifying_key().to_encoded_point(false);
        let (x, y) = (
            B64.encode(point.x().map(|x| &x[..]).unwrap_or_default()),
            B64.encode(point.y().map(|y| &y[..]).unwrap_or_default()),
        );
        // RFC 7638: the required members in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = B64.encode(Sha256::digest(canonical.as_bytes()));
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y});
        Self {
            key,
            jwk,
            thumbprint,
        }
    }

    /// The public key's RFC 7638 thumbprint (a token's `cnf.jkt`).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// A proof for `method` at `url` made at `iat` (seconds since the
    /// epoch); `access_token` adds `ath`, `nonce` the server's nonce.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        iat: i64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, DpopError> {
        let htu = htu(url)?;
        let header = json!({"typ": "dpop+jwt", "alg": ALG, "jwk": self.jwk});
        let mut jti = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut jti);
        let mut claims = json!({
            "jti": B64.encode(jti), "htm": method.to_ascii_uppercase(), "htu": htu, "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = json!(B64.encode(Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(input.as_bytes());
        Ok(format!("{input}.{}", B64.encode(signature.to_bytes())))
    }
}

/// `url` as a proof's `htu`: without query and fragment.
pub fn htu(url: &str) -> Result<String, DpopError> {
    let mut parsed = url::Url::parse(url).map_err(|_| DpopError::BadUrl(shown(url)))?;
    parsed.set_query(None);
    parsed.set_fragment(None);
    Ok(parsed.to_string())
}

/// `scheme://host:port` of `url`, the nonce cache's key.
pub fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization())
}

fn shown(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| crate::url_policy::redact(&u))
        .unwrap_or_else(|_| crate::text::untrusted(url, 100))
}

/// The most recent nonce each origin gave.
#[derive(Debug, Default)]
pub struct NonceCache {
    nonces: Mutex<HashMap<String, String>>,
}

/// The longest nonce kept (a server's choice; anything longer is ignored).
const MAX_NONCE: usize = 512;

impl NonceCache {
    /// The nonce to send to `url`'s origin, if it gave one.
    pub fn get(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        self.lock().get(&origin).cloned()
    }

    /// Keeps the `DPoP-Nonce` of `headers` for `url`'s origin; whether there was one.
    pub fn note(&self, url: &str, headers: &http::HeaderMap) -> bool {
        let Some(nonce) = headers
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE && n.bytes().all(|b| b > 0x20))
        else {
            return false;
        };
        let Some(origin) = origin(url) else {
            return false;
        };
        self.lock().insert(origin, nonce.to_string());
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether an authorization server's answer is `use_dpop_nonce` (400 with
/// that error); the caller keeps the nonce and sends the request once more.
pub fn as_asks_nonce(status: http::StatusCode, body: &[u8]) -> bool {
    status == http::StatusCode::BAD_REQUEST
        && serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .is_some_and(|e| e == "use_dpop_nonce")
}

/// Whether a resource server's answer is a 401 whose `DPoP` challenge says
/// `error="use_dpop_nonce"`.
pub fn resource_asks_nonce(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    status == http::StatusCode::UNAUTHORIZED
        && headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                let v = v.trim_start();
                v.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("dpop "))
                    && v.contains("use_dpop_nonce")
            })
}

/// Whether the AS metadata's `dpop_signing_alg_values_supported` includes ES256.
pub fn advertised(algs: Option<&[String]>) -> bool {
    algs.is_some_and(|a| a.iter().any(|x| x == ALG))
}

/// What a token request needs to carry proofs: the key, the nonces, and
/// the time to put in `iat`.
#[derive(Debug, Clone, Copy)]
pub struct Prover<'a> {
    /// This installation's key.
    pub key: &'a DpopKey,
    /// Nonces per origin.
    pub nonces: &'a NonceCache,
    /// Seconds since the epoch.
    pub now: i64,
}

/// The engine's HTTP client with a proof on every token request, sending
/// it once more with the nonce after `use_dpop_nonce`.
pub(crate) struct ProvingClient<'a> {
    pub(crate) http: &'a crate::http::HttpClient,
    pub(crate) prover: Prover<'a>,
}

impl ProvingClient<'_> {
    async fn call_with_proof(
        &self,
        request: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, crate::http::HttpError> {
        let url = request.uri().to_string();
        let (parts, body) = request.into_parts();
        let mut retried = false;
        loop {
            let nonce = self.prover.nonces.get(&url);
            let proof = self
                .prover
                .key
                .proof(
                    parts.method.as_str(),
                    &url,
                    self.prover.now,
                    None,
                    nonce.as_deref(),
                )
                .map_err(|e| crate::http::HttpError::Transport {
                    url: shown(&url),
                    reason: e.to_string(),
                })?;
            let mut request = http::Request::new(body.clone());
            *request.method_mut() = parts.method.clone();
            *request.uri_mut() = parts.uri.clone();
            *request.headers_mut() = parts.headers.clone();
            let value = http::HeaderValue::from_str(&proof).map_err(|e| {
                crate::http::HttpError::Transport {
                    url: shown(&url),
                    reason: e.to_string(),
                }
            })?;
            request.headers_mut().insert("dpop", value);
            let response = self.http.oauth_call(request).await?;
            let fresh = self.prover.nonces.note(&url, response.headers());
            if !retried && fresh && as_asks_nonce(response.status(), response.body()) {
                retried = true;
                continue;
            }
            return Ok(response);
        }
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for ProvingClient<'_> {
    type Error = crate::http::HttpError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.call_with_proof(request))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, VerifyingKey};

    fn part(jwt: &str, i: usize) -> Value {
        serde_json::from_slice(&B64.decode(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn a_proof_names_the_request_and_verifies_with_its_own_jwk() {
        let key = DpopKey::generate();
        let proof = key
            .proof(
                "post",
                "https://mcp.example/mcp?x=1#f",
                1_700_000_000,
                Some("tok"),
                Some("n-1"),
            )
            .unwrap();
        let (header, claims) = (part(&proof, 0), part(&proof, 1));
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(header["jwk"].get("d").is_none(), "no private part");
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://mcp.example/mcp");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(
            claims["ath"],
            B64.encode(Sha256::digest(b"tok")),
            "ath is the token's SHA-256"
        );
        let jwk = &header["jwk"];
        let mut sec1 = vec![4u8];
        sec1.extend(B64.decode(jwk["x"].as_str().unwrap()).unwrap());
        sec1.extend(B64.decode(jwk["y"].as_str().unwrap()).unwrap());
        let verifying = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let (input, sig) = proof.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&B64.decode(sig).unwrap()).unwrap();
        verifying.verify(input.as_bytes(), &sig).unwrap();
        let other = key
            .proof("GET", "https://mcp.example/mcp", 1, None, None)
            .unwrap();
        assert_ne!(
            part(&other, 1)["jti"],
            claims["jti"],
            "a fresh jti each time"
        );
        assert!(part(&other, 1).get("ath").is_none());
    }

    #[test]
    fn the_key_survives_its_stored_form_and_debug_shows_no_secret() {
        let key = DpopKey::generate();
        let again = DpopKey::from_secret(&key.to_secret()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert!(!format!("{key:?}").contains(&key.to_secret()));
        assert!(DpopKey::from_secret("not a key").is_err());
        assert!(DpopKey::from_secret(&B64.encode([0u8; 32])).is_err());
    }

    #[test]
    fn rfc7638_thumbprint_matches_a_known_p256_key() {
        // The JWK of RFC 9449 section 4.1's example proof and its thumbprint (section 6.1).
        let canonical = r#"{"crv":"P-256","kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}"#;
        assert_eq!(
            B64.encode(Sha256::digest(canonical.as_bytes())),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn nonce_answers_are_recognised_and_nonces_kept_per_origin() {
        assert!(as_asks_nonce(
            http::StatusCode::BAD_REQUEST,
            br#"{"error":"use_dpop_nonce"}"#
        ));
        assert!(!as_asks_nonce(
            http::StatusCode::BAD_REQUEST,
            br#"{"error":"invalid_grant"}"#
        ));
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static(r#"DPoP error="use_dpop_nonce", algs="ES256""#),
        );
        assert!(resource_asks_nonce(
            http::StatusCode::UNAUTHORIZED,
            &headers
        ));
        assert!(!resource_asks_nonce(http::StatusCode::FORBIDDEN, &headers));
        let cache = NonceCache::default();
        assert!(!cache.note("http://a.example:1/token", &headers));
        headers.insert("dpop-nonce", http::HeaderValue::from_static("abc"));
        assert!(cache.note("http://a.example:1/token", &headers));
        assert_eq!(
            cache.get("http://a.example:1/other").as_deref(),
            Some("abc")
        );
        assert_eq!(cache.get("http://a.example:2/token"), None);
        headers.insert("dpop-nonce", http::HeaderValue::from_static("a b"));
        assert!(
            !cache.note("http://a.example:1/token", &headers),
            "no spaces"
        );
    }
}
