//! "Connect all detected" from the dashboard: installed clients listed
//! first with their state, one confirmation listing every file, then each
//! row showing the client connected.

use super::harness::Gui;
use crate::{ONE_AT_A_TIME, WAIT};
use passport_connect::ClientKind;

/// A script that is true once `client`'s row says `text`.
fn row_says(client: &str, text: &str) -> String {
    format!(
        "return document.querySelector(\"li[data-client='{client}'] .state\")?.textContent === '{text}'"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_all_lists_every_detected_file_once_then_each_row_shows_connected() {
    let _one = ONE_AT_A_TIME.lock().await;
    let home = dirs::home_dir().unwrap();
    // Gemini CLI is installed: its folder exists.
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    let config = home.join(".gemini/settings.json");
    let _ = std::fs::remove_file(&config);
    // The files this test may create, to remove them at the end.
    let absent: Vec<_> = ClientKind::ALL
        .iter()
        .filter_map(|k| passport_connect::config_path(*k, None).ok())
        .filter(|p| !p.exists())
        .collect();

    let gui = Gui::start("connect-all", &["github-mcp"]).await;
    gui.sign_in(1).await;
    gui.session
        .wait_for(
            "Gemini CLI listed as installed",
            &row_says("gemini", "installed, not connected"),
            WAIT,
        )
        .await;
    let first = gui
        .session
        .eval("return document.querySelector('#setups li').dataset.client")
        .await;
    assert_ne!(
        gui.session
            .eval(&format!("return document.querySelector(\"#setups li[data-client='{}'] .state\").textContent", first.as_str().unwrap()))
            .await,
        "not installed",
        "installed clients come first"
    );

    gui.session.click("#connect-all").await;
    let detail = gui
        .session
        .wait_for(
            "the one preview",
            "return document.getElementById('confirm').open && document.getElementById('confirm-detail').textContent",
            WAIT,
        )
        .await;
    let detail = detail.as_str().unwrap();
    assert!(
        detail.contains(&config.display().to_string()) && detail.contains("passport-github-mcp"),
        "{detail}"
    );
    assert!(detail.contains("<new key>"), "keys hidden: {detail}");
    assert!(
        !config.exists(),
        "nothing is written before the user confirms"
    );
    gui.shot("1-connect-all-preview").await;
    gui.session.click("#confirm-yes").await;
    gui.session
        .wait_for(
            "Gemini CLI connected",
            &row_says("gemini", "connected: 1 server(s)"),
            WAIT,
        )
        .await;
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let (port, _) = gui.endpoint();
    assert_eq!(
        written["mcpServers"]["passport-github-mcp"]["httpUrl"],
        serde_json::json!(format!("http://127.0.0.1:{port}/v1/mcp/github-mcp"))
    );
    gui.shot("2-all-connected").await;
    gui.stop().await;
    for path in absent.iter().filter(|p| p.exists()) {
        let _ = std::fs::remove_file(path);
    }
    let _ = std::fs::remove_dir_all(home.join(".gemini"));
}
