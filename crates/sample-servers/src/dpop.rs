//! DPoP-bound tokens (RFC 9449 section 7) at a sample server.
//!
//! A token with `cnf.jkt` is bound: it is accepted only as
//! `Authorization: DPoP <token>` with a `DPoP` proof signed by the key whose
//! thumbprint is that `jkt`, naming this request's method and this
//! server's URL, made within the last minute, never replayed, with `ath`
//! the token's hash and this server's current nonce (else 401
//! `use_dpop_nonce` with a `DPoP-Nonce` header). The same token sent as
//! `Bearer` is refused: a copied token alone is worthless.
//!
//! This is the resource server's side of the wire; it shares no code with
//! the client (the proof is checked through `jsonwebtoken`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How old a proof may be, seconds.
const MAX_AGE: i64 = 60;
/// How far ahead its `iat` may be (clock skew), seconds.
const MAX_SKEW: i64 = 5;

/// Why a request's token or proof was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The token is used the wrong way (a bound token as bearer, or the reverse).
    Token(&'static str),
    /// The proof is bad.
    Proof(&'static str),
    /// The proof lacks this server's nonce; the nonce to use.
    Nonce(String),
}

/// This server's proof checks: its URL, its nonce and the proofs seen.
#[derive(Debug)]
pub(crate) struct DpopCheck {
    resource: String,
    nonce: String,
    seen: Mutex<HashMap<String, i64>>,
}

impl DpopCheck {
    /// Checks for the server at `resource`, with a fresh random nonce.
    pub fn new(resource: &str) -> Self {
        let mut bytes = [0u8; 24];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        Self {
            resource: resource.to_string(),
            nonce: B64.encode(bytes),
            seen: Mutex::default(),
        }
    }

    fn verify(
        &self,
        headers: &http::HeaderMap,
        method: &http::Method,
        token: &str,
        jkt: &str,
    ) -> Result<(), Refusal> {
        let mut proofs = headers.get_all("dpop").iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(Refusal::Proof("not exactly one DPoP proof"));
        };
        let proof = proof
            .to_str()
            .map_err(|_| Refusal::Proof("proof is not text"))?;
        let header = jsonwebtoken::decode_header(proof)
            .map_err(|_| Refusal::Proof("proof header is malformed"))?;
        if header.typ.as_deref() != Some("dpop+jwt") || header.alg != Algorithm::ES256 {
            return Err(Refusal::Proof("proof is not an ES256 dpop+jwt"));
        }
        let raw_header: Value = proof
            .split('.')
            .next()
            .and_then(|h| B64.decode(h).ok())
            .and_then(|h| serde_json::from_slice(&h).ok())
            .unwrap_or_default();
        if raw_header.pointer("/jwk/d").is_some() {
            return Err(Refusal::Proof("proof key includes a private part"));
        }
        let jwk = header.jwk.ok_or(Refusal::Proof("proof has no jwk"))?;
        let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
            return Err(Refusal::Proof("proof key is not EC"));
        };
        if ec.curve != EllipticCurve::P256 {
            return Err(Refusal::Proof("proof key is not P-256"));
        }
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            ec.x, ec.y
        );
        if B64.encode(Sha256::digest(canonical.as_bytes())) != jkt {
            return Err(Refusal::Proof("proof key is not the token's (cnf.jkt)"));
        }
        let key =
            DecodingKey::from_jwk(&jwk).map_err(|_| Refusal::Proof("proof key is unusable"))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
            .map_err(|_| Refusal::Proof("proof signature does not verify"))?
            .claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        if text("htm") != Some(method.as_str()) {
            return Err(Refusal::Proof("htm is not this request's method"));
        }
        let htu = text("htu").map(|u| u.split(['?', '#']).next().unwrap_or(u));
        if htu != Some(self.resource.as_str()) {
            return Err(Refusal::Proof("htu is not this server's URL"));
        }
        if text("ath") != Some(B64.encode(Sha256::digest(token.as_bytes())).as_str()) {
            return Err(Refusal::Proof("ath is not this token's hash"));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(Refusal::Proof("proof has no iat"))?;
        if iat < now - MAX_AGE || iat > now + MAX_SKEW {
            return Err(Refusal::Proof("proof is too old or from the future"));
        }
        if text("nonce") != Some(self.nonce.as_str()) {
            return Err(Refusal::Nonce(self.nonce.clone()));
        }
        let jti = text("jti")
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(Refusal::Proof("proof has no jti"))?;
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, at| *at >= now - MAX_AGE - MAX_SKEW);
        if seen.insert(jti.to_string(), iat).is_some() {
            return Err(Refusal::Proof("proof was used before (jti)"));
        }
        Ok(())
    }
}

/// The token of an `Authorization: DPoP ...` header, if there is one.
pub(crate) fn dpop_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("dpop") && !token.is_empty()).then_some(token)
}

/// Whether a verified token may be used the way it came: a plain token as
/// `Bearer`; a bound one (`jkt`) only as `DPoP` with a good proof.
pub(crate) fn gate(
    check: Option<&DpopCheck>,
    headers: &http::HeaderMap,
    method: &http::Method,
    token: &str,
    with_proof: bool,
    jkt: Option<&str>,
) -> Result<(), Refusal> {
    match (jkt, with_proof, check) {
        (None, false, _) => Ok(()),
        (None, true, _) => Err(Refusal::Token("DPoP scheme with an unbound token")),
        (Some(_), false, _) => Err(Refusal::Token("DPoP-bound token used as a bearer token")),
        (Some(_), true, None) => Err(Refusal::Token("DPoP is not enabled on this server")),
        (Some(jkt), true, Some(check)) => check.verify(headers, method, token, jkt),
    }
}
