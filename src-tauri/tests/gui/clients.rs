//! Connecting and disconnecting an MCP client from the dashboard.

use super::harness::Gui;
use crate::{ONE_AT_A_TIME, WAIT};

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
