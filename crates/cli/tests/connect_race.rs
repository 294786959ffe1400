//! `mcp-passport connect` and `disconnect` for several clients at once,
//! while a broker runs: the client key file is shared by all of these
//! processes, and none of them may corrupt it or lose another's key.
//!
//! Real processes throughout: the user signs in to the reference AS (the
//! real keyring of `scripts/desktop-session.sh`), the broker is
//! `mcp-passport serve`, each change is its own `mcp-passport
//! connect|disconnect <client>` on a copy of that client's documented
//! config, in a throwaway home. After each round, every key a config holds
//! gets a token from the broker, every key taken away is refused with 401,
//! and `keys.json` parses.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::home::Home;
use support::stack::Stack;

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

/// A copy of every client's fixture config inside `home`.
fn copy_fixtures(home: &Home) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients");
    std::fs::create_dir_all(home.dir.path().join("configs")).unwrap();
    for (_, file) in CLIENTS {
        std::fs::copy(fixtures.join(file), config(home, file)).unwrap();
    }
}

fn config(home: &Home, file: &str) -> PathBuf {
    home.dir.path().join("configs").join(file)
}

/// `mcp-passport <args>` for `home`, with `HOME` there too.
fn command(home: &Home, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"));
    command
        .args(args)
        .env("HOME", home.dir.path())
        .env("MCP_PASSPORT_HOME", home.dir.path())
        .env("MCP_PASSPORT_KEYRING_SERVICE", &home.service)
        .env_remove("MCP_PASSPORT_FAULT")
        .env_remove("MCP_PASSPORT_LOG")
        .kill_on_drop(true);
    command
}

/// `keys.json` parses as a list of key records.
fn keys_parse(home: &Home, when: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(home.dir.path().join("keys.json")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{when}: keys.json is corrupt: {e}"))
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

/// What the broker answers `key` for github-mcp's token: `Ok(())` for a
/// token, `Err(true)` for the key check's refusal (401 with the broker's
/// challenge and no body), `Err(false)` for anything else.
async fn ask(port: u16, key: &str) -> Result<(), bool> {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/token/github-mcp"))
        .bearer_auth(key)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenged = response.headers().contains_key("www-authenticate");
    let body = response.bytes().await.unwrap();
    if status == 200 {
        let token: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            token["access_token"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        return Ok(());
    }
    Err(status == 401 && challenged && body.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_and_disconnects_under_a_broker_lose_and_corrupt_nothing() {
    let stack = Stack::start(&["github-mcp", "slack-mcp"], 3600, 0).await;
    let home = Home::new("race", "github-mcp,slack-mcp");
    home.login(&stack.issuer()).await;
    copy_fixtures(&home);
    let mut broker = home.spawn_broker(None);
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
            let config = config(&home, file);
            let mut command = command(
                &home,
                &[action, client, "--config", config.to_str().unwrap()],
            );
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
        let records = keys_parse(&home, &when);
        for (client, file) in CLIENTS {
            let Some(key) = key_in(&config(&home, file)) else {
                continue;
            };
            if !issued.iter().any(|(_, k)| *k == key) {
                issued.push(((*client).to_string(), key));
            }
        }
        for (client, key) in &issued {
            let file = CLIENTS.iter().find(|(c, _)| c == client).unwrap().1;
            let current = key_in(&config(&home, file)).as_deref() == Some(key.as_str());
            let answer = ask(port, key).await;
            if current {
                assert_eq!(
                    answer,
                    Ok(()),
                    "{when}: {client}'s key in its config gets no token ({} records in keys.json)",
                    records.len()
                );
            } else {
                assert_eq!(
                    answer,
                    Err(true),
                    "{when}: a key taken from {client} is not refused with 401"
                );
            }
        }
        assert_eq!(
            ask(port, &cli_key).await,
            Ok(()),
            "{when}: the broker's own key was lost"
        );
    }
    let revoked = keys_parse(&home, "at the end")
        .iter()
        .filter(|k| k["revoked"] == true)
        .count();
    assert!(
        revoked <= passport_broker::keys::KEEP_REVOKED,
        "{revoked} revoked records kept"
    );
    assert!(broker.try_wait().unwrap().is_none(), "the broker died");
    broker.start_kill().unwrap();
    let _ = broker.wait().await;
    home.run(&["logout"], None).await;
    stack.shutdown().await;
}
