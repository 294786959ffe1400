//! The organization sign-in inside a running broker, and step-up through
//! its proxy with a wider ID-JAG.

use crate::harness::*;
use crate::support::home::Home;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn login_idp_while_serve_runs_signs_in_inside_the_broker_which_serves_the_tokens_at_once() {
    let demo = demo().await;
    let servers: Vec<String> = demo
        .info()
        .servers
        .iter()
        .map(|s| s.resource.clone())
        .collect();
    let idp = demo.idp_issuer().unwrap().to_string();
    let home = Home::new("enterprise-broker", "");
    let mut broker = home.spawn_broker(None);
    let (port, key) = home.endpoint(&mut broker).await;

    // The IdP's sign-in address comes from the broker (an `open` line);
    // the browser's redirect returns to the broker's loopback listener.
    let (ok, stdout, stderr) = login(&home, &demo, "demo", &servers).await;
    assert!(
        ok,
        "login --idp through the broker failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("sign in with your organization"),
        "{stderr}"
    );
    for s in &servers {
        assert!(stdout.contains(s), "{s} in {stdout}");
    }
    assert_eq!(demo.idp_requests().1, 3, "one token exchange per server");

    // The broker did the login: its audit has the admin call for the IdP.
    let mut audited = String::new();
    for _ in 0..50 {
        audited = std::fs::read_to_string(home.dir.path().join("audit.jsonl")).unwrap_or_default();
        if audited
            .lines()
            .any(|l| l.contains("\"admin\"") && l.contains(&idp) && l.contains("\"ok\""))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        audited
            .lines()
            .any(|l| l.contains("\"admin\"") && l.contains(&idp)),
        "the enterprise login went through the broker: {audited}"
    );

    // It serves the tokens at once, with the ones it just got (no new
    // ID-JAG, no restart).
    for s in &servers {
        let listed = tools(port, &key, s).await.unwrap();
        assert!(!listed.is_empty(), "{s} lists its tools");
    }
    assert_eq!(
        demo.idp_requests().1,
        3,
        "the broker kept the tokens it got"
    );
    assert_eq!(demo.jwt_bearer_requests(), 3);
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");
    let _ = broker.kill().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_refused_for_scope_gets_a_wider_id_jag_from_the_organization_without_a_browser() {
    let demo = demo().await;
    let github = demo
        .info()
        .servers
        .iter()
        .find(|s| s.id == "github-mcp")
        .unwrap()
        .resource
        .clone();
    let home = Home::new("enterprise-step-up", "");
    let (ok, stdout, stderr) = login(&home, &demo, "demo", std::slice::from_ref(&github)).await;
    assert!(ok, "login --idp failed:\n{stdout}\n{stderr}");
    let idp_visits = demo.idp_state().unwrap().base.requests.snapshot().2;

    let mut broker = home.spawn_broker(None);
    let (port, key) = home.endpoint(&mut broker).await;
    let url = format!(
        "http://127.0.0.1:{port}{}",
        passport_broker::admin_api::proxy_path(&github)
    );
    let (status, session, body) = mcp_call(
        &url,
        &key,
        None,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "enterprise-step-up", "version": "1"}}}),
    )
    .await;
    assert_eq!(status, 200, "initialize: {body}");
    let session = session.as_deref();
    let (status, _, _) = mcp_call(
        &url,
        &key,
        session,
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert!((200..300).contains(&status), "initialized: {status}");
    // The broker's first token came by the IdP refresh token and an ID-JAG.
    let (exchanges, bearers) = (demo.idp_requests().1, demo.jwt_bearer_requests());

    // The write tool needs mcp:write, which the grant lacks: the server
    // refuses, the broker asks the organization for the union (a new ID-JAG,
    // a new JWT bearer grant) and sends the call again: it succeeds.
    let write = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "create_issue", "arguments": {"title": "step-up"}}});
    let (status, _, body) = mcp_call(&url, &key, session, write.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("step-up") && !body.contains("\"isError\":true"),
        "{body}"
    );
    assert_eq!(demo.idp_requests().1, exchanges + 1, "one new ID-JAG");
    assert_eq!(
        demo.jwt_bearer_requests(),
        bearers + 1,
        "one new JWT bearer grant"
    );
    assert_eq!(
        demo.idp_state().unwrap().base.requests.snapshot().2,
        idp_visits,
        "no browser sign-in at the IdP"
    );
    assert_eq!(demo.as_requests().2, 0, "no AS browser visit");

    // The wider scope is kept for renewals; the step-up is settled.
    let state = home.state_parses("after the step-up");
    let server = &state["grants"][0]["servers"][0];
    assert_eq!(server["step_up"]["state"], "approved", "{state}");
    let kept = state["enterprise"][0]["servers"][0]["scope"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(kept.split(' ').any(|s| s == "mcp:write"), "{state}");
    assert!(
        kept.split(' ').any(|s| s == "mcp:tools"),
        "the union keeps the held scope: {kept}"
    );

    // The next write goes straight through with the token it holds.
    let (status, _, body) = mcp_call(&url, &key, session, write).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(demo.idp_requests().1, exchanges + 1, "no further ID-JAG");
    let _ = broker.kill().await;
}
