//! `/v1/servers` and `/v1/token/{server}`: what the caller's key may see.
//!
//! The token route is the one every local client calls on every
//! connection, so it is answered straight from the connection service (no
//! router, no extractors) and its body is written by hand into one buffer:
//! no `serde_json::Value`, no copy of the grant, one audit push.

use crate::audit::{Kind, Outcome};
use crate::keys::ClientKey;
use crate::{BrokerState, error_body};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;
use passport_core::account;
use serde_json::json;
use std::sync::Arc;

/// `GET /v1/servers`: the granted servers this key may use, with status and expiry; no tokens.
pub async fn servers(
    State(state): State<Arc<BrokerState>>,
    Extension(key): Extension<Arc<ClientKey>>,
) -> Response {
    let mut out = Vec::new();
    let grants = state.engine.grants();
    for grant in &grants {
        for server in grant.active_servers() {
            let address = account::address(&grants, grant, &server.id);
            if !key.allows(&address) && !key.allows(&account::qualified(grant, &server.id)) {
                continue;
            }
            out.push(json!({
                "id": address, "name": server.name, "url": server.resource, "issuer": grant.issuer,
                "account": grant.account_label(),
                "status": grant.status, "expires_at": server.expires_at, "token_kind": server.token_kind,
                "proxy": format!("http://127.0.0.1:{}/v1/mcp/{}", state.port, address),
            }));
        }
    }
    Json(json!({"servers": out})).into_response()
}

/// `GET /v1/token/{server}` (`server` already percent-decoded): `{access_token,
/// token_type, expires_at, server}`, or `{error: {code, message}}`.
pub async fn token(
    state: &BrokerState,
    key: &Arc<ClientKey>,
    server: &str,
) -> http::Response<Full<Bytes>> {
    if !allowed(state, key, server) {
        return empty(StatusCode::FORBIDDEN);
    }
    if let Some(refused) = crate::dpop_proxy::refuse_token(state, server) {
        state
            .audit
            .note(key, server, Kind::Token, Outcome::Code("dpop_bound"));
        return refused;
    }
    match state.engine.token(server).await {
        Ok(t) => {
            state.audit.note(key, server, Kind::Token, Outcome::Ok);
            let mut body = Vec::with_capacity(t.access_token.expose().len() + 128);
            body.extend_from_slice(b"{\"access_token\":");
            push_json_str(&mut body, t.access_token.expose());
            body.extend_from_slice(b",\"token_type\":\"Bearer\",\"expires_at\":");
            push_json_str(&mut body, &t.expires_at.to_rfc3339());
            body.extend_from_slice(b",\"server\":");
            push_json_str(&mut body, &t.server);
            body.push(b'}');
            json_response(StatusCode::OK, body)
        }
        Err(e) => {
            state
                .audit
                .note(key, server, Kind::Token, Outcome::Code(e.code()));
            let (status, body) = error_body(&e);
            json_response(status, body)
        }
    }
}

/// `s` as a JSON string (quoted, escaped). Tokens and ids need no escape:
/// they are copied as they are after one quick scan.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a `&str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// A JSON response with `body`.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A response with `status` and an empty body.
pub fn empty(status: StatusCode) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Whether `key` may use `server`, matching the server's address (its id,
/// or `id@account` for a second account) for a URL too, and the
/// account-qualified form for any account.
pub fn allowed(state: &BrokerState, key: &ClientKey, server: &str) -> bool {
    if key.allows(server) {
        return true;
    }
    state
        .engine
        .resolve(server, false)
        .is_some_and(|(grant, entry)| {
            key.allows(&account::qualified(&grant, &entry.id))
                || state
                    .engine
                    .address_of(&grant.id, &entry.id)
                    .is_some_and(|a| key.allows(&a))
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn json_strings_are_escaped_when_they_need_it_and_copied_when_not() {
        for s in [
            "eyJhbGciOi.x-y_z",
            "a\"b",
            "back\\slash",
            "line\nbreak",
            "tab\t",
            "é",
        ] {
            let mut out = Vec::new();
            super::push_json_str(&mut out, s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
    }
}
