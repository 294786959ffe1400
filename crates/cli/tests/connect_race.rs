//! `mcp-passport connect` and `disconnect` for several clients at once,
//! while a broker runs: the client key file is shared by all of these
//! processes, and none of them may corrupt it or lose another's key.
//!
//! Real processes throughout: the broker is `mcp-passport serve`, each
//! change is its own `mcp-passport connect|disconnect <client>` on a copy of
//! that client's documented config, in a throwaway home. After each round,
//! every key a config holds is accepted by the broker, every key taken away
//! is refused with 401, and `keys.json` parses.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// (client, fixture file); `claude-desktop` runs the stdio bridge and holds no key.
const CLIENTS: &[(&str, &str)] = &[
    ("cursor", "cursor.json"),
    ("vscode", "vscode.json"),
    ("windsurf", "windsurf.json"),
    ("claude-code", "claude-code.json"),
    ("zed", "zed.json"),
    ("claude-desktop", "claude-desktop.json"),
];

const ROUNDS: usize = 8;

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A home with one active grant (github-mcp, slack-mcp) and a copy of
    /// every client's fixture config.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = |id: &str, port: u16| {
            json!({"id": id, "name": id, "resource": format!("http://127.0.0.1:{port}/mcp"),
                   "token_kind": "unknown", "expires_at": null})
        };
        let state = json!({"version": 1, "clients": [], "grants": [{
            "id": "g1", "issuer": "http://127.0.0.1:9400", "mode": "multi-server",
            "client_id": "c", "scope": ["mcp:tools"],
            "servers": [server("github-mcp", 9401), server("slack-mcp", 9402)],
            "blocked": [], "created_at": "2026-01-01T00:00:00Z", "refreshed_at": null,
            "status": {"state": "active"}}]});
        std::fs::write(dir.path().join("state.json"), state.to_string()).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients");
        std::fs::create_dir_all(dir.path().join("configs")).unwrap();
        for (_, file) in CLIENTS {
            std::fs::copy(fixtures.join(file), dir.path().join("configs").join(file)).unwrap();
        }
        Self { dir }
    }

    fn config(&self, file: &str) -> PathBuf {
        self.dir.path().join("configs").join(file)
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"));
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("MCP_PASSPORT_HOME", self.dir.path())
            .env(
                "MCP_PASSPORT_KEYRING_SERVICE",
                "io.github.mcppassport.connect-race-test",
            )
            .env_remove("MCP_PASSPORT_FAULT")
            .kill_on_drop(true);
        command
    }

    /// The running broker's port and key, from its endpoint file.
    async fn endpoint(&self, broker: &mut tokio::process::Child) -> (u16, String) {
        let pid = broker.id().unwrap();
        for _ in 0..300 {
            assert!(
                broker.try_wait().unwrap().is_none(),
                "the broker exited at start"
            );
            let file = self.dir.path().join("run/endpoint.json");
            if let Some(e) = passport_broker::endpoint::read(&file).filter(|e| e.pid == pid) {
                return (e.port, e.key);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the broker wrote no endpoint file");
    }

    /// `keys.json` parses as a list of key records.
    fn keys_parse(&self, when: &str) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("keys.json")).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{when}: keys.json is corrupt: {e}"))
    }
}

/// The client key a config file holds (`mpk_<id>_<secret>`), if any.
fn key_in(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).unwrap();
    let start = text.find("mpk_")?;
    let key: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    Some(key)
}

/// What the broker answers `key` on a key-checked route: the status of
/// `/v1/servers`, and whether `/v1/token/github-mcp` was refused by the
/// key check (401 with the broker's challenge and no body) rather than
/// answered past it.
async fn ask(port: u16, key: &str) -> (u16, bool) {
    let client = reqwest::Client::new();
    let servers = client
        .get(format!("http://127.0.0.1:{port}/v1/servers"))
        .bearer_auth(key)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = servers.status().as_u16();
    if status == 200 {
        let body: serde_json::Value = servers.json().await.unwrap();
        assert_eq!(body["servers"].as_array().map(Vec::len), Some(2), "{body}");
    }
    let token = client
        .get(format!("http://127.0.0.1:{port}/v1/token/github-mcp"))
        .bearer_auth(key)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let challenged = token.status() == 401 && token.headers().contains_key("www-authenticate");
    let body = token.bytes().await.unwrap();
    (status, challenged && body.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_and_disconnects_under_a_broker_lose_and_corrupt_nothing() {
    let home = Home::new();
    let mut broker = home
        .command(&["serve", "--port", "0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (port, cli_key) = home.endpoint(&mut broker).await;
    // Every key each client was ever given; only the one its config holds may work.
    let mut issued: Vec<(String, String)> = Vec::new();
    for round in 0..ROUNDS {
        let mut running = Vec::new();
        for (i, (client, file)) in CLIENTS.iter().enumerate() {
            let action = if (round + i) % 3 == 2 {
                "disconnect"
            } else {
                "connect"
            };
            let config = home.config(file);
            let mut command = home.command(&[action, client, "--config", config.to_str().unwrap()]);
            command
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            running.push((*client, action, command.spawn().unwrap()));
        }
        for (client, action, child) in running {
            let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
                .await
                .unwrap_or_else(|_| panic!("`{action} {client}` hung"))
                .unwrap();
            assert!(
                out.status.success(),
                "round {round}: `{action} {client}` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let when = format!("after round {round}");
        let records = home.keys_parse(&when);
        for (client, file) in CLIENTS {
            let Some(key) = key_in(&home.config(file)) else {
                continue;
            };
            if !issued.iter().any(|(_, k)| *k == key) {
                issued.push(((*client).to_string(), key));
            }
        }
        for (client, key) in &issued {
            let file = CLIENTS.iter().find(|(c, _)| c == client).unwrap().1;
            let current = key_in(&home.config(file)).as_deref() == Some(key.as_str());
            let (status, refused) = ask(port, key).await;
            if current {
                assert_eq!(
                    (status, refused),
                    (200, false),
                    "{when}: {client}'s key in its config is refused ({} records in keys.json)",
                    records.len()
                );
            } else {
                assert_eq!(
                    (status, refused),
                    (401, true),
                    "{when}: a key taken from {client} still works"
                );
            }
        }
        assert_eq!(
            ask(port, &cli_key).await,
            (200, false),
            "{when}: the broker's own key was lost"
        );
    }
    let revoked = home
        .keys_parse("at the end")
        .iter()
        .filter(|k| k["revoked"] == true)
        .count();
    assert!(
        revoked <= passport_broker::keys::KEEP_REVOKED,
        "{revoked} revoked records kept"
    );
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
}
