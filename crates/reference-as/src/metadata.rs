//! Discovery documents: RFC 8414 metadata (also at the OIDC path), the JWKS
//! and the server catalog.

use crate::state::AsState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::Arc;

/// The RFC 8414 metadata document.
pub fn document(state: &AsState) -> Value {
    let base = state.config.issuer.trim_end_matches('/');
    let mut doc = json!({
        "issuer": state.config.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "device_authorization_endpoint": format!("{base}/device_authorization"),
        "registration_endpoint": format!("{base}/register"),
        "revocation_endpoint": format!("{base}/revoke"),
        "introspection_endpoint": format!("{base}/introspect"),
        "jwks_uri": format!("{base}/jwks.json"),
        "mcp_server_catalog_endpoint": format!("{base}/catalog"),
        "scopes_supported": crate::scope::SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", crate::device::GRANT_TYPE],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
        "resource_indicators_supported": true,
        "access_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
    });
    if state.config.dpop
        && let Some(fields) = doc.as_object_mut()
    {
        fields.insert("dpop_signing_alg_values_supported".into(), json!(["ES256"]));
    }
    if !state.config.device_flow
        && let Some(fields) = doc.as_object_mut()
    {
        fields.remove("device_authorization_endpoint");
        fields.insert(
            "grant_types_supported".into(),
            json!(["authorization_code", "refresh_token"]),
        );
    }
    if !state.config.trusted_idps.is_empty()
        && let Some(grants) = doc
            .get_mut("grant_types_supported")
            .and_then(Value::as_array_mut)
    {
        grants.push(json!(crate::jwt_bearer::GRANT_TYPE));
    }
    if state.config.token_exchange
        && let Some(types) = doc
            .get_mut("grant_types_supported")
            .and_then(Value::as_array_mut)
    {
        types.push(json!(crate::exchange::GRANT_TYPE));
    }
    doc
}

/// `GET /.well-known/oauth-authorization-server` (and `openid-configuration`).
pub async fn metadata(State(state): State<Arc<AsState>>) -> Json<Value> {
    Json(document(&state))
}

/// `GET /jwks.json`.
pub async fn jwks(State(state): State<Arc<AsState>>) -> Json<Value> {
    Json(state.signer.jwks())
}

/// `GET /catalog`: `{"servers":[{"id","name","resource","description"}]}`.
pub async fn catalog(State(state): State<Arc<AsState>>) -> Json<Value> {
    Json(json!({"servers": state.config.catalog}))
}
