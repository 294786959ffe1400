//! The IdP's `POST /token`: the authorization code and refresh token grants
//! (OpenID Connect: an ID token each time) and the token exchange (`exchange`).
//!
//! Sign-ins are kept as grants with rotating refresh tokens in the IdP's
//! own database, with the AS's rules: a spent refresh token presented again
//! ends the sign-in.

use super::IdpState;
use crate::clients;
use crate::crypto::{digest, now, pkce_s256_matches, random_token};
use crate::db::{self, ClientRow, GrantRow};
use crate::error::OAuthError;
use crate::token::{Params, one, required};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::{Value, json};
use std::sync::Arc;

/// `POST /token`.
pub async fn token(
    State(idp): State<Arc<IdpState>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let client = clients::authenticate(&idp.base, &headers, &form).await?;
        match required(&form, "grant_type")? {
            "authorization_code" => exchange_code(&idp, &client, &form),
            "refresh_token" => refresh(&idp, &client, &form),
            super::exchange::GRANT_TYPE => {
                idp.base
                    .token_requests
                    .token_exchange
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                super::exchange::exchange(&idp, &client, &form)
            }
            other => Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other} is not supported by this identity provider"
            ))),
        }
    }
    .await;
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::info!(error = e.code(), "identity provider token request refused");
            e.into_response()
        }
    }
}

fn exchange_code(idp: &IdpState, client: &ClientRow, form: &Params) -> Result<Value, OAuthError> {
    let code = required(form, "code")?;
    let verifier = one(form, "code_verifier")?.unwrap_or("");
    crate::secrets_log::record("code_verifier", verifier);
    let record = super::authorize::take_code(idp, code).ok_or_else(|| {
        OAuthError::invalid_grant("the authorization code is not valid or was already used")
    })?;
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if record.expires < now() {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if one(form, "redirect_uri")? != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if !pkce_s256_matches(verifier, &record.challenge) {
        return Err(OAuthError::invalid_grant("PKCE verification failed"));
    }
    let grant = GrantRow {
        id: random_token(),
        user: record.user,
        client_id: client.client_id.clone(),
        servers: Vec::new(),
        scope: record.scope,
        global: false,
        created: now(),
        revoked: false,
    };
    idp.base.store.tx(|c| {
        db::insert_grant(c, &grant)?;
        respond(idp, c, &grant, record.nonce.as_deref())
    })
}

fn refresh(idp: &IdpState, client: &ClientRow, form: &Params) -> Result<Value, OAuthError> {
    let presented = digest(required(form, "refresh_token")?);
    idp.base
        .store
        .tx(|c| -> Result<Result<Value, OAuthError>, OAuthError> {
            let invalid = || {
                Ok(Err(OAuthError::invalid_grant(
                    "the refresh token is not valid; sign in again",
                )))
            };
            let Some(row) = db::get_refresh(c, &presented)? else {
                return invalid();
            };
            let Some(grant) = db::get_grant(c, &row.grant_id)? else {
                return invalid();
            };
            if grant.client_id != client.client_id {
                return Ok(Err(OAuthError::invalid_grant(
                    "the refresh token was issued to another client",
                )));
            }
            if grant.revoked {
                return Ok(Err(OAuthError::invalid_grant(
                    "this sign-in has ended; sign in again",
                )));
            }
            if row.spent_at.is_some() {
                db::revoke_grant(c, &grant.id, now())?;
                tracing::warn!("identity provider refresh token reused; sign-in ended");
                return Ok(Err(OAuthError::invalid_grant(
                    "the refresh token was already used; the sign-in is ended, sign in again",
                )));
            }
            db::spend_live_refresh(c, &grant.id, now())?;
            respond(idp, c, &grant, None).map(Ok)
        })?
}

/// The token response: a fresh ID token, an opaque access token and, when
/// `offline_access` was granted, a new refresh token.
fn respond(
    idp: &IdpState,
    c: &rusqlite::Connection,
    grant: &GrantRow,
    nonce: Option<&str>,
) -> Result<Value, OAuthError> {
    let id_token = id_token(idp, &grant.user, &grant.client_id, nonce);
    let access_token = random_token();
    crate::secrets_log::record("id_token", &id_token);
    crate::secrets_log::record("access_token", &access_token);
    let mut body = json!({
        "id_token": id_token,
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": idp.config.id_token_ttl,
        "scope": grant.scope.join(" "),
    });
    if grant.scope.iter().any(|s| s == "offline_access") {
        let refresh_token = random_token();
        db::insert_refresh(c, &digest(&refresh_token), &grant.id, now())?;
        crate::secrets_log::record("refresh_token", &refresh_token);
        body["refresh_token"] = json!(refresh_token);
    }
    Ok(body)
}

/// An ID token for `user`, audience the client `client_id`.
pub fn id_token(idp: &IdpState, user: &str, client_id: &str, nonce: Option<&str>) -> String {
    let now = now();
    let mut claims = json!({
        "iss": idp.config.issuer, "sub": user, "aud": client_id,
        "iat": now, "exp": now + idp.config.id_token_ttl,
        "email": format!("{user}@{}", idp.config.email_domain), "email_verified": true,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    idp.base.signer.sign_typed("JWT", &claims)
}
