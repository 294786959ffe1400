//! The organization's identity provider: its OpenID Connect configuration,
//! checked like an authorization server's, and the code exchange and the
//! refresh that return an ID token.

use super::IdToken;
use super::IdpError;
use super::wire::{Answer, form, post};
use crate::discovery::{self, DiscoveryError};
use crate::error::EngineError;
use crate::http::HttpClient;
use crate::secret::{AuthCode, RefreshToken};
use crate::token::{self, TokenError};
use crate::url_policy;
use serde::Deserialize;

/// The IdP's OpenID Connect configuration (the fields used here).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IdpMetadata {
    /// Its issuer, exactly as asked for.
    pub issuer: String,
    /// Where the browser signs in (absent at an IdP used only for exchanges).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Code, refresh and token exchange requests.
    pub token_endpoint: String,
    /// RFC 7009 revocation, for signing out.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// PKCE methods; the browser sign-in needs `S256`.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: callbacks carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// What the IdP returned at sign-in or refresh.
#[derive(Debug)]
pub struct IdpTokens {
    /// The ID token.
    pub id_token: IdToken,
    /// Its refresh token (rotated at each refresh), when it issued one.
    pub refresh_token: Option<RefreshToken>,
}

/// Fetches and checks the IdP's OpenID Connect configuration: first at
/// `<issuer>/.well-known/openid-configuration`, then at the RFC 8414 places.
/// Its `issuer` must be the one asked for, character for character, and its
/// endpoints on the issuer's origin.
pub async fn fetch_idp_metadata(
    http: &HttpClient,
    issuer: &str,
) -> Result<IdpMetadata, EngineError> {
    let issuer_url = url_policy::check_user_url(issuer)?;
    if issuer_url.query().is_some() || issuer_url.fragment().is_some() {
        return Err(DiscoveryError::InvalidIssuer {
            issuer: url_policy::redact(&issuer_url),
        }
        .into());
    }
    let mut appended = issuer_url.clone();
    appended.set_path(&format!(
        "{}/.well-known/openid-configuration",
        issuer_url.path().trim_end_matches('/')
    ));
    let mut urls = vec![appended.clone()];
    urls.extend(
        discovery::metadata_urls(&issuer_url)
            .into_iter()
            .filter(|u| *u != appended),
    );
    for url in urls {
        let response = http.get_json(&url).await.map_err(DiscoveryError::from)?;
        if !response.status.is_success() {
            continue;
        }
        let Some(metadata) = response.json::<IdpMetadata>() else {
            continue;
        };
        if metadata.issuer != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: issuer.to_string(),
                found: crate::text::untrusted(&metadata.issuer, 300),
            }
            .into());
        }
        let endpoints = [
            Some(&metadata.token_endpoint),
            metadata.authorization_endpoint.as_ref(),
            metadata.revocation_endpoint.as_ref(),
        ];
        for endpoint in endpoints.into_iter().flatten() {
            let checked = url_policy::check_endpoint(endpoint, &issuer_url)?;
            if checked.origin() != issuer_url.origin() {
                return Err(DiscoveryError::ForeignEndpoint {
                    endpoint: "token",
                    url: url_policy::redact(&checked),
                    issuer: issuer.to_string(),
                    hosts: vec![crate::providers::authority(&checked)],
                }
                .into());
            }
        }
        return Ok(metadata);
    }
    Err(DiscoveryError::NoMetadata {
        issuer: issuer.to_string(),
    }
    .into())
}

/// Exchanges the IdP's authorization code (PKCE) for its ID token and
/// refresh token.
pub async fn redeem_code(
    http: &HttpClient,
    idp: &IdpMetadata,
    client_id: &str,
    code: &AuthCode,
    verifier: &str,
    redirect_uri: &str,
) -> Result<IdpTokens, EngineError> {
    let form = form(&[
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ]);
    idp_tokens(http, &idp.token_endpoint, form, client_id).await
}

/// Gets a fresh ID token with the IdP's refresh token.
pub async fn refresh_id_token(
    http: &HttpClient,
    idp: &IdpMetadata,
    client_id: &str,
    refresh_token: &RefreshToken,
) -> Result<IdpTokens, EngineError> {
    let form = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
        ("client_id", client_id),
    ]);
    idp_tokens(http, &idp.token_endpoint, form, client_id).await
}

async fn idp_tokens(
    http: &HttpClient,
    endpoint: &str,
    form: String,
    client_id: &str,
) -> Result<IdpTokens, EngineError> {
    let (status, body) = post(http, endpoint, form, None, None).await?;
    if !(200..300).contains(&status) {
        return Err(match token::parse_answer(status, &body) {
            Err(e) => e.into(),
            Ok(_) => TokenError::Malformed(format!("HTTP {status}")).into(),
        });
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|e| TokenError::Malformed(crate::text::untrusted(&e.to_string(), 300)))?;
    let Some(id_token) = answer.id_token.filter(|t| t.split('.').count() == 3) else {
        return Err(IdpError::NoIdToken {
            client_id: client_id.to_string(),
        }
        .into());
    };
    Ok(IdpTokens {
        id_token: IdToken::new(id_token),
        refresh_token: answer.refresh_token.map(RefreshToken::new),
    })
}
