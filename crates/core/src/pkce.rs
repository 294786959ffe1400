//! PKCE (RFC 7636, S256 only) and `state` values for authorization requests.
//!
//! Why: PKCE binds the code to this app instance (an injected or stolen
//! code fails at the token endpoint, SECURITY-CASES 9) and `state` binds
//! the callback to one pending flow (cases 1 and 2). Both must be
//! unguessable, so both come from the OS random source. Only S256 exists
//! here: `oauth2`'s `pkce-plain` feature stays off and nothing builds a
//! `plain` challenge (case 16). `oauth2`'s verifier type is not `Clone`, so
//! one verifier serves exactly one flow.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use rand::RngCore as _;

/// A fresh S256 challenge and its verifier (32 random bytes: 43
/// base64url characters, 256 bits).
pub fn new_pkce() -> (PkceCodeChallenge, PkceCodeVerifier) {
    PkceCodeChallenge::new_random_sha256()
}

/// A fresh `state` value: 256 random bits from the OS, base64url without
/// padding (43 characters).
pub fn new_state() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn challenge_is_s256_of_the_verifier() {
        let (challenge, verifier) = new_pkce();
        assert_eq!(challenge.method().as_str(), "S256");
        let expected = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.secret().as_bytes()));
        assert_eq!(challenge.as_str(), expected);
        assert!(verifier.secret().len() >= 43);
        let state = new_state();
        assert_eq!(state.len(), 43);
        assert!(
            state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
