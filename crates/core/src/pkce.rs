//! PKCE (RFC 7636, S256 only) and `state` values for authorization requests.
//! `oauth2`'s verifier type is not `Clone`, so one verifier serves one flow.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use rand::RngCore as _;

/// A fresh S256 challenge and its verifier (43 characters, 256 bits).
pub fn new_pkce() -> (PkceCodeChallenge, PkceCodeVerifier) {
    PkceCodeChallenge::new_random_sha256()
}

/// A fresh `state` value: 256 random bits, base64url.
pub fn new_state() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;
    use std::collections::HashSet;

    #[test]
    fn sec_17_ten_thousand_flows_have_long_unique_verifiers_and_correct_challenges() {
        let mut verifiers = HashSet::new();
        let mut states = HashSet::new();
        for _ in 0..10_000 {
            let (challenge, verifier) = new_pkce();
            assert!(verifier.secret().len() >= 43);
            assert_eq!(challenge.method().as_str(), "S256");
            let expected =
                URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.secret().as_bytes()));
            assert_eq!(challenge.as_str(), expected);
            assert!(verifiers.insert(verifier.secret().clone()));
            assert!(states.insert(new_state()));
        }
    }
}
