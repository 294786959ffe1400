//! The AS's ES256 signing key and RFC 9068 `at+jwt` access tokens.
//!
//! The key is made once and kept in the state database, so tokens issued
//! before a restart still verify after it. Verification here is only for the
//! AS's own endpoints (revocation, introspection); resource servers verify
//! through the published JWKS like any other party.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use serde_json::{Value, json};

/// A failure to load or create the signing key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The stored key did not decode.
    #[error("stored signing key is not a valid P-256 PKCS#8 key")]
    Malformed,
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] crate::db::StoreError),
}

/// The signing key with its key id.
pub struct TokenSigner {
    kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl TokenSigner {
    /// Loads the stored key, or makes and stores a new one.
    pub fn load_or_create(store: &crate::db::Store) -> Result<Self, KeyError> {
        store.tx(|c| {
            if let Some((kid, der)) = crate::db::signing_key(c)? {
                let key = SigningKey::from_pkcs8_der(&der).map_err(|_| KeyError::Malformed)?;
                return Ok(Self { kid, key });
            }
            let key = SigningKey::random(&mut rand::rngs::OsRng);
            let der = key.to_pkcs8_der().map_err(|_| KeyError::Malformed)?;
            let kid = crate::crypto::random_token()[..16].to_string();
            crate::db::put_signing_key(c, &kid, der.as_bytes(), crate::crypto::now())?;
            Ok(Self { kid, key })
        })
    }

    /// Signs `claims` as a compact JWS with `typ: at+jwt`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed("at+jwt", claims)
    }

    /// Signs `claims` as a compact JWS with the given `typ` header (`JWT`
    /// for ID tokens, `oauth-id-jag+jwt` for ID-JAGs).
    pub fn sign_typed(&self, typ: &str, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": typ, "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// The claims of a token this key signed, if the signature holds.
    /// Expiry is not checked here: callers decide what an expired token means.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let (signing_input, sig) = token.rsplit_once('.')?;
        let (header, claims) = signing_input.split_once('.')?;
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")? != "ES256" || header.get("kid")? != self.kid.as_str() {
            return None;
        }
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).ok()?).ok()?;
        VerifyingKey::from(&self.key)
            .verify(signing_input.as_bytes(), &signature)
            .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
    }

    /// The public key as an RFC 7517 JWK Set.
    pub fn jwks(&self) -> Value {
        let point = VerifyingKey::from(&self.key).to_encoded_point(false);
        let coordinate =
            |c: Option<&p256::FieldBytes>| c.map(|b| URL_SAFE_NO_PAD.encode(b)).unwrap_or_default();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": coordinate(point.x()), "y": coordinate(point.y()),
        }]})
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signed_token_verifies_and_tampered_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::db::Store::open(dir.path()).unwrap();
        let signer = TokenSigner::load_or_create(&store).unwrap();
        let token = signer.sign(&json!({"sub": "demo", "aud": ["a", "b"]}));
        assert_eq!(signer.verify(&token).unwrap()["aud"], json!(["a", "b"]));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(json!({"sub": "eve"}).to_string());
        parts[1] = &forged;
        assert!(signer.verify(&parts.join(".")).is_none());
    }

    #[test]
    fn key_survives_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let token = {
            let store = crate::db::Store::open(dir.path()).unwrap();
            TokenSigner::load_or_create(&store)
                .unwrap()
                .sign(&json!({"sub": "demo"}))
        };
        let store = crate::db::Store::open(dir.path()).unwrap();
        assert!(
            TokenSigner::load_or_create(&store)
                .unwrap()
                .verify(&token)
                .is_some()
        );
    }
}
