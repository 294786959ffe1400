//! The endpoint's front door. Browsers and other machines are kept out
//! before anything else runs: a request with an `Origin` header (a web page
//! talking to localhost), with `X-Forwarded-For`/`Forwarded` (something
//! relaying it), or whose `Host` is not this loopback address and port (DNS
//! rebinding) gets 403 with an empty body. Then the client key: missing,
//! wrong or revoked is 401. No response ever carries CORS headers.

use crate::BrokerState;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Rejects what must never reach the routes; attaches the caller's key.
pub async fn guard(
    State(state): State<Arc<BrokerState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if headers.contains_key(header::ORIGIN)
        || headers.contains_key("x-forwarded-for")
        || headers.contains_key(header::FORWARDED)
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    let hosts: Vec<&[u8]> = headers
        .get_all(header::HOST)
        .iter()
        .map(|h| h.as_bytes())
        .collect();
    let allowed = &state.hosts;
    if hosts.len() != 1 || !allowed.iter().any(|a| a.as_bytes() == hosts[0]) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(key) = presented.and_then(|k| state.keys.verify(k)) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"mcp-passport\"")],
        )
            .into_response();
    };
    request.extensions_mut().insert(key);
    next.run(request).await
}
