//! A plain per-server authorization server for tests: one MCP server that
//! is its own AS (RFC 9728 metadata pointing at itself, RFC 8414 metadata
//! without `mcp:global` or resource indicators, dynamic registration, S256,
//! `iss` in callbacks), approving at once as an AS does when the browser is
//! already signed in there. It can answer its authorization page late, or
//! deny. It counts the requests its AS endpoints get. It keeps nothing: any
//! code is accepted once it was handed out by a redirect here, as most
//! vendor ASes look to a client that is already signed in.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How the AS answers its authorization page.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Redirects back at once with a code.
    Instant,
    /// Waits this long, then redirects back with a code.
    Slow(Duration),
    /// Redirects back at once with `error=access_denied`.
    Deny,
}

#[derive(Debug)]
struct Shared {
    base: String,
    behaviour: Behaviour,
    as_requests: AtomicU64,
    tokens: AtomicU64,
}

/// One running per-server AS and its MCP server; stopped when dropped.
#[derive(Debug)]
pub struct PerServerAs {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl PerServerAs {
    /// Starts one on 127.0.0.1 on a free port.
    pub async fn start(behaviour: Behaviour) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let shared = Arc::new(Shared {
            base,
            behaviour,
            as_requests: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(as_metadata))
            .route("/register", post(register))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/mcp", post(mcp).get(mcp))
            .route("/.well-known/oauth-protected-resource/mcp", get(prm))
            .route("/.well-known/oauth-protected-resource", get(prm))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared, task })
    }

    /// The MCP server's URL.
    pub fn server_url(&self) -> String {
        format!("{}/mcp", self.shared.base)
    }

    /// The issuer.
    pub fn issuer(&self) -> String {
        self.shared.base.clone()
    }

    /// Requests to the AS's endpoints (metadata, register, authorize, token).
    pub fn as_requests(&self) -> u64 {
        self.shared.as_requests.load(Ordering::SeqCst)
    }

    /// Tokens issued by the code exchange.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens.load(Ordering::SeqCst)
    }
}

impl Drop for PerServerAs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn as_metadata(State(s): State<Arc<Shared>>) -> Response {
    s.as_requests.fetch_add(1, Ordering::SeqCst);
    let base = &s.base;
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["tools"],
    }))
    .into_response()
}

async fn register(State(s): State<Arc<Shared>>) -> Response {
    s.as_requests.fetch_add(1, Ordering::SeqCst);
    (
        axum::http::StatusCode::CREATED,
        axum::Json(json!({"client_id": "per-server-client", "token_endpoint_auth_method": "none"})),
    )
        .into_response()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn authorize(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.as_requests.fetch_add(1, Ordering::SeqCst);
    let (Some(redirect), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "missing redirect_uri or state",
        )
            .into_response();
    };
    let iss = enc(&s.base);
    let state = enc(state);
    let target = match s.behaviour {
        Behaviour::Instant => format!("{redirect}?code=code-ok&state={state}&iss={iss}"),
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            format!("{redirect}?code=code-ok&state={state}&iss={iss}")
        }
        Behaviour::Deny => format!(
            "{redirect}?error=access_denied&error_description=denied+by+policy&state={state}&iss={iss}"
        ),
    };
    Redirect::to(&target).into_response()
}

async fn token(State(s): State<Arc<Shared>>) -> Response {
    s.as_requests.fetch_add(1, Ordering::SeqCst);
    let n = s.tokens.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "access_token": format!("at-{n}-{}", s.base.len()),
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": format!("rt-{n}-{}", s.base.len()),
        "scope": "tools",
    }))
    .into_response()
}

async fn mcp(State(s): State<Arc<Shared>>) -> Response {
    let challenge = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"tools\"",
        s.base
    );
    (
        axum::http::StatusCode::UNAUTHORIZED,
        [("www-authenticate", challenge)],
    )
        .into_response()
}

async fn prm(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!({
        "resource": format!("{}/mcp", s.base),
        "authorization_servers": [s.base],
        "scopes_supported": ["tools"],
        "resource_name": format!("Server on {}", s.base.trim_start_matches("http://")),
    }))
    .into_response()
}
