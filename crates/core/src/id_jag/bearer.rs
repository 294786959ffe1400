//! RFC 7523 at the MCP server's authorization server: the ID-JAG presented
//! with this application's client authentication there, for an access token.

use super::wire::{basic_auth, form, post};
use super::{IdToken, JWT_BEARER_GRANT};
use crate::error::EngineError;
use crate::http::HttpClient;
use crate::metadata::AsMetadata;
use crate::secret::ClientSecret;
use crate::token::{self, Tokens};

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
