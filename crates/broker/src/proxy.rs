//! `/v1/mcp/{server}`: a reverse proxy to the server's MCP URL that puts the
//! server's current token in `Authorization`. Request bodies (JSON-RPC
//! messages) are read whole, up to 4 MiB, so a 401 can be retried once after
//! a refresh; responses, including SSE streams, are streamed through as they
//! arrive. `Mcp-Session-Id` and the other MCP headers pass both ways.

use crate::audit::{Kind, Outcome};
use crate::keys::ClientKey;
use crate::routes::allowed;
use crate::{BrokerState, error_response};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const MAX_REQUEST: usize = 4 * 1024 * 1024;

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

fn forward_headers(from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in from {
        if !hop_by_hop(name) && name != header::AUTHORIZATION && name != header::COOKIE {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Proxies one request.
pub async fn proxy(
    State(state): State<Arc<BrokerState>>,
    Extension(key): Extension<Arc<ClientKey>>,
    Path(server): Path<String>,
    request: Request,
) -> Response {
    if !allowed(&state, &key, &server) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body over 4 MiB").into_response();
    };
    let Some(url) = state
        .engine
        .grant_for(&server)
        .and_then(|g| g.server(&server).and_then(|s| s.resource.clone()))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers = forward_headers(&parts.headers);
    let mut retried = false;
    let response = loop {
        let token = match state.engine.token(&server).await {
            Ok(t) => t,
            Err(e) => {
                audit(&state, &key, &server, Outcome::Code(e.code()));
                return error_response(&e);
            }
        };
        let sent = state
            .http
            .request(parts.method.clone(), &url)
            .headers(headers.clone())
            .bearer_auth(token.access_token.expose())
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED && !retried => {
                retried = true;
                state.engine.invalidate(&server);
            }
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(%server, error = %e.without_url(), "upstream request failed");
                audit(&state, &key, &server, Outcome::Code("upstream_unreachable"));
                return (
                    StatusCode::BAD_GATEWAY,
                    "the MCP server could not be reached",
                )
                    .into_response();
            }
        }
    };
    let status = response.status();
    audit(
        &state,
        &key,
        &server,
        if status.is_success() {
            Outcome::Ok
        } else {
            Outcome::Status(status)
        },
    );
    // The upstream body is passed on as it is: frames go through as they
    // arrive (SSE included), without a stream adapter in between.
    let (mut parts, body) = http::Response::from(response).into_parts();
    let upstream = std::mem::take(&mut parts.headers);
    let mut name = None;
    for (next, value) in upstream {
        // `HeaderMap::into_iter` names only the first of repeated values.
        if next.is_some() {
            name = next;
        }
        let Some(name) = name.as_ref() else { continue };
        if !hop_by_hop(name)
            && !name.as_str().starts_with("access-control-")
            && name != header::SET_COOKIE
        {
            parts.headers.append(name.clone(), value);
        }
    }
    Response::from_parts(parts, Body::new(body))
}

fn audit(state: &BrokerState, key: &Arc<ClientKey>, server: &str, outcome: Outcome) {
    state.audit.note(key, server, Kind::Proxy, outcome);
}
