//! RFC 8693 token exchange at the IdP: an ID token in, an ID-JAG out
//! (draft-ietf-oauth-identity-assertion-authz-grant; the MCP extension's
//! section 4).
//!
//! The subject token must be one of this IdP's own ID tokens, unexpired,
//! issued to the client that asks (`aud`); the `audience` an AS this IdP
//! trusts; the `resource` a server of that AS; and the user's policy must
//! allow that server (`access_denied` otherwise). The ID-JAG names the
//! client by its id **at the AS** (from the trust configuration), lives at
//! most five minutes and has a fresh `jti`.

use super::IdpState;
use crate::crypto::{now, random_token};
use crate::db::ClientRow;
use crate::error::OAuthError;
use crate::token::{Params, one, required};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The token exchange grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an OpenID Connect ID token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The token type of an ID-JAG.
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The longest life of an ID-JAG, seconds.
const MAX_ID_JAG_TTL: i64 = 300;

/// Answers a token exchange from `client` (already authenticated).
pub fn exchange(idp: &IdpState, client: &ClientRow, form: &Params) -> Result<Value, OAuthError> {
    let subject_token = required(form, "subject_token")?;
    if required(form, "subject_token_type")? != ID_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {ID_TOKEN_TYPE}: this identity provider exchanges its ID tokens"
        )));
    }
    if required(form, "requested_token_type")? != ID_JAG_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "requested_token_type must be {ID_JAG_TYPE}: this identity provider issues ID-JAGs only"
        )));
    }
    let audience = required(form, "audience")?;
    let resource = required(form, "resource")?;
    let scope = one(form, "scope")?.filter(|s| !s.trim().is_empty());
    let user = check_id_token(idp, client, subject_token)?;
    let Some(trusted) = idp.config.trusted_as(audience) else {
        return Err(OAuthError::invalid_target(
            "the audience is not an authorization server this identity provider issues grants for",
        ));
    };
    if !trusted.resources.iter().any(|r| r == resource) {
        return Err(OAuthError::invalid_target(
            "the resource is not an MCP server of that authorization server",
        ));
    }
    if !idp.config.allows(&user, resource) {
        return Err(OAuthError::device(
            StatusCode::FORBIDDEN,
            "access_denied",
            "your organization's policy does not allow you to use this MCP server; ask your administrator",
        ));
    }
    let now = now();
    let ttl = idp.config.id_jag_ttl.clamp(1, MAX_ID_JAG_TTL);
    let mut claims = json!({
        "iss": idp.config.issuer, "sub": user, "aud": trusted.issuer,
        "client_id": trusted.client_id, "resource": resource,
        "jti": random_token(), "iat": now, "exp": now + ttl,
    });
    if let Some(scope) = scope {
        claims["scope"] = json!(scope);
    }
    let id_jag = idp
        .base
        .signer
        .sign_typed(crate::jwt_bearer::ID_JAG_TYP, &claims);
    crate::secrets_log::record("id_jag", &id_jag);
    let mut body = json!({
        "access_token": id_jag,
        "issued_token_type": ID_JAG_TYPE,
        "token_type": "N_A",
        "expires_in": ttl,
    });
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    Ok(body)
}

/// The user an ID token names, once it is this IdP's own, unexpired, and
/// issued to `client`.
fn check_id_token(idp: &IdpState, client: &ClientRow, token: &str) -> Result<String, OAuthError> {
    let claims = idp.base.signer.verify(token).ok_or_else(|| {
        OAuthError::invalid_grant(
            "the subject token is not an ID token signed by this identity provider",
        )
    })?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(idp.config.issuer.as_str()) {
        return Err(OAuthError::invalid_grant(
            "the subject token was not issued by this identity provider",
        ));
    }
    if text("aud") != Some(client.client_id.as_str()) {
        return Err(OAuthError::invalid_grant(
            "the ID token was issued to another client (its aud is not the client asking)",
        ));
    }
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now())
    {
        return Err(OAuthError::invalid_grant(
            "the ID token has expired; refresh the sign-in or sign in again",
        ));
    }
    text("sub")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| OAuthError::invalid_grant("the ID token names no subject (sub)"))
}
