//! A tiny authorization server for the tests, and helpers around it.
//!
//! It is real HTTP on 127.0.0.1: RFC 8414 metadata, a JWKS with one ES256
//! key (rotatable), and an RFC 7662 introspection endpoint that says
//! `active` unless the token was revoked. It counts JWKS fetches so tests can
//! see when the server refetched.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey as _;
use sample_servers::{Introspection, SampleServer, ServerSpec, Trust};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub const RS_CLIENT_ID: &str = "sample-servers";
pub const RS_CLIENT_SECRET: &str = "introspection-secret";

/// A signing key with its key id.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    pub key: SigningKey,
}

impl Key {
    pub fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_string(),
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    pub fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        })
    }

    /// Signs `claims` as an `at+jwt` with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Signs with this key but names `kid` in the header.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let der = self.key.to_pkcs8_der().expect("pkcs8");
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(der.as_bytes()))
            .expect("sign")
    }
}

struct AsState {
    issuer: String,
    keys: Mutex<Vec<Key>>,
    revoked: Mutex<HashSet<String>>,
    jwks_hits: AtomicUsize,
    introspections: AtomicUsize,
}

/// The running test AS.
pub struct TestAs {
    pub issuer: String,
    state: Arc<AsState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestAs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestAs {
    pub async fn start() -> Self {
        // Shows the servers' log lines for failing tests (`RUST_LOG=info`).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind AS");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(AsState {
            issuer: issuer.clone(),
            keys: Mutex::new(vec![Key::generate("key-1")]),
            revoked: Mutex::new(HashSet::new()),
            jwks_hits: AtomicUsize::new(0),
            introspections: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            issuer,
            state,
            task,
        }
    }

    /// The key currently published (and used by [`TestAs::token`]).
    pub fn key(&self) -> Key {
        self.state.keys.lock().unwrap()[0].clone()
    }

    /// Replaces the published key with a new one and returns it.
    pub fn rotate(&self, kid: &str) -> Key {
        let key = Key::generate(kid);
        *self.state.keys.lock().unwrap() = vec![key.clone()];
        key
    }

    pub fn revoke(&self, token: &str) {
        self.state.revoked.lock().unwrap().insert(token.to_string());
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn introspections(&self) -> usize {
        self.state.introspections.load(Ordering::SeqCst)
    }

    /// Good claims from this AS for audience `aud` with `scope`.
    pub fn claims(&self, aud: Value, scope: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer, "sub": "alice", "client_id": "passport", "aud": aud,
            "scope": scope, "iat": now, "exp": now + 300, "jti": format!("jti-{now}-{}", rand::random::<u32>()),
        })
    }

    /// A token signed with the published key.
    pub fn token(&self, aud: Value, scope: &str) -> String {
        self.key().sign(&self.claims(aud, scope))
    }

    /// Starts a sample server trusting this AS.
    pub async fn server(&self, id: &str, introspect: bool) -> SampleServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind server");
        let trust = Trust {
            issuer: self.issuer.clone(),
            introspection: introspect.then(|| Introspection {
                client_id: RS_CLIENT_ID.into(),
                client_secret: RS_CLIENT_SECRET.into(),
            }),
        };
        SampleServer::serve(ServerSpec::for_id(id), listener, trust)
            .await
            .expect("serve")
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

pub const SCOPE: &str = "servers:github-mcp,slack-mcp mcp:tools mcp:resources mcp:prompts";

async fn metadata(State(state): State<Arc<AsState>>) -> Json<Value> {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "token_endpoint": format!("{issuer}/token"),
    }))
}

async fn jwks(State(state): State<Arc<AsState>>) -> Json<Value> {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = state.keys.lock().unwrap().iter().map(Key::jwk).collect();
    Json(json!({ "keys": keys }))
}

async fn introspect(
    State(state): State<Arc<AsState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    state.introspections.fetch_add(1, Ordering::SeqCst);
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{RS_CLIENT_ID}:{RS_CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let token = form.get("token").ok_or(StatusCode::BAD_REQUEST)?;
    let active = !state.revoked.lock().unwrap().contains(token);
    Ok(Json(if active {
        json!({"active": true, "client_id": "passport"})
    } else {
        json!({"active": false})
    }))
}

/// The body of an MCP `initialize` request.
pub fn initialize_body() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}
        }
    })
}

/// POSTs `body` to `url` with an optional bearer token, as an MCP client would.
pub async fn post_mcp(url: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("POST /mcp")
}

/// The `WWW-Authenticate` header of a response, or "".
pub fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default()
}
