//! MCP clients people use, installed from npm (tests/real-clients, pinned),
//! read what `connect` writes: after a sign-in on the demo stack and with a
//! broker running, `connect <client>` then the client's own `mcp list`
//! reports every `passport-*` entry connected (it opens an MCP session
//! through the broker's proxy with the client's key); after `disconnect`
//! the client lists no passport entry and the file is byte-identical to
//! before `connect`. The clients run with their own home directory, whose
//! settings (the fixtures) turn their usage statistics off: they have no
//! account and talk only to loopback addresses.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use support::home::Home;
use support::stack::Stack;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// One client: its `connect` name, its executable in tests/real-clients,
/// its settings folder under the home directory, and its fixture.
struct RealClient {
    name: &'static str,
    bin: &'static str,
    folder: &'static str,
}

const CLIENTS: &[RealClient] = &[
    RealClient {
        name: "gemini",
        bin: "gemini",
        folder: ".gemini",
    },
    RealClient {
        name: "qwen",
        bin: "qwen",
        folder: ".qwen",
    },
];

/// Runs `<client> mcp list` as a person would in `work`, with `user` as
/// the home directory; returns what it printed (stdout and stderr).
async fn mcp_list(client: &RealClient, user: &Path, work: &Path) -> String {
    let root = root();
    let bin = root
        .join("tests/real-clients/node_modules/.bin")
        .join(client.bin);
    let node = root.join("target/tools/node22/bin");
    assert!(
        bin.exists() && node.join("node").exists(),
        "{} or Node.js 22 is not installed: run scripts/setup.sh",
        bin.display()
    );
    let path = format!(
        "{}:{}",
        node.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(&bin)
            .args(["mcp", "list"])
            .current_dir(work)
            .env("HOME", user)
            .env("PATH", path)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("mcp list finished")
    .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn ok(home: &Home, args: &[&str]) -> String {
    let out = home.run(args, None).await;
    assert!(
        out.status.success(),
        "mcp-passport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_and_qwen_list_every_passport_entry_connected_and_nothing_after_disconnect() {
    let stack = Stack::start(&["github-mcp", "slack-mcp"], 3600, 0).await;
    let home = Home::new("real-clients", "github-mcp,slack-mcp");
    home.login(&stack.issuer()).await;
    let mut broker = home.spawn_broker(None);
    home.endpoint(&mut broker).await;

    let user = tempfile::tempdir().unwrap();
    let work = user.path().join("project");
    std::fs::create_dir_all(&work).unwrap();
    // The person trusts their project folder (Gemini CLI loads no MCP
    // server in an untrusted one).
    std::fs::create_dir_all(user.path().join(".gemini")).unwrap();
    std::fs::write(
        user.path().join(".gemini/trustedFolders.json"),
        serde_json::json!({ work.to_str().unwrap(): "TRUST_FOLDER" }).to_string(),
    )
    .unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients");

    for client in CLIENTS {
        let config = user.path().join(client.folder).join("settings.json");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(
            &config,
            std::fs::read(fixtures.join(format!("{}.json", client.name))).unwrap(),
        )
        .unwrap();
        // The person has run their client before: it may have rewritten its
        // own settings (Qwen Code adds "$version" on its first run).
        let before = mcp_list(client, user.path(), &work).await;
        assert!(!before.contains("passport-"), "{}: {before}", client.name);
        let original = std::fs::read(&config).unwrap();

        ok(
            &home,
            &["connect", client.name, "--config", config.to_str().unwrap()],
        )
        .await;
        let listed = mcp_list(client, user.path(), &work).await;
        for id in ["github-mcp", "slack-mcp"] {
            let entry = format!("passport-{id}");
            let line = listed
                .lines()
                .find(|l| l.contains(&format!("{entry}:")))
                .unwrap_or_else(|| panic!("{}: no {entry} line:\n{listed}", client.name));
            assert!(
                line.contains("/v1/mcp/") && line.ends_with("Connected"),
                "{}: {line}\n{listed}",
                client.name
            );
        }
        println!("{} mcp list after connect:\n{listed}", client.name);

        ok(
            &home,
            &[
                "disconnect",
                client.name,
                "--config",
                config.to_str().unwrap(),
            ],
        )
        .await;
        let listed = mcp_list(client, user.path(), &work).await;
        assert!(!listed.contains("passport-"), "{}: {listed}", client.name);
        assert_eq!(
            std::fs::read(&config).unwrap(),
            original,
            "{}: the file is as it was before connect",
            client.name
        );
    }
    let _ = broker.kill().await;
    stack.shutdown().await;
}
