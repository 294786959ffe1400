//! Step-up through the broker (SEP-2350): the demo's write tool
//! (`create_issue`, which needs `mcp:write`) called through the broker's
//! proxy with a connected client's key is refused with a 403 a person can
//! act on, and the refusal is recorded on the server (`status` shows it).
//! `mcp-passport login <issuer>` then asks the reference Multi-Server AS for
//! the union of scopes with the grant's servers pre-checked, and the same
//! call (same key, same URL, same MCP session, no restart) succeeds. (The
//! union and the retry limit are unit-tested in `passport_core::step_up`.)
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::{Value, json};
use std::time::Instant;
use support::home::Home;
use support::stack::Stack;

/// Runs a command that must succeed; returns its stdout.
async fn ok(home: &Home, args: &[&str]) -> String {
    let out = home.run(args, None).await;
    assert!(
        out.status.success(),
        "mcp-passport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An MCP client on raw HTTP: one key, one proxy URL, one session.
struct Client {
    http: reqwest::Client,
    url: String,
    auth: String,
    session: Option<String>,
}

impl Client {
    async fn post(&self, body: Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.url)
            .header("authorization", &self.auth)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body);
        if let Some(id) = &self.session {
            request = request.header("mcp-session-id", id);
        }
        request.send().await.unwrap()
    }

    async fn initialize(&mut self) {
        let response = self
            .post(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "step-up-test", "version": "1"}}}))
            .await;
        assert_eq!(response.status(), 200, "initialize through the proxy");
        self.session = response
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        let _ = response.bytes().await;
        let note = self
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert!(note.status().is_success(), "initialized: {}", note.status());
    }

    async fn create_issue(&self, id: u64) -> (u16, Option<String>, String) {
        let response = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": "create_issue", "arguments": {"title": "step-up"}}}))
            .await;
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        (status, challenge, response.text().await.unwrap())
    }
}

fn step_up_of(home: &Home, server: &str) -> Value {
    let state = home.state_parses("reading the step-up");
    state["grants"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["servers"].as_array().unwrap().iter())
        .find(|s| s["id"] == server)
        .map(|s| s["step_up"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_write_tool_refused_for_scope_works_through_the_same_proxy_url_after_approval() {
    let stack = Stack::start(&["github-mcp", "slack-mcp", "notion-mcp"], 3600, 0).await;
    let home = Home::new("step-up", "github-mcp,slack-mcp");
    home.login(&stack.issuer()).await;
    let config = home.dir.path().join("claude_desktop_config.json");
    ok(
        &home,
        &[
            "connect",
            "claude-desktop",
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .await;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let auth = written["mcpServers"]["passport-github-mcp"]["env"]["MCP_PASSPORT_AUTHORIZATION"]
        .as_str()
        .unwrap()
        .to_string();

    let mut broker = home.spawn_broker(None);
    let (port, _) = home.endpoint(&mut broker).await;
    let mut client = Client {
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        url: format!("http://127.0.0.1:{port}/v1/mcp/github-mcp"),
        auth,
        session: None,
    };
    client.initialize().await;

    // Before: a 403 with our message, and the step-up recorded on the server.
    let refused_at = Instant::now();
    let (status, challenge, body) = client.create_issue(2).await;
    assert_eq!(status, 403, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("MCP Passport: ")
            && message.ends_with(" needs more access (mcp:write). Approve it in MCP Passport."),
        "{message}"
    );
    assert_eq!(body["error"]["code"], "insufficient_scope");
    let challenge = challenge.expect("a WWW-Authenticate challenge");
    let parsed = passport_core::challenge::parse_www_authenticate(&challenge).unwrap();
    assert_eq!(parsed.error.as_deref(), Some("insufficient_scope"));
    assert!(parsed.scope.unwrap().split(' ').any(|s| s == "mcp:write"));
    assert!(
        parsed.resource_metadata.is_none(),
        "the server's challenge must not send the client around MCP Passport: {challenge}"
    );
    assert!(challenge.contains(message), "{challenge}");
    let recorded = step_up_of(&home, "github-mcp");
    assert_eq!(recorded["state"], "needed", "{recorded}");
    assert_eq!(recorded["missing"], json!(["mcp:write"]));
    assert!(
        recorded["scope"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "mcp:tools"),
        "the union keeps what the grant has: {recorded}"
    );
    let status = ok(&home, &["status"]).await;
    assert!(
        status.contains(&format!(
            "NEEDS MORE ACCESS: mcp:write — run: mcp-passport login {}",
            stack.issuer()
        )),
        "{status}"
    );
    // Reads still go through.
    let read = client
        .post(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "list_issues", "arguments": {}}}))
        .await;
    assert_eq!(read.status(), 200);
    let _ = read.bytes().await;

    // Approve: the person's browser ticks nothing itself, so the servers
    // granted are the ones MCP Passport pre-checked (all three otherwise).
    std::fs::write(
        home.dir.path().join("browser.sh"),
        format!(
            "#!/bin/sh\nexec '{}' approve \"$1\"\n",
            support::home::target_bin("reference-as").display()
        ),
    )
    .unwrap();
    let approved_at = Instant::now();
    ok(&home, &["login", &stack.issuer()]).await;
    let login_took = approved_at.elapsed();

    // After: the same call, same key, URL and session, succeeds.
    let call_at = Instant::now();
    let (status, _, body) = client.create_issue(4).await;
    let call_took = call_at.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("step-up"), "{body}");
    assert!(!body.contains("\"isError\":true"), "{body}");
    println!(
        "step-up round trip: 403 to success {:.0} ms (re-authorization {:.0} ms, the call after it {:.1} ms)",
        refused_at.elapsed().as_secs_f64() * 1000.0,
        login_took.as_secs_f64() * 1000.0,
        call_took.as_secs_f64() * 1000.0
    );
    let mut granted = stack.granted_at_as();
    granted.sort();
    assert_eq!(
        granted,
        ["github-mcp", "slack-mcp"],
        "the re-authorization kept the grant's servers, and only them"
    );
    assert_eq!(step_up_of(&home, "github-mcp")["state"], "approved");
    let status = ok(&home, &["status"]).await;
    assert!(!status.contains("NEEDS MORE ACCESS"), "{status}");
    // Slack got the wider scope too and still works through the proxy.
    let (code, body) = support::home::broker_token(&(port, home_cli_key(&home)), "slack-mcp")
        .await
        .unwrap();
    assert_eq!(code, 200, "{body}");

    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    stack.shutdown().await;
}

/// The CLI's key from the endpoint file.
fn home_cli_key(home: &Home) -> String {
    let text = std::fs::read_to_string(home.endpoint_file()).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_records_the_refusal_and_signs_in_again_for_the_union() {
    let stack = Stack::start(&["github-mcp"], 3600, 0).await;
    let home = Home::new("step-up-check", "github-mcp");
    let url = stack.resource("github-mcp");
    let out = home
        .run(
            &[
                "check",
                &url,
                "--call",
                "create_issue",
                "--args",
                r#"{"title":"from check"}"#,
                "--json",
            ],
            None,
        )
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("needs more access (mcp:write). Approve it in MCP Passport."),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["call"]["is_error"], json!(false), "{report}");
    let recorded = step_up_of(&home, "github-mcp");
    assert_eq!(recorded["state"], "approved", "{recorded}");
    assert_eq!(recorded["attempts"], 1);
    stack.shutdown().await;
}
