//! Enterprise-Managed Authorization on the wire (SEP-990, extension
//! `io.modelcontextprotocol/enterprise-managed-authorization`;
//! draft-ietf-oauth-identity-assertion-authz-grant): the organization's
//! identity provider (OpenID Connect discovery, the code exchange and the
//! refresh that return an ID token), the RFC 8693 token exchange of that ID
//! token for an Identity Assertion JWT Authorization Grant (ID-JAG), and the
//! RFC 7523 JWT bearer grant that presents the ID-JAG at an MCP server's
//! authorization server. No engine state here: `engine::enterprise` keeps
//! the grant.

use crate::discovery::{self, DiscoveryError};
use crate::error::EngineError;
use crate::http::HttpClient;
use crate::metadata::AsMetadata;
use crate::secret::{AuthCode, ClientSecret, RefreshToken};
use crate::token::{self, TokenError, Tokens};
use crate::url_policy;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use crate::client_assertion::JWT_BEARER_GRANT;

/// RFC 8693's grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token's type: an OpenID Connect ID token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The requested token's type: an ID-JAG.
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// What the desktop client is called at the IdP unless configured otherwise
/// (enterprises pre-register it; there is no dynamic registration there).
pub const DEFAULT_IDP_CLIENT_ID: &str = "mcp-passport";
/// What is asked of the IdP at sign-in: an ID token, and a refresh token to
/// get the next one without a browser.
pub const IDP_SCOPE: &str = "openid offline_access";

pub use crate::secret::IdToken;

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

/// What went wrong with the organization's identity provider or the
/// enterprise grant at one server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdpError {
    /// The IdP sent no ID token.
    #[error(
        "the identity provider sent no ID token; check that the client id {client_id} may use OpenID Connect (scope openid) there"
    )]
    NoIdToken {
        /// The client id used at the IdP.
        client_id: String,
    },
    /// The IdP offers no browser sign-in this client can use.
    #[error(
        "the identity provider {issuer} offers no browser sign-in with PKCE (S256); use an ID token from your organization's sign-in tool instead"
    )]
    NoBrowserSignIn {
        /// The IdP.
        issuer: String,
    },
    /// The IdP's policy refused an ID-JAG for this server.
    #[error(
        "your organization's identity provider refused access to {resource} ({error}: {description}); ask your administrator for access, or sign in to that server directly"
    )]
    Denied {
        /// The server's resource URL.
        resource: String,
        /// The OAuth error code.
        error: String,
        /// The IdP's own words (untrusted, filtered).
        description: String,
    },
    /// The IdP answered the exchange with something that is not an ID-JAG.
    #[error(
        "the identity provider answered the token exchange with {0} instead of an ID-JAG; check that it supports Enterprise-Managed Authorization"
    )]
    NotAnIdJag(String),
    /// The server's AS does not take ID-JAGs.
    #[error(
        "the authorization server {issuer} of {server} does not accept enterprise sign-in (its metadata lists no JWT bearer grant); sign in to that server directly"
    )]
    NoGrantProfile {
        /// The MCP server.
        server: String,
        /// Its AS.
        issuer: String,
    },
    /// No client id at the server's AS: neither configured nor named by the IdP.
    #[error(
        "no client id is known for this application at {issuer}; give the client id your administrator registered there"
    )]
    NoClientId {
        /// The AS.
        issuer: String,
    },
}

/// What the IdP returned at sign-in or refresh.
#[derive(Debug)]
pub struct IdpTokens {
    /// The ID token.
    pub id_token: IdToken,
    /// Its refresh token (rotated at each refresh), when it issued one.
    pub refresh_token: Option<RefreshToken>,
}

/// An ID-JAG from the IdP.
#[derive(Debug)]
pub struct IdJag {
    /// The assertion (a JWT; never log it).
    pub assertion: IdToken,
    /// The client id at the AS it was issued for (its `client_id` claim).
    pub client_id: Option<String>,
}

/// One token exchange: the ID token for an ID-JAG naming one AS and one server.
#[derive(Debug)]
pub struct JagRequest<'a> {
    /// The IdP's token endpoint.
    pub token_endpoint: &'a str,
    /// This client's id at the IdP (a public client).
    pub client_id: &'a str,
    /// The user's ID token.
    pub id_token: &'a IdToken,
    /// The AS's issuer (`audience`).
    pub audience: &'a str,
    /// The MCP server's resource URL (`resource`).
    pub resource: &'a str,
    /// The scope the server asks for, if any.
    pub scope: Option<&'a str>,
}

/// One JWT bearer grant at an AS.
#[derive(Debug)]
pub struct BearerRequest<'a> {
    /// The AS.
    pub metadata: &'a AsMetadata,
    /// This application's client id there.
    pub client_id: &'a str,
    /// Its secret (client_secret_basic, or post where only that is offered);
    /// `None` for a public client.
    pub secret: Option<&'a ClientSecret>,
    /// The ID-JAG.
    pub assertion: &'a IdToken,
    /// The MCP server's resource URL.
    pub resource: Option<&'a str>,
    /// The scope, if any.
    pub scope: Option<&'a str>,
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

/// RFC 8693: the ID token for an ID-JAG for one AS and one server. The
/// IdP's refusal by policy comes back as [`IdpError::Denied`].
pub async fn exchange_for_id_jag(
    http: &HttpClient,
    request: &JagRequest<'_>,
) -> Result<IdJag, EngineError> {
    let mut pairs = vec![
        ("grant_type", TOKEN_EXCHANGE_GRANT),
        ("requested_token_type", ID_JAG_TYPE),
        ("audience", request.audience),
        ("resource", request.resource),
        ("subject_token", request.id_token.expose()),
        ("subject_token_type", ID_TOKEN_TYPE),
        ("client_id", request.client_id),
    ];
    if let Some(scope) = request.scope.filter(|s| !s.trim().is_empty()) {
        pairs.push(("scope", scope));
    }
    let (status, body) = post(http, request.token_endpoint, form(&pairs), None, None).await?;
    if !(200..300).contains(&status) {
        return Err(match token::parse_answer(status, &body) {
            Err(TokenError::Other { error, description })
                if error == "access_denied" || error == "unauthorized_client" =>
            {
                IdpError::Denied {
                    resource: request.resource.to_string(),
                    error,
                    description,
                }
                .into()
            }
            Err(e) => e.into(),
            Ok(_) => TokenError::Malformed(format!("HTTP {status}")).into(),
        });
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|e| TokenError::Malformed(crate::text::untrusted(&e.to_string(), 300)))?;
    if let Some(kind) = answer.issued_token_type.as_deref()
        && kind != ID_JAG_TYPE
    {
        return Err(IdpError::NotAnIdJag(crate::text::untrusted(kind, 120)).into());
    }
    let Some(assertion) = answer.access_token.filter(|t| t.split('.').count() == 3) else {
        return Err(IdpError::NotAnIdJag("a token that is not a JWT".into()).into());
    };
    let client_id = claims(&assertion)
        .and_then(|c| c.get("client_id")?.as_str().map(str::to_string))
        .filter(|c| !c.is_empty() && c.len() <= 512 && !c.chars().any(char::is_control));
    Ok(IdJag {
        assertion: IdToken::new(assertion),
        client_id,
    })
}

/// RFC 7523: the ID-JAG for an access token at the server's AS, with this
/// application's client authentication there, and a DPoP proof when `prover`
/// is given.
pub async fn jwt_bearer(
    http: &HttpClient,
    request: &BearerRequest<'_>,
    prover: Option<crate::dpop::Prover<'_>>,
) -> Result<Tokens, EngineError> {
    let mut pairs = vec![
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", request.assertion.expose()),
    ];
    if let Some(resource) = request.resource {
        pairs.push(("resource", resource));
    }
    if let Some(scope) = request.scope.filter(|s| !s.trim().is_empty()) {
        pairs.push(("scope", scope));
    }
    let post_only = request
        .metadata
        .token_endpoint_auth_methods_supported
        .as_ref()
        .is_some_and(|m| {
            m.iter().any(|x| x == "client_secret_post")
                && !m.iter().any(|x| x == "client_secret_basic")
        });
    let mut basic = None;
    match request.secret {
        Some(secret) if post_only => {
            pairs.push(("client_id", request.client_id));
            pairs.push(("client_secret", secret.expose()));
        }
        Some(secret) => basic = Some(basic_auth(request.client_id, secret)),
        None => pairs.push(("client_id", request.client_id)),
    }
    let (status, body) = post(
        http,
        &request.metadata.token_endpoint,
        form(&pairs),
        basic,
        prover,
    )
    .await?;
    Ok(token::parse_answer(status, &body)?)
}

/// When an ID token (or any JWT) expires, from its unverified `exp` claim:
/// the engine only uses it to know when to ask for a new one.
pub fn expiry(jwt: &str) -> Option<DateTime<Utc>> {
    let exp = claims(jwt)?.get("exp")?.as_i64()?;
    DateTime::from_timestamp(exp, 0)
}

fn claims(jwt: &str) -> Option<serde_json::Value> {
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
struct Answer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    issued_token_type: Option<String>,
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

fn form(pairs: &[(&str, &str)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        form.append_pair(key, value);
    }
    form.finish()
}

/// RFC 6749 section 2.3.1: each part form-encoded, then base64.
fn basic_auth(client_id: &str, secret: &ClientSecret) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn post(
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
