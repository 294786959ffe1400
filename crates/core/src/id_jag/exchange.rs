//! RFC 8693 at the IdP: the user's ID token exchanged for an ID-JAG that
//! names one authorization server and one MCP server.

use super::wire::{Answer, claims, form, post};
use super::{ID_JAG_TYPE, ID_TOKEN_TYPE, IdToken, IdpError, TOKEN_EXCHANGE_GRANT};
use crate::error::EngineError;
use crate::http::HttpClient;
use crate::token::{self, TokenError};

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
