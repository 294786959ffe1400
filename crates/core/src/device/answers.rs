//! What the AS answers: the device authorization endpoint's code, and the
//! token endpoint's tokens or error, read into this crate's terms with
//! every text from the AS filtered.

use super::DeviceError;
use crate::secret::{AccessToken, RefreshToken};
use crate::token::{TokenError, Tokens};
use std::time::Duration;

/// What the device authorization endpoint answers (RFC 8628 section 3.2).
#[derive(serde::Deserialize)]
pub(super) struct Answer {
    pub(super) device_code: String,
    pub(super) user_code: String,
    #[serde(alias = "verification_url")]
    pub(super) verification_uri: String,
    #[serde(default)]
    pub(super) verification_uri_complete: Option<String>,
    pub(super) expires_in: u64,
    #[serde(default)]
    pub(super) interval: Option<u64>,
}

/// A token endpoint answer, success or error (RFC 6749 sections 5.1, 5.2).
#[derive(serde::Deserialize)]
pub(super) struct TokenAnswer {
    #[serde(default)]
    pub(super) access_token: Option<String>,
    #[serde(default)]
    pub(super) token_type: Option<String>,
    #[serde(default)]
    pub(super) expires_in: Option<u64>,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
    #[serde(default)]
    pub(super) scope: Option<String>,
    #[serde(default)]
    pub(super) error: Option<String>,
    #[serde(default)]
    pub(super) error_description: Option<String>,
}

pub(super) fn untrusted(text: &str) -> String {
    crate::text::untrusted(text, 300)
}

pub(super) fn tokens_of(answer: TokenAnswer) -> Result<Tokens, DeviceError> {
    let access = answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Malformed("no access_token in the answer".into()))?;
    if !answer
        .token_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
    {
        return Err(TokenError::Malformed("the token_type is not Bearer".into()).into());
    }
    Ok(Tokens {
        access_token: AccessToken::new(access),
        refresh_token: answer.refresh_token.map(RefreshToken::new),
        expires_in: answer.expires_in.map(Duration::from_secs),
        scope: answer.scope,
        dpop_bound: false,
    })
}

/// The OAuth error in a failed answer, in the token module's terms.
pub(super) fn error_of(body: &[u8]) -> TokenError {
    let answer: Option<TokenAnswer> = serde_json::from_slice(body).ok();
    let (error, description) = match answer {
        Some(a) => (
            untrusted(a.error.as_deref().unwrap_or("unknown_error")),
            untrusted(a.error_description.as_deref().unwrap_or("")),
        ),
        None => return TokenError::Malformed("the answer is not JSON".into()),
    };
    match error.as_str() {
        "invalid_grant" => TokenError::InvalidGrant(description),
        "invalid_client" | "unauthorized_client" => TokenError::InvalidClient(description),
        "invalid_target" => TokenError::Refused {
            what: "resource",
            description,
        },
        "invalid_scope" => TokenError::Refused {
            what: "scope",
            description,
        },
        _ => TokenError::Other { error, description },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_keep_their_meaning_and_lose_control_characters() {
        let e = error_of(br#"{"error":"invalid_grant","error_description":"gone\u001b[2J"}"#);
        assert!(
            matches!(&e, TokenError::InvalidGrant(d) if d == "gone[2J"),
            "{e:?}"
        );
        let e = error_of(br#"{"error":"unauthorized_client"}"#);
        assert!(matches!(e, TokenError::InvalidClient(_)), "{e:?}");
        assert!(matches!(error_of(b"<html>"), TokenError::Malformed(_)));
    }

    #[test]
    fn a_token_answer_without_bearer_is_refused() {
        let answer: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"a","token_type":"mac"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(tokens_of(answer).is_err());
    }
}
