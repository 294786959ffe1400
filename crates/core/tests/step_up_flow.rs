//! Step-up at a per-server AS, on real HTTP: after a server asked for
//! `files:write`, the next sign-in to it asks for the union of scopes in
//! its authorization request; an AS that grants it approves the step-up,
//! and one that leaves it out makes it refused at once (no second request
//! asked for by itself). A server that still refuses the same scope after
//! an approved re-authorization is refused too: the retry limit.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::headless::HeadlessOpener;
use passport_core::http::HttpClient;
use passport_core::step_up::StepUpState;
use passport_core::store::MemoryStore;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// The AS: whether it grants `files:write`, and the scopes it was asked for.
struct As {
    base: String,
    grants_write: bool,
    asked: Mutex<Vec<String>>,
}

async fn authorize(
    State(s): State<Arc<As>>,
    Query(q): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    s.asked.lock().unwrap().push(get("scope"));
    let iss: String = url::form_urlencoded::byte_serialize(s.base.as_bytes()).collect();
    Redirect::to(&format!(
        "{}?code=c&state={}&iss={iss}",
        get("redirect_uri"),
        get("state")
    ))
}

async fn token(State(s): State<Arc<As>>) -> impl IntoResponse {
    let asked = s.asked.lock().unwrap().last().cloned().unwrap_or_default();
    let granted: Vec<&str> = asked
        .split(' ')
        .filter(|x| s.grants_write || *x != "files:write")
        .collect();
    axum::Json(
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "rt", "scope": granted.join(" ")}),
    )
}

/// The AS and one MCP server (401 with RFC 9728 metadata) behind it.
async fn start(grants_write: bool) -> (Arc<As>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let state = Arc::new(As {
        base: base.clone(),
        grants_write,
        asked: Mutex::new(Vec::new()),
    });
    let meta = json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"), "registration_endpoint": format!("{base}/register"),
        "code_challenge_methods_supported": ["S256"], "authorization_response_iss_parameter_supported": true});
    let url = format!("{base}/mcp");
    let prm = json!({"resource": url, "authorization_servers": [base], "scopes_supported": ["files:read"]});
    let challenge =
        format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\"");
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { axum::Json(meta) }),
        )
        .route(
            "/register",
            post(|| async {
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(json!({"client_id": "c1"})),
                )
            }),
        )
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route(
            "/mcp",
            post(move || async move {
                (
                    axum::http::StatusCode::UNAUTHORIZED,
                    [("www-authenticate", challenge)],
                )
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || async move { axum::Json(prm) }),
        )
        .with_state(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

async fn sign_in(engine: &Engine, url: &str) {
    let redirect = "http://127.0.0.1:45112/callback";
    let flows = engine.flows();
    let opener = HeadlessOpener::new(
        redirect,
        Arc::new(move |u: String| {
            let _ = flows.deliver(&u, chrono::Utc::now());
        }),
    )
    .unwrap();
    let request = LoginRequest {
        target: LoginTarget::Servers(vec![url.to_string()]),
        servers: vec![],
        client: None,
        redirect_uri: redirect.into(),
        scope: None,
        timeout: std::time::Duration::from_secs(10),
        account: None,
    };
    engine
        .login(&request, &opener as &dyn Opener)
        .await
        .unwrap();
}

fn engine(dir: &tempfile::TempDir) -> Engine {
    Engine::new(
        EngineConfig::new(dir.path().join("state.json")),
        HttpClient::new().unwrap(),
        Arc::new(SystemClock),
        Arc::new(MemoryStore::new()),
    )
    .unwrap()
}

fn state_of(engine: &Engine, url: &str) -> Option<StepUpState> {
    engine
        .grant_for(url)
        .and_then(|g| g.server(url).and_then(|s| s.step_up.clone()))
        .map(|s| s.state)
}

#[tokio::test]
async fn the_next_sign_in_asks_for_the_union_and_a_granted_scope_approves_until_refused_again() {
    let (at, url) = start(true).await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir);
    sign_in(&engine, &url).await;
    let notice = engine
        .record_insufficient_scope(&url, "files:read files:write")
        .unwrap()
        .unwrap();
    assert_eq!(notice.step_up.missing, ["files:write"]);
    assert_eq!(state_of(&engine, &url), Some(StepUpState::Needed));
    // It survives a restart (the state file).
    let engine = self::engine(&dir);
    assert_eq!(state_of(&engine, &url), Some(StepUpState::Needed));

    sign_in(&engine, &url).await;
    assert_eq!(
        at.asked.lock().unwrap().clone(),
        ["files:read", "files:read files:write"],
        "the second authorization request asks for the union"
    );
    assert_eq!(state_of(&engine, &url), Some(StepUpState::Approved));
    assert!(
        engine
            .grant_for(&url)
            .unwrap()
            .scope
            .contains(&"files:write".to_string())
    );

    // The server still refuses for the same scope: stop asking.
    let notice = engine
        .record_insufficient_scope(&url, "files:write")
        .unwrap()
        .unwrap();
    assert_eq!(notice.step_up.state, StepUpState::Refused);
    assert!(
        notice.message.contains("did not grant"),
        "{}",
        notice.message
    );
}

#[tokio::test]
async fn an_as_that_leaves_the_scope_out_makes_the_step_up_refused() {
    let (at, url) = start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir);
    sign_in(&engine, &url).await;
    engine
        .record_insufficient_scope(&url, "files:write")
        .unwrap()
        .unwrap();
    sign_in(&engine, &url).await;
    assert_eq!(
        at.asked.lock().unwrap().last().unwrap(),
        "files:read files:write"
    );
    assert_eq!(state_of(&engine, &url), Some(StepUpState::Refused));
    assert_eq!(
        engine.step_up_target(&url).map(|(t, _)| format!("{t:?}")),
        Some(format!("{:?}", LoginTarget::Servers(vec![url.clone()]))),
        "a refused step-up can still be asked for again by the user"
    );
}
