//! The first-run screen in the real webview: with no sign-in, the servers
//! Cursor already uses are listed (no token from its file on the page), and
//! one button signs in and points Cursor's entries at the app's broker.

use super::harness::Gui;
use crate::{ONE_AT_A_TIME, WAIT};

const SECRET: &str = "fixture-secret-gui-first-run-0001";

#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_screen_lists_the_servers_found_and_one_button_signs_in_and_repoints_them() {
    let _one = ONE_AT_A_TIME.lock().await;
    let gui = Gui::start("first-run", &["github-mcp", "slack-mcp"]).await;
    let url = |id: &str| {
        gui.demo
            .info()
            .servers
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.resource.clone())
            .unwrap()
    };
    let config = dirs::home_dir().unwrap().join(".cursor/mcp.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let original = format!(
        "{{\n  \"mcpServers\": {{\n    \"github\": {{ \"url\": \"{}\", \"headers\": {{ \"Authorization\": \"Bearer {SECRET}\" }} }},\n    \"slack\": {{ \"url\": \"{}\" }}\n  }}\n}}\n",
        url("github-mcp"),
        url("slack-mcp")
    );
    std::fs::write(&config, &original).unwrap();
    // The page scans when it loads: load it again now that the file is there.
    gui.session
        .eval("setTimeout(() => location.reload(), 50); return true")
        .await;
    let title = gui
        .session
        .wait_for(
            "the first-run screen",
            "const s = document.getElementById('import'); return s && !s.hidden && document.getElementById('import-title').textContent",
            WAIT,
        )
        .await;
    assert_eq!(
        title.as_str(),
        Some("We found 2 servers in your MCP clients")
    );
    let page = gui
        .session
        .eval("return document.documentElement.outerHTML")
        .await;
    let page = page.as_str().unwrap();
    assert!(page.contains("Cursor “github”"), "the list names the entry");
    assert!(!page.contains(SECRET), "no token from the file on the page");
    gui.shot("1-found").await;

    gui.session.click("#import-go").await;
    let shown = gui.wait_banner("info", "Pointed Cursor").await;
    assert!(shown.contains("--restore"), "{shown}");
    gui.session
        .wait_for(
            "the screen gone once signed in",
            "return document.getElementById('import').hidden",
            WAIT,
        )
        .await;
    gui.shot("2-imported").await;

    let written = std::fs::read_to_string(&config).unwrap();
    let value: serde_json::Value = serde_json::from_str(&written).unwrap();
    let servers = value["mcpServers"].as_object().unwrap();
    assert!(
        !servers.contains_key("github") && !servers.contains_key("slack"),
        "{written}"
    );
    let (port, _) = gui.endpoint();
    let http = reqwest::Client::new();
    for id in ["github-mcp", "slack-mcp"] {
        let entry = &servers[&format!("passport-{id}")];
        assert_eq!(
            entry["url"],
            serde_json::json!(format!("http://127.0.0.1:{port}/v1/mcp/{id}"))
        );
        let token = http
            .get(format!("http://127.0.0.1:{port}/v1/token/{id}"))
            .header(
                "authorization",
                entry["headers"]["Authorization"].as_str().unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            token.status().as_u16(),
            200,
            "Cursor's key gets {id}'s token"
        );
    }
    assert!(
        !gui.log().contains(SECRET),
        "no token from the file in the app's log"
    );
    for leftover in [
        ".mcp-passport-import.bak",
        ".mcp-passport-import.json",
        ".mcp-passport.bak",
    ] {
        let mut name = config.clone().into_os_string();
        name.push(leftover);
        let _ = std::fs::remove_file(name);
    }
    let _ = std::fs::remove_file(&config);
    gui.stop().await;
}
