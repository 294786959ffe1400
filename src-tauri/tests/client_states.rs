//! The dashboard's MCP clients on a made-up home: installed clients listed
//! first with their state, "Connect all detected" after one preview of
//! every file, a hand edit shown on its row, and a revocation followed by
//! the connected clients' entries (the edited one left alone). The real
//! controller, engine and demo stack. The test runs itself again in a
//! child process whose HOME, config directory and PATH are the made-up
//! ones (the clients' usual places come from them).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_app::passport::{Event, Passport};
use passport_app::settings::{Redirect, Settings};
use passport_core::engine::Opener;
use passport_core::store::MemoryStore;
use reference_as::demo::{Demo, DemoConfig};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const INSIDE: &str = "MCP_PASSPORT_CLIENT_STATES_HOME";

struct Approver;

impl Opener for Approver {
    fn open(&self, url: &url::Url) -> Result<(), String> {
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

fn setups(passport: &Passport) -> Vec<Value> {
    let o = serde_json::to_value(passport.overview(false)).unwrap();
    o["setups"].as_array().unwrap().clone()
}

fn state_of(setups: &[Value], client: &str) -> Value {
    setups
        .iter()
        .find(|s| s["client"] == client)
        .unwrap_or_else(|| panic!("{client} listed"))["state"]
        .clone()
}

#[test]
fn the_overview_shows_each_clients_state_and_connected_clients_follow_a_revocation() {
    match std::env::var_os(INSIDE) {
        Some(home) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(inside(Path::new(&home))),
        None => {
            let dir = tempfile::tempdir().unwrap();
            let (home, bin) = (dir.path().join("home"), dir.path().join("bin"));
            std::fs::create_dir_all(home.join(".gemini")).unwrap();
            std::fs::create_dir_all(home.join(".cursor")).unwrap();
            std::fs::create_dir_all(home.join(".config")).unwrap();
            std::fs::create_dir_all(&bin).unwrap();
            let claude = bin.join("claude");
            std::fs::write(&claude, "#!/bin/sh\n").unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "the_overview_shows_each_clients_state_and_connected_clients_follow_a_revocation",
                    "--nocapture",
                ])
                .env(INSIDE, &home)
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", home.join(".config"))
                .env("PATH", &bin)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
        }
    }
}

async fn inside(home: &Path) {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let settings = Settings {
        paths: passport_broker::paths::Paths::under(state.path().to_path_buf()),
        keyring_service: "unused".into(),
        redirect: Redirect::Loopback,
        broker_port: 0,
        demo: false,
        hidden: true,
    };
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let passport = Passport::open(
        settings,
        Arc::new(MemoryStore::new()),
        Arc::new(Approver),
        Arc::new(move |e| sink.lock().unwrap().push(e)),
    )
    .unwrap();
    passport.start().await;

    // Installed ones first, each with its state.
    let listed = setups(&passport);
    let names: Vec<&str> = listed
        .iter()
        .map(|s| s["client"].as_str().unwrap())
        .collect();
    assert_eq!(
        &names[..3],
        ["claude-code", "cursor", "gemini"],
        "{names:?}"
    );
    assert!(listed[..3].iter().all(|s| s["detected"] == true));
    assert_eq!(
        state_of(&listed, "cursor"),
        json!({"state": "not_connected"})
    );
    assert_eq!(
        state_of(&listed, "vscode"),
        json!({"state": "not_installed"})
    );

    passport.sign_in(&demo.info().issuer).unwrap();
    for _ in 0..150 {
        if !passport.engine().grants().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!passport.engine().grants().is_empty(), "signed in");

    // One preview listing every file, then all connected.
    let preview = serde_json::to_value(passport.connect_all_preview()).unwrap();
    let files: Vec<&str> = preview["ready"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["config"].as_str().unwrap())
        .collect();
    let (claude, cursor, gemini) = (
        home.join(".claude.json"),
        home.join(".cursor/mcp.json"),
        home.join(".gemini/settings.json"),
    );
    assert_eq!(
        files,
        [&claude, &cursor, &gemini].map(|p| p.to_str().unwrap())
    );
    assert!(!cursor.exists(), "a preview writes nothing");
    let done = passport.connect_all().unwrap();
    assert!(done.contains("Claude Code, Cursor, Gemini CLI"), "{done}");
    let both = json!({"state": "connected", "servers": ["github-mcp", "slack-mcp"]});
    let listed = setups(&passport);
    for client in ["claude-code", "cursor", "gemini"] {
        assert_eq!(state_of(&listed, client), both, "{client}");
    }

    // A hand edit shows on the row, and is left alone when servers change.
    let edited = std::fs::read_to_string(&gemini)
        .unwrap()
        .replace("/v1/mcp/github-mcp\"", "/v1/mcp/github-mcp?mine=1\"");
    std::fs::write(&gemini, &edited).unwrap();
    assert_eq!(
        state_of(&setups(&passport), "gemini"),
        json!({"state": "edited_by_hand"})
    );
    passport.revoke_server("slack-mcp").await.unwrap();
    let listed = setups(&passport);
    let one = json!({"state": "connected", "servers": ["github-mcp"]});
    assert_eq!(state_of(&listed, "cursor"), one);
    assert_eq!(state_of(&listed, "claude-code"), one);
    assert_eq!(
        state_of(&listed, "gemini"),
        json!({"state": "edited_by_hand"})
    );
    let cursor_file: Value =
        serde_json::from_str(&std::fs::read_to_string(&cursor).unwrap()).unwrap();
    let names: Vec<&String> = cursor_file["mcpServers"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["passport-github-mcp"]);
    assert_eq!(std::fs::read_to_string(&gemini).unwrap(), edited);
    let notified: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Notify { title, body } => Some(format!("{title}: {body}")),
            _ => None,
        })
        .collect();
    assert!(
        notified
            .iter()
            .any(|n| n.starts_with("Gemini CLI was not updated") && n.contains("changed by hand")),
        "{notified:?}"
    );

    passport.shutdown().await;
    demo.shutdown().await;
}
