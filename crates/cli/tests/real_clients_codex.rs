//! OpenAI Codex CLI, installed from npm (tests/real-clients, pinned), reads
//! what `connect codex` writes, from a signed-in demo stack through the
//! broker's proxy. Codex's own `mcp list` only reads its config (it
//! connects to nothing), so Codex's app server, which starts every
//! configured server as a session would, answers `mcpServerStatus/list`:
//! every passport entry has the server's info and tools. After `disconnect`
//! Codex lists no passport entry and `~/.codex/config.toml` is
//! byte-identical to before `connect`. Codex runs with its own home, no
//! account, and only loopback addresses (support::clients).
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;
use support::clients::{SignedIn, User, fixture};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

const SERVERS: [&str; 2] = ["github-mcp", "slack-mcp"];

/// `codex mcp list --json`: the servers Codex read from its config, each
/// client key (`mpk_...`) in an `Authorization` header replaced by
/// "Bearer (key)" so no failure message shows it.
async fn codex_servers(user: &User) -> Vec<serde_json::Value> {
    let out = user
        .command("codex", &["mcp", "list", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "codex mcp list --json: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut servers = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap();
    for server in &mut servers {
        if let Some(value) = server
            .pointer_mut("/transport/http_headers/Authorization")
            .filter(|v| v.is_string())
        {
            let bearer = value
                .as_str()
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|key| key.starts_with("mpk_"));
            *value = serde_json::json!(if bearer {
                "Bearer (key)"
            } else {
                "(not a bearer key)"
            });
        }
    }
    servers
}

/// Asks Codex's app server (JSON-RPC lines on stdio) for the status of
/// every configured MCP server: it connects to each as a session would.
async fn codex_status(user: &User) -> Vec<serde_json::Value> {
    let mut child = user
        .command("codex", &["app-server"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let requests = [
        r#"{"id":1,"method":"initialize","params":{"clientInfo":{"name":"passport-tests","version":"1"}}}"#,
        r#"{"method":"initialized"}"#,
        r#"{"id":2,"method":"mcpServerStatus/list","params":{}}"#,
    ];
    for line in requests {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    stdin.flush().await.unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let answer = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let message: serde_json::Value = serde_json::from_str(&line).unwrap();
            if message["id"] == 2 {
                return message;
            }
        }
        panic!("codex app-server ended without answering mcpServerStatus/list");
    })
    .await
    .expect("codex app-server answered mcpServerStatus/list");
    drop(stdin);
    let _ = child.kill().await;
    answer["result"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .clone()
}

fn passport_names(servers: &[serde_json::Value]) -> Vec<String> {
    servers
        .iter()
        .filter_map(|s| s["name"].as_str())
        .filter(|n| n.starts_with("passport-"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_connects_to_every_passport_entry_and_lists_none_after_disconnect() {
    let passport = SignedIn::start("real-codex", &SERVERS).await;
    let user = User::new();
    let config = user.write(".codex/config.toml", &fixture("codex.toml"));
    let before = codex_servers(&user).await;
    assert!(
        passport_names(&before).is_empty() && before.len() == 2,
        "{before:?}"
    );
    let original = std::fs::read(&config).unwrap();

    passport.connect("codex", &config).await;
    let listed = codex_servers(&user).await;
    for id in SERVERS {
        let entry = listed
            .iter()
            .find(|s| s["name"] == format!("passport-{id}"))
            .unwrap_or_else(|| panic!("no passport-{id} in {listed:?}"));
        let transport = &entry["transport"];
        assert_eq!(transport["type"], "streamable_http", "{entry}");
        assert!(
            transport["url"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/v1/mcp/{id}"))),
            "{entry}"
        );
        assert_eq!(entry["enabled"], true, "{entry}");
        assert_eq!(
            transport["http_headers"]["Authorization"], "Bearer (key)",
            "{entry}"
        );
    }
    let (_, table) = user.run("codex", &["mcp", "list"]).await;
    println!("codex mcp list after connect:\n{table}");
    let status = codex_status(&user).await;
    for id in SERVERS {
        let name = format!("passport-{id}");
        let server = status
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no {name} in {status:?}"));
        assert!(server["toolsError"].is_null(), "{name}: {server}");
        assert!(server["serverInfo"]["name"].is_string(), "{name}: {server}");
        let tools = server["tools"].as_object().unwrap();
        assert!(
            tools.values().any(|t| t["name"] == "whoami"),
            "{name}: {server}"
        );
        println!(
            "codex app-server mcpServerStatus/list: {name}: server {}, tools {:?}",
            server["serverInfo"]["name"],
            tools
                .values()
                .filter_map(|t| t["name"].as_str())
                .collect::<Vec<_>>()
        );
    }

    passport.disconnect("codex", &config).await;
    let listed = codex_servers(&user).await;
    assert!(passport_names(&listed).is_empty(), "{listed:?}");
    assert_eq!(
        std::fs::read(&config).unwrap(),
        original,
        "~/.codex/config.toml is as it was before connect"
    );
    passport.stop().await;
}
