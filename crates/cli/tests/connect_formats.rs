//! `connect codex`, `goose` and `continue` end to end: after a sign-in on the
//! demo stack and with a broker running, the real binary writes each
//! client's documented config (the fixtures of `passport-connect`); a real
//! parser of the format (the `toml` crate, a serde_yaml-family reader, as
//! Goose uses) reads every `passport-*` entry's URL and header, and an MCP
//! client (`initialize`, then `tools/list`) reaches each server through
//! that URL with that header. `disconnect` gives back the file byte for
//! byte, and the key no longer opens a session.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use rmcp::ServiceExt as _;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::home::Home;
use support::stack::Stack;

const SERVERS: [&str; 2] = ["github-mcp", "slack-mcp"];

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../connect/tests/fixtures")
        .join(path)
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

/// The URL and `Authorization` header of each server's entry.
fn entries(
    value: &Value,
    container: &str,
    url: &str,
    headers: &str,
    port: u16,
) -> Vec<(String, String)> {
    SERVERS
        .iter()
        .map(|id| {
            let entry = &value[container][format!("passport-{id}")];
            let url = entry[url].as_str().unwrap().to_string();
            assert_eq!(url, format!("http://127.0.0.1:{port}/v1/mcp/{id}"));
            let header = entry[headers]["Authorization"].as_str().unwrap();
            (url, header.to_string())
        })
        .collect()
}

/// Opens an MCP session at `url` with the header as written and lists the
/// server's tools.
async fn tools(url: &str, header: &str) -> Result<Vec<String>, String> {
    let key = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| format!("not a bearer header: {header}"))?;
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(key);
    let transport = StreamableHttpClientTransport::from_config(config);
    let client = rmcp::model::ClientConfig::default()
        .serve(transport)
        .await
        .map_err(|e| format!("initialize through {url}: {e}"))?;
    let listed = client
        .list_all_tools()
        .await
        .map_err(|e| format!("tools/list through {url}: {e}"));
    let _ = client.cancel().await;
    Ok(listed?.into_iter().map(|t| t.name.to_string()).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_goose_and_continue_entries_reach_every_server_and_disconnect_restores_the_files() {
    let stack = Stack::start(&SERVERS, 3600, 0).await;
    let home = Home::new("connect-formats", &SERVERS.join(","));
    home.login(&stack.issuer()).await;
    let mut broker = home.spawn_broker(None);
    let (port, _) = home.endpoint(&mut broker).await;

    let user = tempfile::tempdir().unwrap();
    let codex = user.path().join(".codex/config.toml");
    let goose = user.path().join(".config/goose/config.yaml");
    for (client, config, fixture_path) in [
        ("codex", &codex, "codex/config.toml"),
        ("goose", &goose, "goose/config.yaml"),
    ] {
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::copy(fixture(fixture_path), config).unwrap();
        let original = std::fs::read(config).unwrap();
        let path = config.to_str().unwrap();

        ok(&home, &["connect", client, "--config", path]).await;
        let text = std::fs::read_to_string(config).unwrap();
        let found = if client == "codex" {
            let table: toml::Table = toml::from_str(&text).unwrap();
            let value = serde_json::to_value(table).unwrap();
            entries(&value, "mcp_servers", "url", "http_headers", port)
        } else {
            let value: Value = serde_norway::from_str(&text).unwrap();
            for id in SERVERS {
                let entry = &value["extensions"][format!("passport-{id}")];
                assert_eq!(entry["type"], "streamable_http", "{entry}");
                assert_eq!(entry["enabled"], true, "{entry}");
            }
            entries(&value, "extensions", "uri", "headers", port)
        };
        for (url, header) in &found {
            let names = tools(url, header).await.unwrap();
            assert!(
                names.iter().any(|n| n == "whoami"),
                "{client} {url}: {names:?}"
            );
        }
        println!("{client}: {} entries answered tools/list", found.len());

        ok(&home, &["disconnect", client, "--config", path]).await;
        assert_eq!(
            std::fs::read(config).unwrap(),
            original,
            "{client}: the file is as it was before connect"
        );
        let (url, header) = &found[0];
        assert!(
            tools(url, header).await.is_err(),
            "{client}: a revoked key opens no session"
        );
    }

    // Continue: one block file per server in its mcpServers folder, next
    // to the user's own blocks.
    let folder = user.path().join(".continue/mcpServers");
    std::fs::create_dir_all(&folder).unwrap();
    let theirs = std::fs::read(fixture("continue/mcpServers/playwright-mcp.yaml")).unwrap();
    std::fs::write(folder.join("playwright-mcp.yaml"), &theirs).unwrap();
    let path = folder.to_str().unwrap();
    ok(&home, &["connect", "continue", "--config", path]).await;
    let mut found = Vec::new();
    for id in SERVERS {
        let text = std::fs::read_to_string(folder.join(format!("passport-{id}.yaml"))).unwrap();
        let block: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(block["schema"], "v1", "{block}");
        let server = &block["mcpServers"][0];
        assert_eq!(server["type"], "streamable-http", "{server}");
        let url = server["url"].as_str().unwrap().to_string();
        assert_eq!(url, format!("http://127.0.0.1:{port}/v1/mcp/{id}"));
        let header = server["requestOptions"]["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .to_string();
        found.push((url, header));
    }
    for (url, header) in &found {
        let names = tools(url, header).await.unwrap();
        assert!(
            names.iter().any(|n| n == "whoami"),
            "continue {url}: {names:?}"
        );
    }
    println!("continue: {} entries answered tools/list", found.len());
    ok(&home, &["disconnect", "continue", "--config", path]).await;
    let left: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        left,
        ["playwright-mcp.yaml"],
        "only the user's block is left"
    );
    assert_eq!(
        std::fs::read(folder.join("playwright-mcp.yaml")).unwrap(),
        theirs
    );
    assert!(tools(&found[0].0, &found[0].1).await.is_err());

    let _ = broker.kill().await;
    stack.shutdown().await;
}
