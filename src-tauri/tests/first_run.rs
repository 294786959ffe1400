//! The first-run screen's import on the real controller, engine, hosted
//! broker and demo stack: the servers found in two clients' files (Cursor,
//! VS Code) are listed with no token from those files in the list; one
//! action signs in once (the browser opens once for the demo AS) and then
//! points both clients' entries at the app's broker, where `initialize`
//! and `tools/list` work with each client's key; restoring gives each file
//! its bytes back.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_app::passport::Passport;
use passport_app::settings::{Redirect, Settings};
use passport_connect::ClientKind;
use passport_core::engine::Opener;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const SECRET: &str = "fixture-secret-first-run-0001";

/// The person at the browser: approves both demo servers, and counts.
#[derive(Default)]
struct Approver {
    opened: Arc<AtomicUsize>,
}

impl Opener for Approver {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let approval = reference_as::approve::Approval {
            url: url.to_string(),
            user: ("demo".into(), "demo".into()),
            servers: vec!["github-mcp".into(), "slack-mcp".into()],
            exec: None,
        };
        tokio::spawn(async move { reference_as::approve::approve(&approval).await });
        Ok(())
    }
}

async fn tools_through(url: &str, auth: &str) -> usize {
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut r = http
            .post(url)
            .header("authorization", auth)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body);
        if let Some(id) = session {
            r = r.header("mcp-session-id", id);
        }
        r.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "first-run-test", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200, "initialize through {url}");
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
    let list = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        session,
    )
    .await
    .unwrap();
    assert_eq!(list.status(), 200, "tools/list through {url}");
    let body = list.text().await.unwrap();
    let answer: Value = std::iter::once(body.as_str())
        .chain(body.lines().filter_map(|l| l.strip_prefix("data:")))
        .filter_map(|t| serde_json::from_str::<Value>(t.trim()).ok())
        .find(|v| v["id"] == 2)
        .unwrap_or_else(|| panic!("no answer to tools/list in {body}"));
    answer["result"]["tools"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_import_signs_in_once_and_points_the_clients_found_at_the_broker() {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let url = |id: &str| {
        demo.info()
            .servers
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .resource
            .clone()
    };
    let home = tempfile::tempdir().unwrap();
    let user = tempfile::tempdir().unwrap();
    let cursor = user.path().join("mcp.json");
    let vscode = user.path().join("vscode-mcp.json");
    let cursor_text = format!(
        "{{\n  \"mcpServers\": {{\n    \"github\": {{\n      \"url\": \"{}\",\n      \"headers\": {{ \"Authorization\": \"Bearer {SECRET}\" }}\n    }},\n    \"local\": {{ \"command\": \"npx\", \"args\": [\"server\"] }}\n  }}\n}}\n",
        url("github-mcp")
    );
    let vscode_text = format!(
        "{{\n  // mine\n  \"servers\": {{\n    \"slack\": {{ \"type\": \"http\", \"url\": \"{}\" }},\n    \"github\": {{ \"type\": \"http\", \"url\": \"{}\" }}\n  }}\n}}\n",
        url("slack-mcp"),
        url("github-mcp")
    );
    std::fs::write(&cursor, &cursor_text).unwrap();
    std::fs::write(&vscode, &vscode_text).unwrap();
    let settings = Settings {
        paths: passport_broker::paths::Paths::under(home.path().to_path_buf()),
        keyring_service: "unused".into(),
        redirect: Redirect::Loopback,
        broker_port: 0,
        demo: false,
        hidden: true,
    };
    let approver = Approver::default();
    let opened = Arc::clone(&approver.opened);
    let passport = Passport::open(
        settings,
        Arc::new(MemoryStore::new()),
        Arc::new(approver),
        Arc::new(|_| {}),
    )
    .unwrap();
    passport.start().await;
    let files = vec![
        (ClientKind::Cursor, cursor.clone()),
        (ClientKind::Vscode, vscode.clone()),
    ];

    let found = passport.import_scan_in(&files);
    assert_eq!(found.servers.len(), 2, "{found:?}");
    let github = found
        .servers
        .iter()
        .find(|s| s.url == url("github-mcp"))
        .unwrap();
    assert_eq!(github.uses.len(), 2, "{github:?}");
    assert!(!serde_json::to_string(&found).unwrap().contains(SECRET));

    passport.import_start_in(files).unwrap();
    let mut message = None;
    for _ in 0..300 {
        let o = passport.overview(false);
        if o.activity.signing_in.is_none()
            && let Some(m) = o.activity.message.filter(|m| m.starts_with("Pointed"))
        {
            message = Some(m);
            break;
        }
        assert!(o.activity.error.is_none(), "{:?}", o.activity.error);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let message = message.expect("the import ended with a message");
    assert!(
        message.contains("Cursor") && message.contains("VS Code"),
        "{message}"
    );
    assert_eq!(opened.load(Ordering::SeqCst), 1, "one browser round trip");

    let port = passport.overview(false).broker.port.unwrap();
    for (path, container, ids) in [
        (&cursor, "mcpServers", vec!["github-mcp"]),
        (&vscode, "servers", vec!["slack-mcp", "github-mcp"]),
    ] {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(!text.contains("\"github\""), "{text}");
        let value = passport_connect::jsonedit::parse(&text).unwrap();
        for id in ids {
            let entry = &value[container][format!("passport-{id}")];
            let proxy = entry["url"].as_str().unwrap();
            assert_eq!(proxy, format!("http://127.0.0.1:{port}/v1/mcp/{id}"));
            let auth = entry["headers"]["Authorization"].as_str().unwrap();
            assert!(tools_through(proxy, auth).await > 0, "{id} lists tools");
        }
    }
    let paths = passport_broker::paths::Paths::under(home.path().to_path_buf());
    let state = std::fs::read_to_string(paths.state_file()).unwrap();
    assert!(!state.contains(SECRET));

    let keys = passport_broker::keys::Keys::open(paths.keys_file()).unwrap();
    for (kind, path, original) in [
        (ClientKind::Cursor, &cursor, &cursor_text),
        (ClientKind::Vscode, &vscode, &vscode_text),
    ] {
        passport_connect::import::restore(kind, Some(path), &keys).unwrap();
        assert_eq!(&std::fs::read_to_string(path).unwrap(), original);
    }
    passport.shutdown().await;
    demo.shutdown().await;
}
