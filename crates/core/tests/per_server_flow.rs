//! The per-server and multi-resource flows against a minimal standard AS
//! (no `mcp:global`) that records what it is sent: SECURITY-CASES 18.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget, Opener};
use passport_core::headless::HeadlessOpener;
use passport_core::http::HttpClient;
use passport_core::model::Mode;
use passport_core::store::MemoryStore;
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Seen {
    authorize: Vec<Vec<(String, String)>>,
    token: Vec<Vec<(String, String)>>,
    /// Answer `invalid_target` to a refresh that names a `resource` (an AS
    /// that takes `resource` at the code exchange only).
    refuse_resource_on_refresh: bool,
}

type Shared = Arc<(String, Mutex<Seen>)>;

async fn authorize(
    State(s): State<Shared>,
    Query(q): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let target = format!(
        "{}?code=code-{}&state={}&iss={}",
        get("redirect_uri"),
        s.1.lock().unwrap().authorize.len(),
        get("state"),
        urlencode(&s.0)
    );
    s.1.lock().unwrap().authorize.push(q);
    Redirect::to(&target)
}

async fn token(
    State(s): State<Shared>,
    Form(f): Form<Vec<(String, String)>>,
) -> axum::response::Response {
    let mut seen = s.1.lock().unwrap();
    let refused = seen.refuse_resource_on_refresh
        && values(&f, "grant_type") == ["refresh_token"]
        && !values(&f, "resource").is_empty();
    seen.token.push(f);
    if refused {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_target", "error_description": "resource is fixed at the code exchange"})),
        )
            .into_response();
    }
    axum::Json(
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt"}),
    )
    .into_response()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A standard AS plus `servers` MCP servers (each with a 401 and RFC 9728 metadata).
async fn start(servers: usize) -> (Shared, Vec<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let shared: Shared = Arc::new((base.clone(), Mutex::new(Seen::default())));
    let meta = json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"), "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"), "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true, "resource_indicators_supported": servers > 1});
    let mut app = Router::new()
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
                    (
                        axum::http::StatusCode::UNAUTHORIZED,
                        [("www-authenticate", challenge)],
                    )
                }),
            )
            .route(
                &format!("/.well-known/oauth-protected-resource/s{i}/mcp"),
                get(move || async move { axum::Json(prm) }),
            );
        urls.push(url);
    }
    let router = app.with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (shared, urls)
}

fn values(params: &[(String, String)], key: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

async fn login(urls: &[String]) -> (Engine, Vec<passport_core::model::Grant>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        EngineConfig::new(dir.path().join("state.json")),
        HttpClient::new().unwrap(),
        Arc::new(SystemClock),
        Arc::new(MemoryStore::new()),
    )
    .unwrap();
    let redirect = "http://127.0.0.1:45111/callback";
    let flows = engine.flows();
    let opener = HeadlessOpener::new(
        redirect,
        Arc::new(move |url: String| {
            let _ = flows.deliver(&url, chrono::Utc::now());
        }),
    )
    .unwrap();
    let request = LoginRequest {
        target: LoginTarget::Servers(urls.to_vec()),
        servers: vec![],
        client: None,
        redirect_uri: redirect.into(),
        scope: None,
        timeout: std::time::Duration::from_secs(10),
        account: None,
    };
    let grants = engine
        .login(&request, &opener as &dyn Opener)
        .await
        .unwrap();
    (engine, grants, dir)
}

#[tokio::test]
async fn sec_18_per_server_flow_sends_the_same_resource_in_authorization_and_token_requests() {
    let (seen, urls) = start(1).await;
    let (engine, grants, _dir) = login(&urls).await;
    assert_eq!(grants[0].mode, Mode::PerServer);
    {
        let seen = seen.1.lock().unwrap();
        assert_eq!(
            values(&seen.authorize[0], "resource"),
            vec![urls[0].clone()]
        );
        assert_eq!(
            values(&seen.token[0], "resource"),
            vec![urls[0].clone()],
            "identical in the token request"
        );
        assert_eq!(
            values(&seen.authorize[0], "scope"),
            vec!["files:read".to_string()],
            "scope from scopes_supported"
        );
        assert_eq!(
            values(&seen.authorize[0], "code_challenge_method"),
            vec!["S256".to_string()]
        );
    }
    let token = engine.token(&urls[0]).await.unwrap();
    assert_eq!(token.access_token.expose(), "at");
}

#[tokio::test]
async fn sec_18_multi_resource_flow_names_every_server_in_one_authorization_request() {
    let (seen, urls) = start(2).await;
    let (engine, grants, _dir) = login(&urls).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].mode, Mode::MultiResource);
    assert_eq!(
        values(&seen.1.lock().unwrap().authorize[0], "resource"),
        urls
    );
    assert_eq!(
        values(&seen.1.lock().unwrap().token[0], "resource"),
        vec![urls[0].clone()],
        "the code exchange names one server"
    );
    engine.token(&urls[1]).await.unwrap();
    let seen = seen.1.lock().unwrap();
    let refresh = seen
        .token
        .iter()
        .find(|f| values(f, "grant_type") == ["refresh_token"])
        .expect("a refresh for the second server");
    assert_eq!(
        values(refresh, "resource"),
        vec![urls[1].clone()],
        "one token per server, through refresh with resource="
    );
}

#[tokio::test]
async fn multi_resource_server_refused_on_refresh_gets_a_sign_in_of_its_own() {
    let (seen, urls) = start(3).await;
    seen.1.lock().unwrap().refuse_resource_on_refresh = true;
    let (engine, grants, _dir) = login(&urls).await;
    let modes: Vec<(Mode, Vec<String>)> = grants
        .iter()
        .map(|g| (g.mode, g.servers.iter().map(|s| s.id.clone()).collect()))
        .collect();
    assert_eq!(
        modes,
        vec![
            (Mode::MultiResource, vec![urls[0].clone()]),
            (Mode::PerServer, vec![urls[1].clone()]),
            (Mode::PerServer, vec![urls[2].clone()]),
        ],
        "the first server keeps the multi-resource grant, the refused ones sign in alone"
    );
    assert_eq!(engine.grants().len(), 3, "every grant is stored");
    {
        let seen = seen.1.lock().unwrap();
        assert_eq!(
            seen.authorize.len(),
            3,
            "one browser round trip per refused server"
        );
        for (authorize, url) in seen.authorize[1..].iter().zip(&urls[1..]) {
            assert_eq!(values(authorize, "resource"), vec![url.clone()]);
        }
    }
    for url in &urls {
        engine.token(url).await.unwrap();
    }
}
