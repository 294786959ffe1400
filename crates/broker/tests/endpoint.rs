//! The broker on a real listener, with an engine signed in to the real
//! reference AS: SECURITY-CASES 28-35, the token route, the proxy with a
//! real rmcp client, and the audit.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::{Approver, setup};

use passport_broker::{BrokerConfig, BrokerError};
use passport_core::clock::SystemClock;
use passport_core::engine::{Engine, EngineConfig};
use passport_core::http::HttpClient;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use rmcp::ServiceExt as _;
use std::sync::Arc;
use std::time::Duration;

/// Waits (bounded) for the background audit writer to create its file.
async fn audit_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("audit.jsonl");
    for _ in 0..200 {
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    path
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn token_route_hands_out_a_token_the_server_accepts_and_lists_servers_without_tokens() {
    let s = setup().await;
    let list: serde_json::Value = client()
        .get(format!("{}/v1/servers", s.base))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["github-mcp", "slack-mcp"]);
    assert!(!list.to_string().contains("access_token"));
    let token: serde_json::Value = client()
        .get(format!("{}/v1/token/github-mcp", s.base))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["server"], "github-mcp");
    assert!(token["expires_at"].is_string());
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let github = s.demo.info().servers[0].resource.clone();
    let status = client()
        .post(github)
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    let audit = s.broker.state.audit.recent();
    assert!(audit.iter().any(|a| a.kind == "token"
        && a.server == "github-mcp"
        && a.outcome == "ok"
        && a.client == passport_broker::CLI_CLIENT));
    let log = std::fs::read_to_string(audit_file(s.dir.path()).await).unwrap();
    assert!(
        !log.contains(token["access_token"].as_str().unwrap()),
        "the audit never holds a token"
    );
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn proxy_serves_a_real_mcp_client_with_the_servers_own_token() {
    let s = setup().await;
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            format!("{}/v1/mcp/github-mcp", s.base),
        )
        .auth_header(s.key.clone()),
    );
    let mcp = rmcp::model::ClientConfig::default()
        .serve(transport)
        .await
        .expect("initialize through the proxy");
    let tools: Vec<String> = mcp
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"whoami".to_string()));
    let result = mcp
        .call_tool(rmcp::model::CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    let text: String = result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect();
    let whoami: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        whoami["aud"], "github-mcp",
        "the proxy used github's own audience-restricted token"
    );
    let _ = mcp.cancel().await;
    assert!(
        s.broker
            .state
            .audit
            .recent()
            .iter()
            .any(|a| a.kind == "proxy" && a.server == "github-mcp")
    );
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn sec_28_foreign_origin_is_403_with_an_empty_body() {
    let s = setup().await;
    let r = client()
        .get(format!("{}/v1/token/github-mcp", s.base))
        .bearer_auth(&s.key)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.bytes().await.unwrap().is_empty());
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn sec_29_dns_rebinding_host_is_403() {
    let s = setup().await;
    let port = s.broker.addr.port();
    let r = client()
        .get(format!("{}/v1/token/github-mcp", s.base))
        .bearer_auth(&s.key)
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = client()
        .get(format!("{}/v1/token/github-mcp", s.base))
        .bearer_auth(&s.key)
        .header("host", "127.0.0.1:1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "another port is another origin");
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn sec_30_no_key_a_wrong_key_or_a_revoked_key_is_401() {
    let s = setup().await;
    let url = format!("{}/v1/token/github-mcp", s.base);
    assert_eq!(
        client().get(&url).send().await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(
        client()
            .get(&url)
            .bearer_auth("mpk_nope_nope")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let mut forged = s.key.clone();
    forged.push('x');
    assert_eq!(
        client()
            .get(&url)
            .bearer_auth(&forged)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let (_, cursor) = s
        .broker
        .state
        .keys
        .mint("cursor", None, chrono::Utc::now())
        .unwrap();
    assert_eq!(
        client()
            .get(&url)
            .bearer_auth(&cursor)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    s.broker.state.keys.revoke("cursor").unwrap();
    assert_eq!(
        client()
            .get(&url)
            .bearer_auth(&cursor)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let stored = std::fs::read_to_string(s.dir.path().join("keys.json")).unwrap();
    assert!(
        // `mpk_<id>_<secret>`; the secret itself may contain `_`.
        !stored.contains(cursor.splitn(3, '_').nth(2).unwrap()),
        "keys are stored hashed"
    );
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn sec_31_x_forwarded_for_is_refused() {
    let s = setup().await;
    for (name, value) in [
        ("x-forwarded-for", "10.0.0.1"),
        ("forwarded", "for=10.0.0.1"),
    ] {
        let r = client()
            .get(format!("{}/v1/servers", s.base))
            .bearer_auth(&s.key)
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{name}");
    }
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn sec_32_no_response_carries_cors_headers_also_on_options() {
    let s = setup().await;
    let c = client();
    let responses = [
        c.request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/token/github-mcp", s.base),
        )
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap(),
        c.request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/token/github-mcp", s.base),
        )
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap(),
        c.get(format!("{}/v1/servers", s.base))
            .bearer_auth(&s.key)
            .send()
            .await
            .unwrap(),
        c.get(format!("{}/v1/servers", s.base))
            .send()
            .await
            .unwrap(),
        c.post(format!("{}/v1/mcp/github-mcp", s.base))
            .bearer_auth(&s.key)
            .header("accept", "application/json, text/event-stream")
            .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await
            .unwrap(),
    ];
    for r in &responses {
        assert!(
            r.headers()
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{:?}",
            r.headers()
        );
    }
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn sec_33_binding_anything_but_loopback_is_refused() {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::new(
            EngineConfig::new(dir.path().join("state.json")),
            HttpClient::new().unwrap(),
            Arc::new(SystemClock),
            Arc::new(MemoryStore::new()),
        )
        .unwrap(),
    );
    let config = |bind: &str| BrokerConfig {
        bind: bind.parse().unwrap(),
        endpoint_file: dir.path().join("endpoint.json"),
        keys_file: dir.path().join("keys.json"),
        audit_file: dir.path().join("audit.jsonl"),
        refresh_every: Duration::from_secs(3600),
    };
    assert!(matches!(
        passport_broker::start(config("0.0.0.0:0"), engine.clone(), Arc::new(Approver)).await,
        Err(BrokerError::NotLoopback(_))
    ));
    assert!(matches!(
        passport_broker::start(config("[::]:0"), engine.clone(), Arc::new(Approver)).await,
        Err(BrokerError::NotLoopback(_))
    ));
    let broker = passport_broker::start(config("127.0.0.1:0"), engine, Arc::new(Approver))
        .await
        .unwrap();
    assert!(broker.addr.ip().is_loopback());
    broker.shutdown().await;
    demo.shutdown().await;
}

#[tokio::test]
async fn sec_34_endpoint_file_and_key_file_are_readable_by_the_owner_only() {
    let s = setup().await;
    client()
        .get(format!("{}/v1/token/github-mcp", s.base))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    audit_file(s.dir.path()).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in ["run/endpoint.json", "keys.json", "audit.jsonl"] {
            let mode = std::fs::metadata(s.dir.path().join(file))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
    }
    s.broker.shutdown().await;
    assert!(
        !s.dir.path().join("run/endpoint.json").exists(),
        "removed when the broker stops"
    );
    s.demo.shutdown().await;
}

#[tokio::test]
async fn sec_35_a_key_limited_to_one_server_gets_403_for_another() {
    let s = setup().await;
    let (_, limited) = s
        .broker
        .state
        .keys
        .mint(
            "cursor",
            Some(vec!["github-mcp".into()]),
            chrono::Utc::now(),
        )
        .unwrap();
    let c = client();
    assert_eq!(
        c.get(format!("{}/v1/token/github-mcp", s.base))
            .bearer_auth(&limited)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        c.get(format!("{}/v1/token/slack-mcp", s.base))
            .bearer_auth(&limited)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let slack_url = s.demo.info().servers[1].resource.clone();
    assert_eq!(
        c.get(format!(
            "{}/v1/token/{}",
            s.base,
            url::form_urlencoded::byte_serialize(slack_url.as_bytes()).collect::<String>()
        ))
        .bearer_auth(&limited)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16(),
        403,
        "by URL too"
    );
    assert_eq!(
        c.post(format!("{}/v1/mcp/slack-mcp", s.base))
            .bearer_auth(&limited)
            .body("{}")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let list: serde_json::Value = c
        .get(format!("{}/v1/servers", s.base))
        .bearer_auth(&limited)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["servers"].as_array().unwrap().len(), 1);
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}

#[tokio::test]
async fn typescript_sdk_client_works_through_the_proxy_with_sse_responses() {
    let s = setup().await;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("tests/sdk-client/node_modules").exists(),
        "run scripts/setup.sh"
    );
    let (_, key) = s
        .broker
        .state
        .keys
        .mint(
            "sdk-test",
            Some(vec!["github-mcp".into()]),
            chrono::Utc::now(),
        )
        .unwrap();
    let out = tokio::process::Command::new("node")
        .arg(root.join("tests/sdk-client/proxy-client.mjs"))
        .arg(format!("{}/v1/mcp/github-mcp", s.base))
        .arg(&key)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "whoami")
    );
    assert_eq!(report["whoami"]["aud"], "github-mcp");
    assert_eq!(
        report["contentType"], "text/event-stream",
        "SSE responses stream through the proxy"
    );
    assert!(
        s.broker
            .state
            .audit
            .recent()
            .iter()
            .any(|a| a.client == "sdk-test" && a.kind == "proxy" && a.outcome == "ok")
    );
    s.broker.shutdown().await;
    s.demo.shutdown().await;
}
