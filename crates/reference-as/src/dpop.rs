//! DPoP (RFC 9449) at the token endpoint, with `--dpop`.
//!
//! The metadata advertises ES256; a token request carrying a `DPoP` proof
//! gets it checked (section 4.3: one well-formed `dpop+jwt`, ES256 with a
//! public P-256 `jwk` and no private part, the signature, `htm` POST, `htu`
//! this token endpoint, `iat` within a minute, a `jti` never seen before,
//! and, with `dpop_nonce`, this AS's current nonce, else 400
//! `use_dpop_nonce` with a `DPoP-Nonce` header). Its tokens are then
//! `token_type: DPoP` with `cnf.jkt`, the key's RFC 7638 thumbprint, and
//! the grant's refresh tokens work only with a proof from that same key.
//!
//! This is the other side of the wire: it shares no code with the client.

use crate::crypto::{now, random_token};
use crate::error::OAuthError;
use crate::state::{AsState, lock};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// How far `iat` may be in the past, seconds.
const MAX_AGE: i64 = 60;
/// How far `iat` may be in the future (clock skew), seconds.
const MAX_SKEW: i64 = 5;

/// Replay memory and the current nonce (which key each grant is bound to
/// is in the database, `db::dpop_binding`).
#[derive(Debug)]
pub struct DpopState {
    seen: Mutex<HashMap<String, i64>>,
    nonce: String,
}

impl Default for DpopState {
    fn default() -> Self {
        Self {
            seen: Mutex::default(),
            nonce: random_token(),
        }
    }
}

/// Refuses a refresh whose proof's key is not the one the grant is bound
/// to (`bound`, from the database).
pub fn check_binding(bound: Option<String>, jkt: Option<&str>) -> Result<(), OAuthError> {
    match (bound, jkt) {
        (None, _) => Ok(()),
        (Some(bound), Some(jkt)) if bound == jkt => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "the refresh token is bound to another DPoP key",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "the refresh token is DPoP-bound: send a DPoP proof from its key",
        )),
    }
}

/// A refused proof: `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce.
#[derive(Debug)]
pub enum Refusal {
    /// The proof is bad; why.
    Invalid(&'static str),
    /// The proof lacks this AS's nonce.
    UseNonce(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (error, description, nonce) = match self {
            Refusal::Invalid(why) => ("invalid_dpop_proof", why, None),
            Refusal::UseNonce(nonce) => (
                "use_dpop_nonce",
                "the authorization server requires a DPoP nonce",
                Some(nonce),
            ),
        };
        tracing::info!(error, description, "DPoP proof refused");
        let body = serde_json::json!({"error": error, "error_description": description});
        let mut response = (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert("dpop-nonce", value);
        }
        response
    }
}

/// The thumbprint of the proof's key if the token request carries a good
/// proof; `None` without one (a bearer token is issued); `Err` for a bad one.
pub fn token_request(state: &AsState, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(Refusal::Invalid("more than one DPoP header"));
    }
    let proof = proof
        .to_str()
        .map_err(|_| Refusal::Invalid("the proof is not text"))?;
    let htu = format!("{}/token", state.config.issuer.trim_end_matches('/'));
    let checked = check(proof, "POST", &htu, now())?;
    if state.config.dpop_nonce && checked.nonce.as_deref() != Some(state.dpop.nonce.as_str()) {
        return Err(Refusal::UseNonce(state.dpop.nonce.clone()));
    }
    let mut seen = lock(&state.dpop.seen);
    let cutoff = now() - MAX_AGE - MAX_SKEW;
    seen.retain(|_, at| *at >= cutoff);
    if seen.insert(checked.jti, checked.iat).is_some() {
        return Err(Refusal::Invalid("the proof was used before (jti)"));
    }
    Ok(Some(checked.jkt))
}

/// The DPoP-Nonce header to send with every answer, when nonces are required.
pub fn nonce_header(state: &AsState) -> Option<HeaderValue> {
    state
        .config
        .dpop_nonce
        .then(|| HeaderValue::from_str(&state.dpop.nonce).ok())
        .flatten()
}

/// What a checked proof says.
struct Checked {
    jkt: String,
    jti: String,
    iat: i64,
    nonce: Option<String>,
}

fn part(text: &str) -> Result<Value, Refusal> {
    let bytes = B64
        .decode(text)
        .map_err(|_| Refusal::Invalid("the proof is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| Refusal::Invalid("the proof is not JSON"))
}

fn coordinate(jwk: &Value, name: &str) -> Result<Vec<u8>, Refusal> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|c| B64.decode(c).ok())
        .filter(|c| c.len() == 32)
        .ok_or(Refusal::Invalid("the jwk is not a P-256 public key"))
}

fn check(proof: &str, htm: &str, htu: &str, now: i64) -> Result<Checked, Refusal> {
    let mut parts = proof.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Invalid("the proof is not a compact JWS"));
    };
    let header = part(head)?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(Refusal::Invalid("typ is not dpop+jwt"));
    }
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(Refusal::Invalid("alg is not ES256"));
    }
    let jwk = header
        .get("jwk")
        .ok_or(Refusal::Invalid("the proof has no jwk"))?;
    if jwk.get("kty").and_then(Value::as_str) != Some("EC")
        || jwk.get("crv").and_then(Value::as_str) != Some("P-256")
        || jwk.get("d").is_some()
    {
        return Err(Refusal::Invalid("the jwk is not a P-256 public key"));
    }
    let (x, y) = (coordinate(jwk, "x")?, coordinate(jwk, "y")?);
    let mut point = vec![4u8];
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let key = VerifyingKey::from_sec1_bytes(&point)
        .map_err(|_| Refusal::Invalid("the jwk is not a point on P-256"))?;
    let signature = B64
        .decode(sig)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or(Refusal::Invalid("the signature is malformed"))?;
    key.verify(format!("{head}.{body}").as_bytes(), &signature)
        .map_err(|_| Refusal::Invalid("the signature does not verify"))?;
    let claims = part(body)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("htm") != Some(htm) {
        return Err(Refusal::Invalid("htm does not match the request"));
    }
    if text("htu").map(without_query) != Some(without_query(htu)) {
        return Err(Refusal::Invalid("htu does not match the request"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(Refusal::Invalid("the proof has no iat"))?;
    if iat < now - MAX_AGE || iat > now + MAX_SKEW {
        return Err(Refusal::Invalid("the proof is too old or from the future"));
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or(Refusal::Invalid("the proof has no jti"))?
        .to_string();
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        B64.encode(&x),
        B64.encode(&y)
    );
    Ok(Checked {
        jkt: B64.encode(Sha256::digest(canonical.as_bytes())),
        jti,
        iat,
        nonce: text("nonce").map(str::to_string),
    })
}

/// A URL as compared in `htu`: without query and fragment.
fn without_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer as _;

    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        let _ = key;
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(signature.to_bytes()))
    }

    fn jwk(key: &SigningKey) -> Value {
        let point = key.verifying_key().to_encoded_point(false);
        serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())})
    }

    #[test]
    fn good_proofs_pass_and_each_broken_part_is_refused() {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk(&key)});
        let claims = serde_json::json!({"htm": "POST", "htu": "http://as.test/token", "iat": 1000, "jti": "j1"});
        let good = proof(&key, header.clone(), claims.clone());
        let checked = check(&good, "POST", "http://as.test/token", 1010)
            .ok()
            .unwrap();
        assert_eq!(checked.jti, "j1");
        assert_eq!(checked.jkt.len(), 43);
        let refused =
            |p: &str, htm: &str, now: i64| check(p, htm, "http://as.test/token", now).is_err();
        assert!(refused(&good, "GET", 1010), "htm");
        assert!(refused(&good, "POST", 2000), "too old");
        let mut typ = header.clone();
        typ["typ"] = "JWT".into();
        assert!(
            refused(&proof(&key, typ, claims.clone()), "POST", 1010),
            "typ"
        );
        let other = SigningKey::random(&mut rand::rngs::OsRng);
        let mut swapped = header.clone();
        swapped["jwk"] = jwk(&other);
        assert!(
            refused(&proof(&key, swapped, claims.clone()), "POST", 1010),
            "signature by another key"
        );
        let mut htu = claims.clone();
        htu["htu"] = "http://as.test/other".into();
        assert!(refused(&proof(&key, header, htu), "POST", 1010), "htu");
    }
}
