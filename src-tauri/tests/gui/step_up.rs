//! Step-up in the app: a write tool refused through the app's broker shows
//! the server as "Needs more access (mcp:write)" with an Approve button;
//! Approve, pressed with the keyboard, signs in again for the scope, and
//! the same call through the same proxy URL and session then succeeds.

use super::harness::Gui;
use crate::{ONE_AT_A_TIME, WAIT};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn needs_more_access_shows_with_an_approve_button_that_grants_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("step-up", &["github-mcp", "slack-mcp"]).await;
    gui.sign_in(2).await;

    let (port, key) = gui.endpoint();
    let url = format!("http://127.0.0.1:{port}/v1/mcp/github-mcp");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |body: Value, session: Option<String>| {
        let mut r = http
            .post(&url)
            .bearer_auth(&key)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = session {
            r = r.header("mcp-session-id", s);
        }
        r.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "gui-test", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200);
    let session = init
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let _ = init.bytes().await;
    let _ = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        session.clone(),
    )
    .await
    .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "create_issue", "arguments": {"title": "from the gui test"}}});
    let refused = post(call.clone(), session.clone()).await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("needs more access (mcp:write). Approve it in MCP Passport."),
        "{body}"
    );

    let row = "tr.server[data-id='github-mcp']";
    let shown = gui
        .session
        .wait_for_with(
            "github to show that it needs more access",
            "const row = document.querySelector(arguments[0]);
             return row !== null && row.dataset.status === 'needs-more-access'
               && row.querySelector('button.approve:not([hidden])') !== null
               && row.querySelector('.status').textContent",
            json!([row]),
            WAIT,
        )
        .await;
    assert_eq!(shown, json!("Needs more access (mcp:write)"));
    let others = gui
        .session
        .eval("return [...document.querySelectorAll('tr.server[data-id=slack-mcp] button.approve')].map(b => b.hidden)")
        .await;
    assert_eq!(others, json!([true]), "slack has nothing to approve");
    gui.shot("1-needs-more-access").await;

    // The keyboard path: focus Approve and press Enter.
    let focused = gui
        .session
        .eval_with(
            "const b = document.querySelector(arguments[0]); b.focus(); return document.activeElement === b",
            json!([format!("{row} button.approve")]),
        )
        .await;
    assert_eq!(focused, json!(true), "Approve takes the keyboard focus");
    gui.session
        .type_into(&format!("{row} button.approve"), "\u{E007}")
        .await;
    gui.wait_signed_in(2, "GitHub (sample)").await;
    gui.shot("2-approved").await;

    let done = post(call, session).await.unwrap();
    assert_eq!(done.status(), 200, "the same call through the same URL");
    let text = done.text().await.unwrap();
    assert!(!text.contains("\"isError\":true"), "{text}");
    gui.stop().await;
}
