//! Adding and revoking servers, signing out, and a grant revoked at the AS.

use super::harness::Gui;
use crate::{ONE_AT_A_TIME, WAIT};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn add_servers_adds_the_third_and_revoke_removes_one_which_its_server_then_refuses() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("add-revoke", &["github-mcp", "slack-mcp"]).await;
    gui.sign_in(2).await;

    gui.pick(&["github-mcp", "slack-mcp", "notion-mcp"]);
    gui.session.click("button.add-servers").await;
    gui.wait_servers(3).await;
    gui.shot("1-three-servers").await;

    // A token for slack through the app's broker, as a local client gets it.
    let (port, key) = gui.endpoint();
    let http = reqwest::Client::new();
    let token_url = format!("http://127.0.0.1:{port}/v1/token/slack-mcp");
    let issued: serde_json::Value = http
        .get(&token_url)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slack_token = issued["access_token"]
        .as_str()
        .expect("a slack token")
        .to_string();
    let slack = gui
        .demo
        .info()
        .servers
        .iter()
        .find(|s| s.id == "slack-mcp")
        .unwrap()
        .resource
        .clone();
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "gui-test", "version": "1"}}});
    let call = |token: String| {
        let request = http
            .post(&slack)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        call(slack_token.clone()).await,
        200,
        "slack accepts its token before the revoke"
    );

    gui.session
        .click("button.revoke[data-server='slack-mcp']")
        .await;
    let dialog = gui
        .session
        .eval("return document.getElementById('confirm-text').textContent")
        .await;
    assert!(
        dialog.as_str().unwrap().contains("cannot be undone"),
        "the confirmation says what it cannot undo: {dialog}"
    );
    gui.shot("2-confirm-revoke").await;
    gui.session.click("#confirm-yes").await;
    gui.session
        .wait_for("slack gone", "return ![...document.querySelectorAll('tr.server')].some(r => r.dataset.id === 'slack-mcp' && r.dataset.status !== 'revoked')", WAIT)
        .await;
    gui.wait_servers(2).await;
    gui.shot("3-after-revoke").await;

    assert_eq!(
        call(slack_token).await,
        401,
        "slack refuses the revoked token"
    );
    let refused = http.get(&token_url).bearer_auth(&key).send().await.unwrap();
    assert!(
        refused.status().is_client_error(),
        "the broker no longer hands out slack tokens: {}",
        refused.status()
    );
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_empties_the_dashboard() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("sign-out", &["github-mcp"]).await;
    gui.sign_in(1).await;
    gui.session.click("button.sign-out").await;
    gui.session.click("#confirm-yes").await;
    gui.session
        .wait_for("the empty dashboard", "return !document.getElementById('welcome').hidden && document.querySelectorAll('article.account').length === 0", WAIT)
        .await;
    gui.shot("1-signed-out").await;
    let state = std::fs::read_to_string(gui.dir.path().join("home/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        state["grants"].as_array().map(Vec::len),
        Some(0),
        "no grant is kept"
    );
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_revoked_at_the_authorization_server_shows_sign_in_needed_and_a_notification() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("revoked-at-as", &["github-mcp"]).await;
    gui.sign_in(1).await;
    let mut monitor = tokio::process::Command::new("dbus-monitor")
        .args([
            "--session",
            "interface='org.freedesktop.Notifications',member='Notify'",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("dbus-monitor (package dbus) is installed");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let revoked = reference_as::approve::revoke_everything(&gui.issuer(), ("demo", "demo"))
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    gui.session.click("button.refresh").await;
    gui.session
        .wait_for(
            "sign-in needed",
            "return document.querySelector('article.account')?.dataset.status === 'sign-in-needed'",
            WAIT,
        )
        .await;
    let banner = gui
        .session
        .eval("return document.getElementById('banner-text').textContent")
        .await;
    assert!(
        banner.as_str().unwrap().contains("Sign in again"),
        "the error names the next step: {banner}"
    );
    gui.shot("1-sign-in-needed").await;

    let mut seen = String::new();
    let mut out = monitor.stdout.take().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("Sign-in needed") && tokio::time::Instant::now() < deadline {
        let mut chunk = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::io::AsyncReadExt::read(&mut out, &mut chunk),
        )
        .await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }
    assert!(
        seen.contains("Sign-in needed"),
        "a desktop notification was sent: {seen}"
    );
    let _ = monitor.kill().await;

    // The way back: one button, the same servers.
    gui.session.click("button.sign-in-again").await;
    gui.session
        .wait_for(
            "active again",
            "return document.querySelectorAll('article.account').length === 1 && document.querySelector('article.account').dataset.status === 'active' && document.querySelector('tr.server').dataset.status === 'active'",
            WAIT,
        )
        .await;
    gui.shot("2-signed-in-again").await;
    gui.stop().await;
}
