//! The HTTP gate in front of `/mcp`, and the per-request log line.
//!
//! Authentication must happen before rmcp sees a request, so that failures
//! are HTTP 401/403 with a `WWW-Authenticate` challenge (MCP authorization
//! spec, RFC 6750, RFC 9728) rather than JSON-RPC errors. The scope check for
//! writing tools also lives here: it needs the JSON-RPC body, which is small,
//! so the gate reads it (with a cap) and hands it on unchanged. The validated
//! claims travel on as a request extension; rmcp passes the request's
//! `http::request::Parts` to tool handlers, which read them from there.

use crate::auth::{Claims, Rejection, Verifier};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;

/// The largest JSON-RPC POST body accepted on `/mcp`.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The scope every token is expected to carry for tools.
const BASE_SCOPE: &str = "mcp:tools";
/// The scope a writing tool needs on top.
pub(crate) const WRITE_SCOPE: &str = "mcp:write";

/// What the gate needs: the verifier, which tools write, and where the
/// protected resource metadata is (for challenges).
#[derive(Clone)]
pub(crate) struct Gate {
    /// Validates tokens.
    pub verifier: Arc<Verifier>,
    /// Names of the tools that need [`WRITE_SCOPE`].
    pub write_tools: Arc<HashSet<String>>,
    /// The RFC 9728 metadata URL of this resource.
    pub metadata_url: Arc<str>,
    /// DPoP proof checks, when this server takes DPoP-bound tokens.
    pub dpop: Option<Arc<crate::dpop::DpopCheck>>,
}

/// Why a request was turned away, attached to the response for the log line.
#[derive(Debug, Clone, Copy)]
struct Refused(&'static str);

/// Lets a request through to `/mcp` only with a valid token, and only with
/// `mcp:write` when it calls a writing tool.
pub(crate) async fn guard(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let Some((token, with_proof)) = bearer_token(request.headers())
        .map(|t| (t, false))
        .or_else(|| crate::dpop::dpop_token(request.headers()).map(|t| (t, true)))
    else {
        return refuse(&gate, Rejection::Missing);
    };
    let claims = match gate.verifier.verify(token).await {
        Ok(claims) => claims,
        Err(rejection) => return refuse(&gate, rejection),
    };
    let proven = crate::dpop::gate(
        gate.dpop.as_deref(),
        request.headers(),
        request.method(),
        token,
        with_proof,
        claims.jkt.as_deref(),
    );
    if let Err(refusal) = proven {
        return refuse_proof(&gate, refusal);
    }
    let (mut parts, body) = request.into_parts();
    let body = if parts.method == Method::POST {
        let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
            return refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "request_too_large",
                "The request body is too large.",
                "body too large",
            );
        };
        if !claims.has_scope(WRITE_SCOPE) && calls_any(&bytes, &gate.write_tools) {
            let challenge = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{BASE_SCOPE} {WRITE_SCOPE}\", resource_metadata=\"{}\"",
                gate.metadata_url
            );
            return refused(
                StatusCode::FORBIDDEN,
                Some(challenge),
                "insufficient_scope",
                "This tool needs the mcp:write scope.",
                "insufficient scope",
            );
        }
        Body::from(bytes)
    } else {
        body
    };
    parts.extensions.insert::<Claims>(claims);
    next.run(Request::from_parts(parts, body)).await
}

/// The token of an `Authorization: Bearer ...` header, if there is one.
fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether a JSON-RPC message (or batch) is a `tools/call` of one of `tools`.
fn calls_any(body: &Bytes, tools: &HashSet<String>) -> bool {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let messages: &[Value] = match &message {
        Value::Array(batch) => batch,
        single => std::slice::from_ref(single),
    };
    messages.iter().any(|m| {
        m.get("method").and_then(Value::as_str) == Some("tools/call")
            && m.pointer("/params/name")
                .and_then(Value::as_str)
                .is_some_and(|name| tools.contains(name))
    })
}

/// The answer to a request without a usable token.
fn refuse(gate: &Gate, rejection: Rejection) -> Response {
    let metadata = &gate.metadata_url;
    match rejection {
        Rejection::Missing => refused(
            StatusCode::UNAUTHORIZED,
            Some(format!(
                "Bearer resource_metadata=\"{metadata}\", scope=\"{BASE_SCOPE}\""
            )),
            "unauthorized",
            "An access token is required.",
            "no token",
        ),
        Rejection::Invalid(reason) => refused(
            StatusCode::UNAUTHORIZED,
            Some(format!(
                "Bearer error=\"invalid_token\", resource_metadata=\"{metadata}\", scope=\"{BASE_SCOPE}\""
            )),
            "invalid_token",
            "The access token is invalid or expired.",
            reason,
        ),
        Rejection::Unavailable(reason) => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "temporarily_unavailable",
            "The token cannot be checked right now; try again later.",
            reason,
        ),
    }
}

/// The answer to a token whose DPoP binding or proof does not hold.
fn refuse_proof(gate: &Gate, refusal: crate::dpop::Refusal) -> Response {
    use crate::dpop::Refusal;
    match refusal {
        Refusal::Token(reason) => refuse(gate, Rejection::Invalid(reason)),
        Refusal::Proof(reason) => refused(
            StatusCode::UNAUTHORIZED,
            Some("DPoP error=\"invalid_dpop_proof\", algs=\"ES256\"".into()),
            "invalid_dpop_proof",
            "The DPoP proof is invalid.",
            reason,
        ),
        Refusal::Nonce(nonce) => {
            let mut response = refused(
                StatusCode::UNAUTHORIZED,
                Some("DPoP error=\"use_dpop_nonce\", algs=\"ES256\"".into()),
                "use_dpop_nonce",
                "Resource server requires nonce in DPoP proof.",
                "DPoP nonce needed",
            );
            if let Ok(value) = HeaderValue::from_str(&nonce) {
                response.headers_mut().insert("dpop-nonce", value);
            }
            response
        }
    }
}

fn refused(
    status: StatusCode,
    challenge: Option<String>,
    error: &str,
    description: &str,
    log_reason: &'static str,
) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(Refused(log_reason));
    response
}

/// Writes one log line per request: method, path, status and server id
/// (and why it was refused, if it was). Never the token or query string.
pub(crate) async fn log(State(server): State<Arc<str>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let refused = response.extensions().get::<Refused>().map(|r| r.0);
    tracing::info!(server = %server, %method, %path, status = response.status().as_u16(), refused, "request");
    response
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, calls_any};
    use axum::body::Bytes;
    use std::collections::HashSet;

    #[test]
    fn bearer_token_needs_the_bearer_scheme_and_a_token() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            "authorization",
            http::HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert("authorization", http::HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert("authorization", http::HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn calls_any_finds_writing_tool_calls_in_single_messages_and_batches() {
        let tools: HashSet<String> = ["create_issue".to_string()].into();
        let call =
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue"}}"#;
        assert!(calls_any(&Bytes::from(call), &tools));
        assert!(calls_any(&Bytes::from(format!("[{call}]")), &tools));
        let read =
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues"}}"#;
        assert!(!calls_any(&Bytes::from(read), &tools));
        assert!(!calls_any(&Bytes::from("not json"), &tools));
    }
}
