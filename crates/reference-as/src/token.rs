//! `POST /token`: the `authorization_code` and `refresh_token` grants (token
//! exchange is `exchange`, the device code and JWT bearer grants `device`
//! and `jwt_bearer`).
//!
//! Codes are single use (a second exchange revokes what the first issued).
//! Every refresh rotates the refresh token; presenting a spent one revokes
//! the whole grant, except the immediately previous token within the
//! configured grace. `scope` with a smaller `servers:` list narrows the
//! grant for good; `resource` narrows only the access token.

use crate::clients;
use crate::crypto::{digest, now, pkce_s256_matches, random_token};
use crate::db::{self, ClientRow, GrantRow};
use crate::error::OAuthError;
use crate::issue::{Audience, resources_to_servers, token_response};
use crate::scope::Scope;
use crate::state::{AsState, Mode, lock};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use std::sync::Arc;

/// A token request's form fields, in order (repeated names kept).
pub(crate) type Params = [(String, String)];

pub(crate) fn one<'a>(form: &'a Params, name: &str) -> Result<Option<&'a str>, OAuthError> {
    let mut values = form
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(format!("{name} is repeated")));
    }
    Ok(first)
}

pub(crate) fn required<'a>(form: &'a Params, name: &str) -> Result<&'a str, OAuthError> {
    one(form, name)?.ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
}

pub(crate) fn resources(form: &Params) -> Vec<&str> {
    form.iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `POST /token`.
pub async fn token(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let jkt = if state.config.dpop {
        match crate::dpop::token_request(&state, &headers) {
            Ok(jkt) => jkt,
            Err(refusal) => return refusal.into_response(),
        }
    } else {
        None
    };
    let jkt = jkt.as_deref();
    let result = async {
        let client = clients::authenticate(&state, &headers, &form).await?;
        match required(&form, "grant_type")? {
            "authorization_code" => {
                state
                    .token_requests
                    .code
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                exchange_code(&state, &client, &form, jkt)
            }
            "refresh_token" => {
                state
                    .token_requests
                    .refresh
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                refresh(&state, &client, &form, jkt)
            }
            crate::jwt_bearer::GRANT_TYPE => {
                state
                    .token_requests
                    .jwt_bearer
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                crate::jwt_bearer::token(&state, &client, &form, jkt).await
            }
            crate::exchange::GRANT_TYPE if state.config.token_exchange => {
                state
                    .token_requests
                    .exchange
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                crate::exchange::token(&state, &client, &form, jkt)
            }
            crate::device::GRANT_TYPE => crate::device::token(
                &state,
                &client,
                required(&form, "device_code")?,
                &resources(&form),
            ),
            other => Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other} is not supported"
            ))),
        }
    }
    .await;
    let mut response = match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::info!(error = e.code(), "token request refused");
            e.into_response()
        }
    };
    if let Some(nonce) = crate::dpop::nonce_header(&state) {
        response.headers_mut().insert("dpop-nonce", nonce);
    }
    response
}

fn exchange_code(
    state: &AsState,
    client: &ClientRow,
    form: &Params,
    jkt: Option<&str>,
) -> Result<serde_json::Value, OAuthError> {
    let code = required(form, "code")?;
    let verifier = one(form, "code_verifier")?.unwrap_or("");
    crate::secrets_log::record("code_verifier", verifier);
    let redirect_uri = one(form, "redirect_uri")?;
    let grant_id = random_token();
    let record = {
        let mut codes = lock(&state.codes);
        let Some(record) = codes.get_mut(&digest(code)) else {
            return Err(OAuthError::invalid_grant(
                "the authorization code is not valid",
            ));
        };
        if let Some(issued) = record.used_for.clone() {
            drop(codes);
            state.store.tx(|c| db::revoke_grant(c, &issued, now()))?;
            tracing::warn!("authorization code reused; its grant was revoked");
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used",
            ));
        }
        if record.request.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        record.used_for = Some(grant_id.clone());
        record.clone()
    };
    if record.expires < now() {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if redirect_uri != Some(record.request.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if !pkce_s256_matches(verifier, &record.request.code_challenge) {
        return Err(OAuthError::invalid_grant("PKCE verification failed"));
    }
    let grant = GrantRow {
        id: grant_id,
        user: record.user,
        client_id: client.client_id.clone(),
        servers: record.servers,
        scope: record.request.scope,
        global: matches!(record.request.mode, Mode::Global { .. }),
        created: now(),
        revoked: false,
    };
    let narrowed = resources_to_servers(state, &resources(form), &grant.servers)?;
    let mut audience = audience(&grant, narrowed, None);
    audience.jkt = jkt.map(str::to_string);
    state.store.tx(|c| {
        db::insert_grant(c, &grant)?;
        if let Some(jkt) = jkt {
            db::bind_dpop(c, &grant.id, jkt)?;
        }
        token_response(state, c, &grant, &audience)
    })
}

fn audience(
    grant: &GrantRow,
    narrowed: Option<Vec<String>>,
    scope: Option<Vec<String>>,
) -> Audience {
    let mut audience = Audience::of_grant(grant);
    if let Some(ids) = narrowed {
        audience.servers = ids;
        audience.narrowed = true;
    }
    if let Some(plain) = scope.filter(|p| !p.is_empty()) {
        audience.scope = plain;
    }
    audience
}

fn refresh(
    state: &AsState,
    client: &ClientRow,
    form: &Params,
    jkt: Option<&str>,
) -> Result<serde_json::Value, OAuthError> {
    let presented = digest(required(form, "refresh_token")?);
    let requested = one(form, "scope")?.map(Scope::parse);
    let grace = state.config.refresh_grace;
    state.store.tx(
        |c| -> Result<Result<serde_json::Value, OAuthError>, OAuthError> {
            let now = now();
            let Some(row) = db::get_refresh(c, &presented)? else {
                return Ok(Err(OAuthError::invalid_grant(
                    "the refresh token is not valid",
                )));
            };
            let Some(mut grant) = db::get_grant(c, &row.grant_id)? else {
                return Ok(Err(OAuthError::invalid_grant(
                    "the refresh token is not valid",
                )));
            };
            if grant.client_id != client.client_id {
                return Ok(Err(OAuthError::invalid_grant(
                    "the refresh token was issued to another client",
                )));
            }
            if grant.revoked {
                return Ok(Err(OAuthError::invalid_grant(
                    "the grant was revoked; sign in again",
                )));
            }
            if let Err(e) = crate::dpop::check_binding(db::dpop_binding(c, &grant.id)?, jkt) {
                return Ok(Err(e));
            }
            if let Some(spent_at) = row.spent_at {
                let previous = row.seq == db::latest_refresh_seq(c, &grant.id)? - 1;
                if !(previous && grace > 0 && now - spent_at <= grace) {
                    db::revoke_grant(c, &grant.id, now)?;
                    tracing::warn!("refresh token reuse detected; grant revoked");
                    return Ok(Err(OAuthError::invalid_grant(
                        "the refresh token was already used; the grant is revoked",
                    )));
                }
            }
            let mut plain = None;
            let mut kept = grant.servers.clone();
            if let Some(scope) = &requested {
                if let Some(extra) = scope.plain.iter().find(|s| !grant.scope.contains(s)) {
                    return Ok(Err(OAuthError::invalid_scope(format!(
                        "{extra} was not granted"
                    ))));
                }
                if let Some(ids) = &scope.servers {
                    if ids.is_empty() || ids.iter().any(|id| !grant.servers.contains(id)) {
                        return Ok(Err(OAuthError::invalid_scope(
                            "servers: may only narrow the granted servers",
                        )));
                    }
                    kept = grant
                        .servers
                        .iter()
                        .filter(|s| ids.contains(s))
                        .cloned()
                        .collect();
                }
                plain = Some(scope.plain.clone());
            }
            let narrowed = match resources_to_servers(state, &resources(form), &kept) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e)),
            };
            if kept != grant.servers {
                db::set_grant_servers(c, &grant.id, &kept)?;
                grant.servers = kept;
            }
            db::spend_live_refresh(c, &grant.id, now)?;
            let mut audience = audience(&grant, narrowed, plain);
            audience.jkt = jkt.map(str::to_string);
            token_response(state, c, &grant, &audience).map(Ok)
        },
    )?
}
