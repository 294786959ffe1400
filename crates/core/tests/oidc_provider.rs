//! The engine against `oidc-provider`, a certified OpenID provider from npm
//! (configured by `tests/oidc-provider/server.mjs`: RFC 8707 resource
//! indicators with JWT access tokens, refresh rotation with whole-grant
//! revocation on reuse, and DPoP as it comes), protecting two sample MCP
//! servers that trust it.
//! Needs `scripts/setup.sh` (the npm packages) and Node on PATH.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::Duration;
use passport_core::clock::{Clock, ManualClock};
use passport_core::engine::{Engine, EngineConfig, LoginRequest, LoginTarget};
use passport_core::headless::HeadlessOpener;
use passport_core::http::HttpClient;
use passport_core::model::{GrantStatus, Mode, TokenKind};
use passport_core::store::{MemoryStore, StoreKey, TokenStore};
use sample_servers::{SampleServer, ServerSpec, Trust};
use std::path::PathBuf;
use std::sync::Arc;

struct Provider {
    child: std::process::Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// oidc-provider with its defaults, but for DPoP when `dpop` is false
/// (`--no-dpop`, as at Entra ID, Google and GitHub, which offer none).
fn start_provider(resources: &[String], dir: &std::path::Path, dpop: bool) -> Provider {
    let root = root();
    assert!(
        root.join("tests/oidc-provider/node_modules/oidc-provider")
            .exists(),
        "oidc-provider is not installed: run scripts/setup.sh"
    );
    let ready = dir.join("ready.json");
    let mut command = std::process::Command::new("node");
    command
        .arg(root.join("tests/oidc-provider/server.mjs"))
        .args(["--port", "0", "--ready-file"])
        .arg(&ready);
    for r in resources {
        command.args(["--resource", r]);
    }
    if !dpop {
        command.arg("--no-dpop");
    }
    let log = std::fs::File::create(dir.join("oidc-provider.log")).unwrap();
    let child = command
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("node");
    let mut provider = Provider {
        child,
        issuer: String::new(),
    };
    for _ in 0..300 {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            provider.issuer = v["issuer"].as_str().unwrap().to_string();
            return provider;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "oidc-provider did not start: {}",
        std::fs::read_to_string(dir.join("oidc-provider.log")).unwrap_or_default()
    );
}

async fn mcp_status(resource: &str, token: &str) -> u16 {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    reqwest::Client::new()
        .post(resource)
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// What a sign-in at oidc-provider leaves: the servers' URLs, the
/// provider, the sample servers, the engine, its store and clock, and the grants.
struct SignedIn {
    urls: Vec<String>,
    provider: Provider,
    servers: Vec<SampleServer>,
    engine: Engine,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    grants: Vec<passport_core::model::Grant>,
}

/// Two sample servers trusting oidc-provider, and one sign-in for both.
async fn sign_in(dir: &std::path::Path, dpop: bool) -> SignedIn {
    let listeners = [
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let urls: Vec<String> = listeners
        .iter()
        .map(|l| format!("http://{}/mcp", l.local_addr().unwrap()))
        .collect();
    let provider = start_provider(&urls, dir, dpop);
    let mut servers = Vec::new();
    for (listener, id) in listeners.into_iter().zip(["github-mcp", "slack-mcp"]) {
        servers.push(
            SampleServer::serve_with(
                ServerSpec::for_id(id),
                listener,
                Trust {
                    issuer: provider.issuer.clone(),
                    introspection: None,
                },
                dpop,
            )
            .await
            .unwrap(),
        );
    }

    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let engine = Engine::new(
        EngineConfig::new(dir.join("state.json")),
        HttpClient::new().unwrap(),
        dyn_clock,
        store.clone(),
    )
    .unwrap();
    let redirect = "http://127.0.0.1:46123/callback";
    let flows = engine.flows();
    let deliver_clock = clock.clone();
    let opener = HeadlessOpener::new(
        redirect,
        Arc::new(move |url: String| {
            let _ = flows.deliver(&url, deliver_clock.now());
        }),
    )
    .unwrap();
    let request = LoginRequest {
        target: LoginTarget::Servers(urls.clone()),
        servers: vec![],
        client: None,
        redirect_uri: redirect.into(),
        scope: None,
        timeout: std::time::Duration::from_secs(20),
        account: None,
    };
    let grants = engine
        .login(&request, &opener)
        .await
        .expect("one sign-in for both servers");
    SignedIn {
        urls,
        provider,
        servers,
        engine,
        store,
        clock,
        grants,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_resource_flow_at_oidc_provider_yields_one_token_per_server_and_reuse_ends_the_grant_cleanly()
 {
    let dir = tempfile::tempdir().unwrap();
    // Without DPoP (as at Entra ID, Google and GitHub): this test moves the
    // engine's clock hours ahead, and a DPoP proof carries that clock's time,
    // which oidc-provider would refuse.
    let SignedIn {
        urls,
        provider,
        servers,
        engine,
        store,
        clock,
        grants,
    } = sign_in(dir.path(), false).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].mode, Mode::MultiResource);
    // With oidc-provider's stock resource indicators: the code exchange names
    // one server and the other's token comes by refresh, before login returns.
    let log = std::fs::read_to_string(dir.path().join("oidc-provider.log")).unwrap();
    let token_requests: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("POST /token "))
        .collect();
    assert_eq!(
        token_requests.len(),
        2,
        "one code exchange and one refresh for the second server: {log}"
    );
    assert!(
        token_requests
            .iter()
            .all(|l| l.starts_with("POST /token 200 ")),
        "{log}"
    );

    let first = engine.token(&urls[0]).await.unwrap();
    let second = engine.token(&urls[1]).await.unwrap();
    assert_eq!((first.kind, second.kind), (TokenKind::Own, TokenKind::Own));
    assert_ne!(first.access_token, second.access_token);
    assert_eq!(mcp_status(&urls[0], first.access_token.expose()).await, 200);
    assert_eq!(
        mcp_status(&urls[1], second.access_token.expose()).await,
        200
    );
    assert_eq!(
        mcp_status(&urls[1], first.access_token.expose()).await,
        401,
        "each token is bound to its own server"
    );

    // Rotation: every refresh stores a new refresh token.
    let key = StoreKey::RefreshToken {
        grant_id: grants[0].id.clone(),
    };
    let before = store.get(&key).unwrap().unwrap();
    clock.advance(Duration::hours(2));
    let renewed = engine.token(&urls[0]).await.unwrap();
    assert_ne!(renewed.access_token, first.access_token);
    let rotated = store.get(&key).unwrap().unwrap();
    assert_ne!(rotated, before, "the refresh token rotated");

    // A stolen refresh token is used elsewhere: the AS revokes the grant on the next use of ours.
    let client_id = grants[0].client_id.clone();
    let token_endpoint = format!("{}/token", provider.issuer);
    let r = reqwest::Client::new()
        .post(&token_endpoint)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated.as_str()),
            ("client_id", client_id.as_str()),
            ("resource", urls[0].as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    clock.advance(Duration::hours(2));
    let err = engine.token(&urls[1]).await.unwrap_err();
    assert_eq!(err.code(), "sign_in_needed", "{err}");
    assert!(matches!(
        engine.grants()[0].status,
        GrantStatus::SignInNeeded { .. }
    ));
    for server in servers {
        server.shutdown().await;
    }
    drop(provider);
}

/// A call to `resource` as the broker's proxy makes it: `Authorization:
/// DPoP` with a fresh proof from the engine, once more with the server's
/// nonce when it asks for one.
async fn dpop_status(engine: &Engine, resource: &str, token: &str) -> u16 {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    for _ in 0..2 {
        let proof = engine.dpop_proof("POST", resource, token).unwrap();
        let answer = reqwest::Client::new()
            .post(resource)
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        if !engine.dpop_answer(resource, status, answer.headers()) {
            return status.as_u16();
        }
    }
    panic!("{resource} asked for a new nonce twice");
}

/// oidc-provider offers DPoP by default: the one multi-resource sign-in
/// binds every server's token to this installation's key, so a call with a
/// proof gets through and the same token alone, as a bearer token, does not.
#[tokio::test(flavor = "multi_thread")]
async fn at_a_stock_oidc_provider_every_token_is_dpop_bound_and_a_copy_alone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let signed = sign_in(dir.path(), true).await;
    assert_eq!(signed.grants.len(), 1);
    assert_eq!(signed.grants[0].mode, Mode::MultiResource);
    assert!(
        signed.grants[0].dpop_bound,
        "oidc-provider's default DPoP binds the grant"
    );
    for url in &signed.urls {
        assert!(signed.engine.dpop_bound(url));
        let token = signed.engine.token(url).await.unwrap();
        let token = token.access_token.expose();
        assert_eq!(
            mcp_status(url, token).await,
            401,
            "a copy of the token alone is refused"
        );
        assert_eq!(dpop_status(&signed.engine, url, token).await, 200);
    }
    for server in signed.servers {
        server.shutdown().await;
    }
    drop(signed.provider);
}
