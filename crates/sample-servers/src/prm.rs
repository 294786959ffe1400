//! RFC 9728 protected resource metadata.
//!
//! An MCP client that gets a 401 follows `resource_metadata` here to learn
//! which AS to use and which `resource` value to ask for. The document is
//! served at the path-based address (`/.well-known/oauth-protected-resource/mcp`,
//! what the challenge names) and at the root address, for clients that only
//! try the latter. It is public, so any origin may read it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Value, json};
use std::sync::Arc;

/// The scopes this resource understands.
pub(crate) const SCOPES_SUPPORTED: [&str; 4] =
    ["mcp:tools", "mcp:resources", "mcp:prompts", "mcp:write"];

/// The metadata document for `resource`, protected by `issuer` (both exactly
/// as given).
pub(crate) fn document(resource: &str, issuer: &str, name: &str) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": SCOPES_SUPPORTED,
        "bearer_methods_supported": ["header"],
        "resource_name": name,
    })
}

/// Serves the document.
pub(crate) async fn metadata(State(document): State<Arc<Value>>) -> Response {
    let mut response = axum::Json(document.as_ref().clone()).into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
