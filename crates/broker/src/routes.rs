//! `/v1/servers` and `/v1/token/{server}`: what the caller's key may see.

use crate::audit::AuditEntry;
use crate::keys::ClientKey;
use crate::{BrokerState, error_response};
use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// `GET /v1/servers`: the granted servers this key may use, with status and expiry; no tokens.
pub async fn servers(
    State(state): State<Arc<BrokerState>>,
    Extension(key): Extension<ClientKey>,
) -> Response {
    let mut out = Vec::new();
    for grant in state.engine.grants() {
        for server in grant
            .servers
            .iter()
            .filter(|s| !grant.blocked.contains(&s.id) && key.allows(&s.id))
        {
            out.push(json!({
                "id": server.id, "name": server.name, "url": server.resource, "issuer": grant.issuer,
                "status": grant.status, "expires_at": server.expires_at, "token_kind": server.token_kind,
                "proxy": format!("http://127.0.0.1:{}/v1/mcp/{}", state.port, server.id),
            }));
        }
    }
    Json(json!({"servers": out})).into_response()
}

/// `GET /v1/token/{server}`.
pub async fn token(
    State(state): State<Arc<BrokerState>>,
    Extension(key): Extension<ClientKey>,
    Path(server): Path<String>,
) -> Response {
    if !allowed(&state, &key, &server) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let result = state.engine.token(&server).await;
    state.audit.record(AuditEntry {
        at: chrono::Utc::now(),
        client: key.client.clone(),
        server: server.clone(),
        kind: "token".into(),
        outcome: result
            .as_ref()
            .map_or_else(|e| e.code().to_string(), |_| "ok".into()),
    });
    match result {
        Ok(t) => Json(json!({
            "access_token": t.access_token.expose(), "token_type": "Bearer",
            "expires_at": t.expires_at.to_rfc3339(), "server": t.server,
        }))
        .into_response(),
        Err(e) => error_response(&e),
    }
}

/// Whether `key` may use `server`, matching the grant's id for a URL too.
pub fn allowed(state: &BrokerState, key: &ClientKey, server: &str) -> bool {
    if key.allows(server) {
        return true;
    }
    let id = state
        .engine
        .grant_for(server)
        .and_then(|g| g.server(server).map(|s| s.id.clone()));
    id.is_some_and(|id| key.allows(&id))
}
