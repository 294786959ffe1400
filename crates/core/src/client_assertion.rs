//! The JWTs a machine presents at a token endpoint: the RFC 7523 client
//! assertion it signs itself (`private_key_jwt`), and the workload identity
//! JWT its platform issues (SEP-1933 JWT bearer grant).
//!
//! Both are read from files the user (or the platform) manages, at every
//! token request: the private key stays where the user keeps it and rotates
//! there, and a platform's workload JWT expires within minutes and is
//! replaced in place. Nothing read here is ever logged.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::path::Path;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 section 2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The JWT bearer grant type (RFC 7523 section 2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long a client assertion is valid: long enough for one request.
const LIFETIME_SECS: i64 = 60;

/// Why a machine credential could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}; check the path and its permissions")]
    Unreadable {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The private key file holds no key this application can sign with.
    #[error(
        "{path} holds no usable private key: give a PEM file with a PKCS#8 EC P-256/P-384 or RSA private key"
    )]
    BadKey {
        /// The file.
        path: String,
    },
    /// The assertion file does not hold a JWT.
    #[error(
        "{path} does not hold a JWT (three base64url parts separated by dots); point --assertion-file at your platform's identity token"
    )]
    NotAJwt {
        /// The file.
        path: String,
    },
    /// Something the machine sign-in needs was not given.
    #[error("{0}")]
    Incomplete(&'static str),
    /// The authorization server's metadata lists its grant types, and this
    /// one is not among them.
    #[error(
        "{issuer} does not offer the {grant} grant (it lists: {offered}); have it enabled for this client at the authorization server, or sign in as a person instead"
    )]
    GrantNotOffered {
        /// The issuer.
        issuer: String,
        /// The grant type asked for.
        grant: &'static str,
        /// The grant types it lists.
        offered: String,
    },
}

fn read(path: &Path) -> Result<String, AssertionError> {
    std::fs::read_to_string(path).map_err(|e| AssertionError::Unreadable {
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    })
}

/// Reads the workload's JWT from `path`, as the platform last wrote it.
pub fn read_assertion(path: &Path) -> Result<String, AssertionError> {
    let text = read(path)?;
    let jwt = text.trim();
    let parts: Vec<&str> = jwt.split('.').collect();
    let base64url = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if parts.len() != 3 || !parts[..2].iter().all(|p| base64url(p)) {
        return Err(AssertionError::NotAJwt {
            path: path.display().to_string(),
        });
    }
    Ok(jwt.to_string())
}

/// Signs a client assertion for `client_id` at the AS `audience` (its
/// issuer) with the private key in the PEM file at `key_file`: `iss` and
/// `sub` are the client id, a fresh `jti`, valid for one minute.
pub fn sign_client_assertion(
    key_file: &Path,
    client_id: &str,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<String, AssertionError> {
    let pem = read(key_file)?;
    sign_with_pem(&pem, client_id, audience, now).ok_or_else(|| AssertionError::BadKey {
        path: key_file.display().to_string(),
    })
}

fn sign_with_pem(pem: &str, client_id: &str, audience: &str, now: DateTime<Utc>) -> Option<String> {
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now.timestamp(),
        "exp": now.timestamp() + LIFETIME_SECS,
        "jti": crate::pkce::new_state(),
    });
    let sign = |alg: Algorithm, key: Option<EncodingKey>| {
        jsonwebtoken::encode(&Header::new(alg), &claims, &key?).ok()
    };
    let bytes = pem.as_bytes();
    sign(Algorithm::ES256, EncodingKey::from_ec_pem(bytes).ok())
        .or_else(|| sign(Algorithm::ES384, EncodingKey::from_ec_pem(bytes).ok()))
        .or_else(|| sign(Algorithm::RS256, EncodingKey::from_rsa_pem(bytes).ok()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};

    #[test]
    fn a_p256_key_signs_an_es256_assertion_with_the_rfc_7523_claims() {
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let now = Utc::now();
        let jwt = sign_with_pem(&pem, "agent-7", "https://as.example", now).unwrap();
        let public = key.public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://as.example"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &validation).unwrap();
        assert_eq!(data.claims["iss"], "agent-7");
        assert_eq!(data.claims["sub"], "agent-7");
        assert_eq!(data.claims["exp"], now.timestamp() + LIFETIME_SECS);
        let other = sign_with_pem(&pem, "agent-7", "https://as.example", now).unwrap();
        let jti = |t: &str| {
            jsonwebtoken::decode::<serde_json::Value>(t, &decoding, &validation)
                .unwrap()
                .claims["jti"]
                .clone()
        };
        assert_ne!(jti(&jwt), jti(&other), "every assertion has its own jti");
    }

    #[test]
    fn a_file_without_a_key_or_a_jwt_is_refused_with_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "not a key").unwrap();
        let e = sign_client_assertion(&path, "c", "https://as.example", Utc::now()).unwrap_err();
        assert!(e.to_string().contains("PKCS#8"), "{e}");
        let e = read_assertion(&path).unwrap_err();
        assert!(matches!(e, AssertionError::NotAJwt { .. }), "{e}");
        let missing = dir.path().join("gone");
        assert!(matches!(
            read_assertion(&missing),
            Err(AssertionError::Unreadable { .. })
        ));
        std::fs::write(&path, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3In0.c2ln\n").unwrap();
        assert_eq!(
            read_assertion(&path).unwrap(),
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3In0.c2ln"
        );
    }
}
