//! A small standard authorization server that behaves like providers with
//! quirks, for client tests (issue 10, section 4): per-server MCP OAuth with
//! MCP servers that answer 401 and publish RFC 9728 metadata, plus switches
//! that make it refuse `resource` like Microsoft Entra v2 (AADSTS9010010),
//! issue refresh tokens only with extra parameters like Google or only with
//! `offline_access` like OIDC providers, serve tokens on another origin like
//! Google, or register no clients like GitHub OAuth apps. It records what it
//! is sent. Nothing here is signed or stored: tokens are opaque strings.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Query or form parameters in order.
pub type Params = Vec<(String, String)>;

/// How the AS misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Entra v2: any `resource` in the authorization request is refused.
    pub refuse_resource_at_authorize: bool,
    /// Any `resource` in a token request is refused with `invalid_target`.
    pub refuse_resource_at_token: bool,
    /// Google: a refresh token only with these authorization parameters.
    pub refresh_needs: Vec<(&'static str, &'static str)>,
    /// OIDC: `offline_access` listed, and a refresh token only with it.
    pub offline_access_gated: bool,
    /// Google: the token endpoint on another origin than the issuer.
    pub token_elsewhere: bool,
    /// GitHub OAuth apps: no registration; only this client id and secret.
    pub preregistered_only: Option<(&'static str, &'static str)>,
}

/// What the AS was sent.
#[derive(Debug, Default)]
pub struct Seen {
    /// Each authorization request's parameters.
    pub authorize: Vec<Params>,
    /// Each token request's form.
    pub token: Vec<Params>,
    /// The authorization request behind each code.
    codes: HashMap<String, Params>,
}

impl Seen {
    /// Token requests that exchanged a code: sign-ins, not the refreshes
    /// that follow (this AS's tokens live one second).
    pub fn code_exchanges(&self) -> usize {
        self.token
            .iter()
            .filter(|p| value(p, "grant_type").as_deref() == Some("authorization_code"))
            .count()
    }
}

/// A running quirky AS.
#[derive(Debug)]
pub struct QuirkyAs {
    /// Its issuer (`http://127.0.0.1:PORT`).
    pub issuer: String,
    behaviour: Behaviour,
    /// What it was sent.
    pub seen: Mutex<Seen>,
}

/// The first value of `k`.
pub fn value(p: &Params, k: &str) -> Option<String> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

/// Every value of `k`, in order.
pub fn values(p: &Params, k: &str) -> Vec<String> {
    p.iter()
        .filter(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
        .collect()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn authorize(State(s): State<Arc<QuirkyAs>>, Query(q): Query<Params>) -> Response {
    let redirect = value(&q, "redirect_uri").unwrap_or_default();
    let state = value(&q, "state").unwrap_or_default();
    let iss = enc(&s.issuer);
    let mut seen = s
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.authorize.push(q.clone());
    if s.behaviour.refuse_resource_at_authorize && value(&q, "resource").is_some() {
        let d = enc(
            "AADSTS9010010: The resource parameter provided in the request doesn't match with the requested scopes.",
        );
        return Redirect::to(&format!(
            "{redirect}?error=invalid_request&error_description={d}&state={state}&iss={iss}"
        ))
        .into_response();
    }
    let code = format!("code-{}", seen.authorize.len());
    seen.codes.insert(code.clone(), q);
    Redirect::to(&format!("{redirect}?code={code}&state={state}&iss={iss}")).into_response()
}

async fn token(
    State(s): State<Arc<QuirkyAs>>,
    headers: HeaderMap,
    Form(f): Form<Params>,
) -> Response {
    let mut seen = s
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.token.push(f.clone());
    let b = &s.behaviour;
    let oauth_error = |error: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": error, "error_description": "refused by the test AS"})),
        )
            .into_response()
    };
    if let Some((id, secret)) = b.preregistered_only {
        let basic = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let expected_basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(id),
                enc(secret)
            ))
        );
        let posted = value(&f, "client_id").as_deref() == Some(id)
            && value(&f, "client_secret").as_deref() == Some(secret);
        if !posted && basic.as_deref() != Some(expected_basic.as_str()) {
            return oauth_error("invalid_client");
        }
    }
    if b.refuse_resource_at_token && value(&f, "resource").is_some() {
        return oauth_error("invalid_target");
    }
    let authorized = match value(&f, "grant_type").as_deref() {
        Some("authorization_code") => {
            match seen.codes.remove(&value(&f, "code").unwrap_or_default()) {
                Some(q) => q,
                None => return oauth_error("invalid_grant"),
            }
        }
        _ => Params::new(),
    };
    let mut refresh = b
        .refresh_needs
        .iter()
        .all(|(k, v)| value(&authorized, k).as_deref() == Some(*v));
    if b.offline_access_gated {
        refresh &= value(&authorized, "scope")
            .is_some_and(|s| s.split(' ').any(|x| x == "offline_access"));
    }
    if value(&f, "grant_type").as_deref() == Some("refresh_token") {
        refresh = true;
    }
    let mut body = json!({"access_token": format!("at-{}", seen.token.len()), "token_type": "Bearer", "expires_in": 1});
    if refresh {
        body["refresh_token"] = json!(format!("rt-{}", seen.token.len()));
    }
    axum::Json(body).into_response()
}

/// Starts the AS and `servers` MCP servers (401 + RFC 9728 metadata) on one
/// listener; the token endpoint also on a second one (another origin).
/// Returns the AS, the MCP server URLs, and the second origin's host.
pub async fn start(
    behaviour: Behaviour,
    servers: usize,
) -> std::io::Result<(Arc<QuirkyAs>, Vec<String>, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let other_host = format!("127.0.0.1:{}", other.local_addr()?.port());
    let token_base = if behaviour.token_elsewhere {
        format!("http://{other_host}")
    } else {
        base.clone()
    };
    let mut meta = json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{token_base}/token"), "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true, "resource_indicators_supported": servers > 1,
        "scopes_supported": if behaviour.offline_access_gated { json!(["files:read", "offline_access"]) } else { json!(["files:read"]) }});
    if behaviour.preregistered_only.is_none() {
        meta["registration_endpoint"] = json!(format!("{base}/register"));
    }
    let state = Arc::new(QuirkyAs {
        issuer: base.clone(),
        behaviour,
        seen: Mutex::default(),
    });
    let mut app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { axum::Json(meta) }),
        )
        .route(
            "/register",
            post(|| async { (StatusCode::CREATED, axum::Json(json!({"client_id": "c1"}))) }),
        )
        .route("/authorize", get(authorize))
        .route("/token", post(token));
    let mut urls = Vec::new();
    for i in 0..servers {
        let url = format!("{base}/s{i}/mcp");
        let prm = json!({"resource": url, "authorization_servers": [base], "scopes_supported": ["files:read"]});
        let challenge = format!(
            "Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/s{i}/mcp\""
        );
        app = app
            .route(
                &format!("/s{i}/mcp"),
                post(move || async move {
                    (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)])
                }),
            )
            .route(
                &format!("/.well-known/oauth-protected-resource/s{i}/mcp"),
                get(move || async move { axum::Json(prm) }),
            );
        urls.push(url);
    }
    let router = app.with_state(Arc::clone(&state));
    let second = router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    tokio::spawn(async move { axum::serve(other, second).await });
    Ok((state, urls, other_host))
}
