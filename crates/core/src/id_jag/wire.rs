//! What the IdP's and the AS's requests share on the wire: the form body,
//! HTTP Basic client authentication, the POST (with a DPoP proof when
//! asked), the token endpoint's answer, and a JWT's unverified claims.

use crate::http::HttpClient;
use crate::secret::ClientSecret;
use crate::token::TokenError;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// When an ID token (or any JWT) expires, from its unverified `exp` claim:
/// the engine only uses it to know when to ask for a new one.
pub fn expiry(jwt: &str) -> Option<DateTime<Utc>> {
    let exp = claims(jwt)?.get("exp")?.as_i64()?;
    DateTime::from_timestamp(exp, 0)
}

pub(super) fn claims(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    if payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[derive(Deserialize)]
pub(super) struct Answer {
    #[serde(default)]
    pub(super) access_token: Option<String>,
    #[serde(default)]
    pub(super) id_token: Option<String>,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
    #[serde(default)]
    pub(super) issued_token_type: Option<String>,
}

pub(super) fn form(pairs: &[(&str, &str)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        form.append_pair(key, value);
    }
    form.finish()
}

/// RFC 6749 section 2.3.1: each part form-encoded, then base64.
pub(super) fn basic_auth(client_id: &str, secret: &ClientSecret) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

pub(super) async fn post(
    http: &HttpClient,
    endpoint: &str,
    body: String,
    basic: Option<String>,
    prover: Option<crate::dpop::Prover<'_>>,
) -> Result<(u16, Vec<u8>), TokenError> {
    let mut builder = http::Request::builder()
        .method(http::Method::POST)
        .uri(endpoint)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json");
    if let Some(basic) = basic {
        builder = builder.header(http::header::AUTHORIZATION, basic);
    }
    let request = builder
        .body(body.into_bytes())
        .map_err(|e| TokenError::Malformed(e.to_string()))?;
    let response = match prover {
        Some(prover) => {
            use oauth2::AsyncHttpClient as _;
            crate::dpop::ProvingClient { http, prover }
                .call(request)
                .await?
        }
        None => http.oauth_call(request).await?,
    };
    Ok((response.status().as_u16(), response.body().clone()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            enc(br#"{"alg":"ES256"}"#),
            enc(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn expiry_reads_exp_and_refuses_what_is_not_a_jwt() {
        let t = jwt(serde_json::json!({"exp": 1_800_000_000, "sub": "u"}));
        assert_eq!(expiry(&t).unwrap().timestamp(), 1_800_000_000);
        assert_eq!(expiry("not-a-jwt"), None);
        assert_eq!(expiry(&jwt(serde_json::json!({"sub": "u"}))), None);
    }

    #[test]
    fn basic_auth_form_encodes_each_part() {
        let header = basic_auth("a b", &ClientSecret::new("s:1"));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "a+b:s%3A1");
    }
}
