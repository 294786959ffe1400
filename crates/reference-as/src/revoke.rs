//! RFC 7009 revocation and RFC 7662 introspection.
//!
//! Revoking a refresh token ends its whole grant; revoking an access token
//! marks its `jti`, which introspection then reports inactive. Only
//! resource servers (confidential clients registered as such) may introspect.

use crate::clients;
use crate::crypto::{digest, now};
use crate::db;
use crate::error::OAuthError;
use crate::state::AsState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::{Value, json};
use std::sync::Arc;

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `POST /revoke`.
pub async fn revoke(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let client = match clients::authenticate(&state, &headers, &form).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(token) = field(&form, "token") else {
        return OAuthError::invalid_request("token is missing").into_response();
    };
    let result = state.store.tx(|c| -> Result<(), OAuthError> {
        if let Some(row) = db::get_refresh(c, &digest(token))? {
            if db::get_grant(c, &row.grant_id)?.is_some_and(|g| g.client_id == client.client_id) {
                db::revoke_grant(c, &row.grant_id, now())?;
                tracing::info!("refresh token revoked; grant ended");
            }
            return Ok(());
        }
        if let Some(claims) = state.signer.verify(token) {
            let owner = claims.get("client_id").and_then(Value::as_str);
            let jti = claims.get("jti").and_then(Value::as_str);
            if let (Some(jti), Some(owner)) = (jti, owner)
                && owner == client.client_id
            {
                db::revoke_access(c, jti)?;
                tracing::info!("access token revoked");
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    match clients::authenticate(&state, &headers, &form).await {
        Ok(c) if c.kind == "resource-server" => {}
        Ok(_) => {
            return OAuthError::invalid_client("only resource servers may introspect")
                .into_response();
        }
        Err(e) => return e.into_response(),
    }
    let Some(token) = field(&form, "token") else {
        return OAuthError::invalid_request("token is missing").into_response();
    };
    match state.store.tx(|c| describe(&state, c, token)) {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn describe(state: &AsState, c: &rusqlite::Connection, token: &str) -> Result<Value, OAuthError> {
    let inactive = json!({"active": false});
    if let Some(row) = db::get_refresh(c, &digest(token))? {
        let Some(grant) = db::get_grant(c, &row.grant_id)? else {
            return Ok(inactive);
        };
        if grant.revoked || row.spent_at.is_some() {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true, "token_type": "refresh_token", "client_id": grant.client_id, "sub": grant.user,
            "scope": crate::scope::format(&grant.scope, &grant.servers), "iss": state.config.issuer,
        }));
    }
    let Some(mut claims) = state.signer.verify(token) else {
        return Ok(inactive);
    };
    let expired = claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now());
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let live = match db::get_access(c, &jti)? {
        Some((grant_id, revoked)) => {
            !revoked && db::get_grant(c, &grant_id)?.is_some_and(|g| !g.revoked)
        }
        None => false,
    };
    if expired || !live {
        return Ok(inactive);
    }
    claims["active"] = json!(true);
    claims["token_type"] = json!("Bearer");
    Ok(claims)
}
