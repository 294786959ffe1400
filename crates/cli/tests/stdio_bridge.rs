//! The stdio bridge as Claude Desktop runs it: the entry `connect
//! claude-desktop` wrote (command, arguments, environment with Claude
//! Desktop's own key), MCP over stdin/stdout, through the broker's proxy
//! (started on demand). `disconnect claude-desktop` revokes the key: the
//! running bridge's next request and a new bridge are refused.
//!
//! A client of MCP 2026-07-28 works through the bridge as well.
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reference_as::demo::{Demo, DemoConfig};
use rmcp::ServiceExt as _;
use serde_json::Value;
use support::home::Home;

/// Runs a command that must succeed; returns its stdout.
async fn ok(home: &Home, args: &[&str]) -> String {
    let out = home.run(args, None).await;
    assert!(
        out.status.success(),
        "mcp-passport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `mcp-passport stdio <server>` as Claude Desktop would: the command,
/// arguments and environment of the entry `connect` wrote.
fn desktop_bridge(home: &Home, entry: &Value) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(entry["command"].as_str().unwrap());
    for arg in entry["args"].as_array().unwrap() {
        command.arg(arg.as_str().unwrap());
    }
    for (k, v) in entry["env"].as_object().unwrap() {
        command.env(k, v.as_str().unwrap());
    }
    command
        .env("MCP_PASSPORT_HOME", home.dir.path())
        .env("MCP_PASSPORT_KEYRING_SERVICE", &home.service)
        .env_remove("MCP_PASSPORT_NO_AUTOSTART")
        .kill_on_drop(true);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn stdio_bridge_uses_claude_desktops_own_key_and_disconnect_cuts_it_off() {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let home = Home::with_autostart("stdio", "github-mcp,slack-mcp");
    home.login(&demo.info().issuer).await;
    let config = home.dir.path().join("claude_desktop_config.json");
    ok(
        &home,
        &[
            "connect",
            "claude-desktop",
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .await;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let entry = written["mcpServers"]["passport-slack-mcp"].clone();
    let auth = entry["env"]["MCP_PASSPORT_AUTHORIZATION"].as_str().unwrap();
    let endpoint_key = |home: &Home| -> Option<String> {
        let text = std::fs::read_to_string(home.endpoint_file()).ok()?;
        serde_json::from_str::<Value>(&text).ok()?["key"]
            .as_str()
            .map(str::to_string)
    };

    // No broker runs: the bridge starts one and goes through its proxy.
    let transport = rmcp::transport::TokioChildProcess::new(desktop_bridge(&home, &entry)).unwrap();
    let client = rmcp::model::ClientConfig::default()
        .serve(transport)
        .await
        .expect("initialize over the bridge");
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"list_channels".to_string()), "{tools:?}");
    let result = client
        .call_tool(rmcp::model::CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    let text: String = result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect();
    let whoami: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(whoami["server"], "slack-mcp");
    assert_eq!(whoami["sub"], "demo");
    assert!(home.broker_pid().is_some(), "the bridge started a broker");
    assert_ne!(
        Some(auth.trim_start_matches("Bearer ").to_string()),
        endpoint_key(&home),
        "the bridge's key is Claude Desktop's, not the CLI's"
    );
    let clients: Value = serde_json::from_str(&ok(&home, &["clients", "--json"]).await).unwrap();
    let mut proxied_as = Vec::new();
    for _ in 0..100 {
        let clients: Value =
            serde_json::from_str(&ok(&home, &["clients", "--json"]).await).unwrap();
        proxied_as = clients["recent"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "proxy")
            .map(|a| a["client"].as_str().unwrap().to_string())
            .collect();
        if !proxied_as.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        !proxied_as.is_empty() && proxied_as.iter().all(|c| c == "claude-desktop"),
        "the broker saw Claude Desktop's key: {proxied_as:?} ({clients})"
    );

    // Disconnect revokes the key: the running bridge's next request is refused...
    ok(
        &home,
        &[
            "disconnect",
            "claude-desktop",
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(20), client.list_all_tools())
        .await
        .expect("the running bridge answered or ended");
    assert!(
        next.is_err(),
        "the running bridge was refused after disconnect"
    );
    let _ = client.cancel().await;

    // ...and a new one is refused, saying what to do.
    let mut fresh = desktop_bridge(&home, &entry);
    fresh
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = fresh.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    use tokio::io::AsyncWriteExt as _;
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}\n")
        .await
        .unwrap();
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the refused bridge exits")
        .unwrap();
    assert!(!out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("\"result\""),
        "no answer to initialize"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connect claude-desktop"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    home.stop_broker().await;
    demo.shutdown().await;
}

/// A client of MCP 2026-07-28 (`server/discover`, `_meta` on every request)
/// through the bridge: the bridge's transport puts `MCP-Protocol-Version`,
/// `Mcp-Method` and `Mcp-Name` on each POST from the request itself, the
/// proxy passes them on, and the sample server (which checks the version
/// header against `_meta`) answers in 2026-07-28.
#[tokio::test(flavor = "multi_thread")]
async fn a_2026_07_28_client_works_through_the_bridge() {
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _};
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let home = Home::with_autostart("stdio2026", "slack-mcp");
    home.login(&demo.info().issuer).await;
    let config = home.dir.path().join("claude_desktop_config.json");
    ok(
        &home,
        &[
            "connect",
            "claude-desktop",
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .await;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let entry = written["mcpServers"]["passport-slack-mcp"].clone();
    let transport = rmcp::transport::TokioChildProcess::new(desktop_bridge(&home, &entry)).unwrap();
    let client = rmcp::model::ClientConfig::default()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("server/discover over the bridge");
    assert_eq!(
        client.peer_info().unwrap().protocol_version,
        rmcp::model::ProtocolVersion::V_2026_07_28
    );
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"list_channels".to_string()), "{tools:?}");
    let result = client
        .call_tool(rmcp::model::CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    let text: String = result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect();
    let whoami: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(whoami["server"], "slack-mcp");
    let _ = client.cancel().await;
    home.stop_broker().await;
    demo.shutdown().await;
}
