//! The entries `connect` writes for opencode, `connect claude-code --helper`
//! and `connect --print` work, after a sign-in on the demo stack: an MCP
//! client (rmcp) opens a session with each entry's URL and headers and
//! lists the tools, through the broker's proxy for opencode and the printed
//! key, and straight at the server, with the headers the written helper
//! command prints, for the helper (which answers alone, or through the
//! broker it starts).
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use rmcp::ServiceExt as _;
use serde_json::Value;
use std::path::Path;
use support::home::Home;
use support::stack::Stack;

async fn ok(home: &Home, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = home.run_with(args, None, env).await;
    assert!(
        out.status.success(),
        "mcp-passport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An MCP session at `url` with `headers` (`{"Authorization": "Bearer ..."}`):
/// initialize, then the names of the tools listed.
async fn tools(url: &str, headers: &Value) -> Vec<String> {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let auth = headers["Authorization"]
        .as_str()
        .expect("an Authorization header");
    let token = auth.strip_prefix("Bearer ").expect("a bearer header");
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token);
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(config);
    let client = rmcp::model::ClientConfig::default()
        .serve(transport)
        .await
        .unwrap_or_else(|e| panic!("initialize at {url}: {e}"));
    let listed = client
        .list_all_tools()
        .await
        .unwrap_or_else(|e| panic!("tools/list at {url}: {e}"));
    let _ = client.cancel().await;
    listed.into_iter().map(|t| t.name.to_string()).collect()
}

fn parse(path: &Path) -> Value {
    passport_connect::jsonedit::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn opencode_entries_and_a_printed_key_open_sessions_through_the_proxy() {
    let stack = Stack::start(&["github-mcp", "slack-mcp"], 3600, 0).await;
    let home = Home::new("targets", "github-mcp,slack-mcp");
    home.login(&stack.issuer()).await;
    let mut broker = home.spawn_broker(None);
    home.endpoint(&mut broker).await;

    // opencode's own place, with both files there: the .jsonc is edited.
    let xdg = tempfile::tempdir().unwrap();
    let dir = xdg.path().join("opencode");
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connect/tests/fixtures/opencode");
    for file in ["opencode.json", "opencode.jsonc"] {
        std::fs::copy(fixtures.join(file), dir.join(file)).unwrap();
    }
    let env = [("XDG_CONFIG_HOME", xdg.path().to_str().unwrap())];
    ok(&home, &["connect", "opencode"], &env).await;
    assert_eq!(
        std::fs::read(dir.join("opencode.json")).unwrap(),
        std::fs::read(fixtures.join("opencode.json")).unwrap(),
        "the .json is left alone when a .jsonc exists"
    );
    let config = parse(&dir.join("opencode.jsonc"));
    for id in ["github-mcp", "slack-mcp"] {
        let entry = &config["mcp"]["servers"][format!("passport-{id}")];
        assert_eq!(entry["type"], "remote", "{entry}");
        let url = entry["url"].as_str().unwrap();
        assert!(url.ends_with(&format!("/v1/mcp/{id}")), "{url}");
        let listed = tools(url, &entry["headers"]).await;
        assert!(!listed.is_empty(), "{id}: no tools");
    }
    ok(&home, &["disconnect", "opencode"], &env).await;
    assert_eq!(
        std::fs::read(dir.join("opencode.jsonc")).unwrap(),
        std::fs::read(fixtures.join("opencode.jsonc")).unwrap()
    );

    // --print: the JSON to paste, with a key that works, and no file.
    let user = tempfile::tempdir().unwrap();
    let user_env = [
        ("HOME", user.path().to_str().unwrap()),
        ("XDG_CONFIG_HOME", user.path().to_str().unwrap()),
    ];
    let printed = ok(
        &home,
        &["connect", "--print", "jetbrains", "--servers", "slack-mcp"],
        &user_env,
    )
    .await;
    let pasted: Value = serde_json::from_str(&printed).unwrap();
    let servers = pasted["mcpServers"].as_object().unwrap();
    assert_eq!(servers.len(), 1, "{printed}");
    let entry = &servers["passport-slack-mcp"];
    let listed = tools(entry["url"].as_str().unwrap(), &entry["headers"]).await;
    assert!(!listed.is_empty());
    assert_eq!(
        std::fs::read_dir(user.path()).unwrap().count(),
        0,
        "--print writes no file"
    );
    // The printed key is limited to the server asked for.
    let github = entry["url"]
        .as_str()
        .unwrap()
        .replace("slack-mcp", "github-mcp");
    let refused = reqwest::Client::new()
        .post(&github)
        .header(
            "Authorization",
            entry["headers"]["Authorization"].as_str().unwrap(),
        )
        .header("Accept", "application/json, text/event-stream")
        .json(
            &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "another server with a limited key");

    // disconnect revokes the printed key.
    ok(&home, &["disconnect", "jetbrains"], &[]).await;
    let auth = entry["headers"]["Authorization"].as_str().unwrap();
    let revoked = reqwest::Client::new()
        .post(entry["url"].as_str().unwrap())
        .header("Authorization", auth)
        .header("Accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);

    let _ = broker.kill().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_helper_entry_reaches_the_server_itself_with_the_headers_it_prints() {
    let stack = Stack::start(&["github-mcp", "slack-mcp"], 3600, 0).await;
    let home = Home::new("helper", "github-mcp,slack-mcp");
    home.login(&stack.issuer()).await;

    let user = tempfile::tempdir().unwrap();
    let config = user.path().join(".claude.json");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../connect/tests/fixtures/claude-code.json"),
        &config,
    )
    .unwrap();
    let original = std::fs::read(&config).unwrap();
    let path = config.to_str().unwrap();
    let out = ok(
        &home,
        &["connect", "claude-code", "--helper", "--config", path],
        &[],
    )
    .await;
    assert!(out.contains("2 server(s)"), "{out}");
    let keys = std::fs::read_to_string(home.dir.path().join("keys.json")).unwrap_or_default();
    assert!(!keys.contains("claude-code"), "no key minted: {keys}");

    let written = parse(&config);
    for id in ["github-mcp", "slack-mcp"] {
        let entry = &written["mcpServers"][format!("passport-{id}")];
        assert_eq!(entry["type"], "http");
        assert_eq!(entry["url"], stack.resource(id), "the server itself");
        // Claude Code runs the helper through the shell, in its own
        // environment: the command finds the state and keyring by itself.
        // For github-mcp no broker may start (the command answers alone);
        // for slack-mcp it starts one and asks it, as it would for Claude Code.
        let helper = entry["headersHelper"].as_str().unwrap();
        let mut command = tokio::process::Command::new("sh");
        command
            .args(["-c", helper])
            .env_remove("MCP_PASSPORT_HOME")
            .env_remove("MCP_PASSPORT_KEYRING_SERVICE")
            .env_remove("MCP_PASSPORT_NO_AUTOSTART");
        if id == "github-mcp" {
            command.env("MCP_PASSPORT_NO_AUTOSTART", "1");
        }
        let run = command.output().await.unwrap();
        assert!(
            run.status.success(),
            "{helper}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let headers: Value = serde_json::from_slice(&run.stdout).unwrap();
        let listed = tools(entry["url"].as_str().unwrap(), &headers).await;
        assert!(!listed.is_empty(), "{id}: no tools");
    }

    // Refused for a client without a helper; nothing written.
    let cursor = user.path().join("mcp.json");
    let out = home
        .run(
            &[
                "connect",
                "cursor",
                "--helper",
                "--config",
                cursor.to_str().unwrap(),
            ],
            None,
        )
        .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without --helper"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!cursor.exists());

    assert!(
        home.stop_broker().await.is_some(),
        "the helper started a broker"
    );

    ok(&home, &["disconnect", "claude-code", "--config", path], &[]).await;
    assert_eq!(std::fs::read(&config).unwrap(), original);
    stack.shutdown().await;
}
