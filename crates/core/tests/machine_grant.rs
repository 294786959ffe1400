//! Machine grants over real HTTP against a minimal AS that records what it
//! is sent: the client credentials grant with a client secret (HTTP Basic,
//! `resource` named), the JWT bearer grant with the workload's JWT read
//! from its file, and renewal: a token request after expiry asks the token
//! endpoint again with the same credentials (there is no refresh token).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use base64::Engine as _;
use passport_core::clock::ManualClock;
use passport_core::engine::{Engine, EngineConfig, LoginTarget, MachineCredential, MachineLogin};
use passport_core::http::HttpClient;
use passport_core::secret::ClientSecret;
use passport_core::store::{MemoryStore, StoreKey, TokenStore};
use serde_json::json;
use std::sync::{Arc, Mutex};

type Seen = Arc<Mutex<Vec<(Option<String>, Vec<(String, String)>)>>>;

async fn token(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> axum::Json<serde_json::Value> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut seen = seen.lock().unwrap();
    seen.push((basic, form));
    axum::Json(
        json!({"access_token": format!("at-{}", seen.len()), "token_type": "Bearer", "expires_in": 60}),
    )
}

async fn start() -> (Seen, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen: Seen = Arc::default();
    let meta = json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"), "token_endpoint": format!("{base}/token"),
        "grant_types_supported": ["client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"], "code_challenge_methods_supported": ["S256"]});
    let url = format!("{base}/mcp");
    let prm = json!({"resource": url, "authorization_servers": [base]});
    let challenge =
        format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\"");
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { axum::Json(meta) }),
        )
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
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (seen, url)
}

fn value(form: &[(String, String)], key: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn engine(dir: &tempfile::TempDir) -> (Engine, Arc<ManualClock>, Arc<MemoryStore>) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(
        EngineConfig::new(dir.path().join("state.json")),
        HttpClient::new().unwrap(),
        clock.clone(),
        store.clone(),
    )
    .unwrap();
    (engine, clock, store)
}

#[tokio::test]
async fn client_credentials_grant_keeps_the_secret_in_the_store_and_asks_again_after_expiry() {
    let (seen, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock, store) = engine(&dir);
    let grant = engine
        .login_machine(&MachineLogin {
            target: LoginTarget::Servers(vec![url.clone()]),
            client_id: Some("agent-7".into()),
            credential: MachineCredential::ClientSecret,
            secret: Some(ClientSecret::new("s3cret:x")),
            scope: None,
            account: None,
        })
        .await
        .unwrap();
    assert!(engine.machine_grant(&grant.id).is_some());
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(
        !state.contains("s3cret"),
        "the secret reached the state file"
    );
    assert_eq!(
        store
            .get(&StoreKey::MachineSecret {
                grant_id: grant.id.clone()
            })
            .unwrap()
            .as_deref(),
        Some("s3cret:x")
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (basic, form) = &seen[0];
        let basic = basic.as_deref().unwrap().strip_prefix("Basic ").unwrap();
        let pair = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .unwrap();
        // RFC 6749 section 2.3.1: the secret's ':' is form-encoded.
        assert_eq!(String::from_utf8(pair).unwrap(), "agent-7:s3cret%3Ax");
        assert_eq!(
            value(form, "grant_type").as_deref(),
            Some("client_credentials")
        );
        assert_eq!(value(form, "resource").as_deref(), Some(url.as_str()));
        assert_eq!(value(form, "client_secret"), None);
    }
    assert_eq!(
        engine.token(&url).await.unwrap().access_token.expose(),
        "at-1"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a fresh token is served as it is"
    );
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        engine.token(&url).await.unwrap().access_token.expose(),
        "at-2"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        2,
        "after expiry the token endpoint is asked again"
    );
    assert_eq!(seen[1].0, seen[0].0, "with the same credentials");
    assert_eq!(
        value(&seen[1].1, "grant_type").as_deref(),
        Some("client_credentials")
    );
}

#[tokio::test]
async fn jwt_bearer_grant_reads_the_workload_jwt_afresh_at_every_request() {
    let (seen, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock, _store) = engine(&dir);
    let file = dir.path().join("workload.jwt");
    std::fs::write(&file, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJmaXJzdCJ9.c2ln\n").unwrap();
    engine
        .login_machine(&MachineLogin {
            target: LoginTarget::Servers(vec![url.clone()]),
            client_id: None,
            credential: MachineCredential::JwtBearer {
                assertion_file: file.clone(),
            },
            secret: None,
            scope: None,
            account: None,
        })
        .await
        .unwrap();
    // The platform rotates its JWT in place.
    std::fs::write(&file, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNvbmQifQ.c2ln").unwrap();
    clock.advance(chrono::Duration::minutes(2));
    engine.token(&url).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for (basic, form) in seen.iter() {
        assert_eq!(basic, &None);
        assert_eq!(
            value(form, "grant_type").as_deref(),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
    }
    assert_eq!(
        value(&seen[0].1, "assertion").as_deref(),
        Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJmaXJzdCJ9.c2ln")
    );
    assert_eq!(
        value(&seen[1].1, "assertion").as_deref(),
        Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNvbmQifQ.c2ln")
    );
}

#[tokio::test]
async fn a_machine_login_without_what_it_needs_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock, store) = engine(&dir);
    let e = engine
        .login_machine(&MachineLogin {
            target: LoginTarget::Servers(vec!["http://127.0.0.1:9/mcp".into()]),
            client_id: None,
            credential: MachineCredential::ClientSecret,
            secret: Some(ClientSecret::new("s")),
            scope: None,
            account: None,
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--client-id"), "{e}");
    assert!(engine.grants().is_empty());
    assert!(store.is_empty());
}
