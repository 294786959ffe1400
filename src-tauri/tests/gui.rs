//! The desktop app end to end, through its real webview: `tauri-driver`
//! and WebKitWebDriver under Xvfb + D-Bus + gnome-keyring
//! (`scripts/desktop-session.sh`), against the demo stack. The browser is
//! played by this test over HTTP; the redirect comes back as a deep link,
//! launching the app binary with the callback URL as the OS does.
//!
//! Sessions run one after another (the app is a single instance). Each test
//! saves screenshots under `target/gui-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod gui {
    pub mod harness;
    pub mod webdriver;
}

use gui::harness::{APP, Gui};
use std::time::Duration;

/// One app at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(30);

async fn countdowns(gui: &Gui) -> Vec<String> {
    serde_json::from_value(
        gui.session
            .eval("return [...document.querySelectorAll('tr.server .countdown')].map(c => c.textContent)")
            .await,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_through_the_browser_and_a_deep_link_lists_the_chosen_servers_with_a_countdown()
{
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("sign-in", &["github-mcp", "slack-mcp"]).await;
    gui.session
        .wait_for(
            "the welcome",
            "return !document.getElementById('welcome').hidden",
            WAIT,
        )
        .await;
    gui.shot("1-welcome").await;
    gui.sign_in(2).await;
    let servers = gui.servers().await;
    let ids: Vec<&str> = servers.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["github-mcp", "slack-mcp"],
        "the servers ticked in the picker"
    );
    assert!(
        servers.iter().all(|(_, status)| status == "active"),
        "{servers:?}"
    );
    let first = countdowns(&gui).await;
    assert!(
        first.iter().all(|c| c.contains("min")),
        "an hour-long token counts down in minutes: {first:?}"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = countdowns(&gui).await;
    assert_ne!(first, later, "the countdown moves");
    let welcome_hidden = gui
        .session
        .eval("return document.getElementById('welcome').hidden")
        .await;
    assert_eq!(welcome_hidden, serde_json::json!(true));
    let page = gui
        .session
        .eval("return document.documentElement.outerHTML")
        .await;
    let (_, key) = gui.endpoint();
    assert!(
        !page.as_str().unwrap().contains(&key),
        "the page never holds a client key"
    );
    gui.shot("2-dashboard").await;

    gui.session.resize(800, 600).await;
    let fits = gui
        .session
        .wait_for(
            "the 800x600 layout",
            "return window.innerWidth <= 800 && document.documentElement.scrollWidth <= window.innerWidth",
            WAIT,
        )
        .await;
    assert_eq!(
        fits,
        serde_json::json!(true),
        "nothing overflows sideways at 800x600"
    );
    gui.shot("3-800x600").await;
    gui.stop().await;
}

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
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_launch_is_forwarded_and_a_callback_with_a_wrong_state_changes_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("second-launch", &["github-mcp"]).await;
    gui.sign_in(1).await;
    let before = std::fs::read_to_string(gui.dir.path().join("home/state.json")).unwrap();
    let shown = "return [document.getElementById('banner-text').textContent, [...document.querySelectorAll('tr.server')].map(r => r.dataset.id + ':' + r.dataset.status).join(',')]";
    let shown_before = gui.session.eval(shown).await;

    let started = std::time::Instant::now();
    let second = tokio::process::Command::new(APP)
        .arg("io.github.mcppassport:/oauth/callback?code=forged&state=not-a-pending-flow")
        .output();
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second launch exits")
        .unwrap();
    assert!(
        second.status.success(),
        "the second launch hands over and exits 0"
    );
    println!("second launch exited after {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(gui.session.windows().await.len(), 1, "no second window");
    let after = std::fs::read_to_string(gui.dir.path().join("home/state.json")).unwrap();
    assert_eq!(before, after, "the state is unchanged");
    assert_eq!(
        shown_before,
        gui.session.eval(shown).await,
        "the dashboard shows the same"
    );
    assert!(
        gui.log().contains("callback was dropped"),
        "the first instance received and dropped it"
    );
    assert!(
        !gui.log().contains("forged"),
        "the dropped code is not logged"
    );
    gui.shot("1-after-forged-callback").await;
    gui.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_shows_the_change_first_then_the_client_gets_tokens_and_disconnect_cuts_it_off() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("connect", &["github-mcp"]).await;
    gui.sign_in(1).await;
    let config = dirs::home_dir().unwrap().join(".cursor/mcp.json");
    let _ = std::fs::remove_file(&config);

    gui.session
        .click("li[data-client='cursor'] button.connect")
        .await;
    let detail = gui
        .session
        .wait_for(
            "the preview",
            "return document.getElementById('confirm').open && document.getElementById('confirm-detail').textContent",
            WAIT,
        )
        .await;
    let detail = detail.as_str().unwrap();
    assert!(
        detail.contains(".cursor/mcp.json") && detail.contains("passport-github-mcp"),
        "{detail}"
    );
    assert!(
        detail.contains("<new key>"),
        "the preview hides the key: {detail}"
    );
    assert!(
        !config.exists(),
        "nothing is written before the user confirms"
    );
    gui.shot("1-connect-preview").await;
    gui.session.click("#confirm-yes").await;
    gui.session
        .wait_for(
            "connected",
            "return document.querySelector(\"li[data-client='cursor'] .state.on\") !== null",
            WAIT,
        )
        .await;

    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let entry = &written["mcpServers"]["passport-github-mcp"];
    let (port, _) = gui.endpoint();
    assert_eq!(
        entry["url"],
        serde_json::json!(format!("http://127.0.0.1:{port}/v1/mcp/github-mcp"))
    );
    let header = entry["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .to_string();
    let token_url = format!("http://127.0.0.1:{port}/v1/token/github-mcp");
    let http = reqwest::Client::new();
    let ok = http
        .get(&token_url)
        .header("authorization", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200, "Cursor's key gets a token");
    gui.session
        .wait_for("cursor's use listed", "return [...document.querySelectorAll('#clients td')].some(td => td.textContent === 'cursor')", WAIT)
        .await;
    gui.shot("2-connected").await;

    gui.session
        .click("li[data-client='cursor'] button.disconnect")
        .await;
    gui.session.click("#confirm-yes").await;
    gui.session
        .wait_for(
            "disconnected",
            "return document.querySelector(\"li[data-client='cursor'] button.connect\") !== null",
            WAIT,
        )
        .await;
    let after = std::fs::read_to_string(&config).unwrap();
    assert!(!after.contains("passport-github-mcp"), "{after}");
    let refused = http
        .get(&token_url)
        .header("authorization", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status().as_u16(),
        401,
        "the revoked key gets nothing"
    );
    gui.shot("3-disconnected").await;
    let _ = std::fs::remove_file(&config);
    gui.stop().await;
}
