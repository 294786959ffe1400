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
    // Offered only once the first sign-in has ended (sign_in waited for that).
    gui.session.click("button.add-servers").await;
    gui.wait_signed_in(3, "Notion (sample)").await;
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
    // The revoke's own outcome: the AS narrowed the grant and revoked slack's
    // tokens. Until then slack shows as revoking, never as gone.
    gui.wait_banner(
        "info",
        "slack-mcp was removed from your sign-in and its tokens were revoked",
    )
    .await;
    let servers = gui.servers().await;
    assert_eq!(
        servers,
        [
            ("github-mcp".to_string(), "active".to_string()),
            ("notion-mcp".to_string(), "active".to_string())
        ],
        "slack is gone from the dashboard once its revoke is reported"
    );
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
async fn while_a_sign_in_waits_nothing_else_starts_one_and_it_can_be_cancelled() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("pending", &["github-mcp"]).await;
    gui.sign_in(1).await;
    gui.walk_away();
    gui.session.click("button.add-servers").await;
    let offered = gui
        .session
        .wait_for(
            "Add servers and Sign in disabled, with the reason",
            "const add = document.querySelector('button.add-servers'), signIn = document.getElementById('sign-in');
             const note = document.querySelector('article.account .note');
             return document.getElementById('banner').className === 'busy' && add.disabled && signIn.disabled
               && !note.hidden && note.textContent.includes('Cancel sign-in')
               && add.title.includes('waiting for your browser') && note.textContent",
            WAIT,
        )
        .await;
    assert!(
        offered.as_str().unwrap().starts_with("Add servers:"),
        "the reason is shown beside the button: {offered}"
    );
    gui.shot("1-sign-in-waiting").await;

    gui.session.click("#cancel-sign-in").await;
    gui.wait_banner("info", "Sign-in cancelled").await;
    gui.session
        .wait_for(
            "Add servers offered again",
            "return !document.querySelector('button.add-servers').disabled && document.querySelector('article.account .note').hidden",
            WAIT,
        )
        .await;
    gui.pick(&["github-mcp", "slack-mcp"]);
    gui.session.click("button.add-servers").await;
    gui.wait_signed_in(2, "Slack (sample)").await;
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_empties_the_dashboard() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("sign-out", &["github-mcp"]).await;
    gui.sign_in(1).await;
    let account = gui
        .session
        .eval("return document.querySelector('article.account').dataset.account")
        .await;
    assert_eq!(account, "demo", "the card names its account");
    gui.session.click("button.sign-out").await;
    gui.session.click("#confirm-yes").await;
    gui.wait_banner("info", "Signed out of").await;
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
    let mut out = monitor.stdout.take().unwrap();
    // dbus-monitor gives up its bus name once it monitors: from then on it sees every Notify.
    let mut seen = read_until(&mut out, String::new(), "member=NameLost").await;

    let revoked = reference_as::approve::revoke_everything(&gui.issuer(), ("demo", "demo"))
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    gui.session.click("button.refresh").await;
    // The refresh's own outcome, not the sign-in's banner still on the page.
    let banner = gui
        .wait_banner("error", "no longer accepts this sign-in")
        .await;
    assert!(
        banner.contains("Sign in again"),
        "the error names the next step: {banner}"
    );
    let status = gui
        .session
        .eval("return document.querySelector('article.account').dataset.status")
        .await;
    assert_eq!(status, serde_json::json!("sign-in-needed"));
    gui.shot("1-sign-in-needed").await;

    seen = read_until(&mut out, seen, "Sign-in needed").await;
    assert!(
        seen.contains("Sign-in needed"),
        "a desktop notification was sent: {seen}"
    );
    let _ = monitor.kill().await;

    // The way back: one button, the same servers.
    gui.session.click("button.sign-in-again").await;
    gui.wait_signed_in(1, "GitHub (sample)").await;
    let accounts = gui
        .session
        .eval("return [...document.querySelectorAll('article.account')].map(a => a.dataset.status)")
        .await;
    assert_eq!(
        accounts,
        serde_json::json!(["active"]),
        "one account, active again"
    );
    gui.shot("2-signed-in-again").await;
    gui.stop().await;
}

/// Reads `out` onto `seen` until it contains `wanted` (or 10 s passed); returns it all.
async fn read_until(
    out: &mut tokio::process::ChildStdout,
    mut seen: String,
    wanted: &str,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(wanted) && tokio::time::Instant::now() < deadline {
        let mut chunk = vec![0u8; 4096];
        match tokio::time::timeout_at(deadline, tokio::io::AsyncReadExt::read(out, &mut chunk))
            .await
        {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => seen.push_str(&String::from_utf8_lossy(&chunk[..n])),
            Ok(Err(e)) => panic!("reading dbus-monitor: {e}"),
        }
    }
    seen
}
