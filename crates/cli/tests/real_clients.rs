//! MCP clients people use, installed from npm (tests/real-clients, pinned),
//! read what `connect` writes: after a sign-in on the demo stack and with a
//! broker running, `connect <client>` then the client's own command that
//! connects to its MCP servers (`mcp list`) reports every `passport-*`
//! entry connected (it opens an MCP session through the broker's proxy
//! with the client's key); after `disconnect` the client lists no passport
//! entry and the file is byte-identical to before `connect`. The MCP
//! Inspector CLI lists and calls tools through the proxy with a client's
//! key, and is refused once that key is revoked. The clients run with
//! their own home directory, no account, and only loopback addresses
//! (support::clients).
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::clients::{SignedIn, User, entry_line, fixture};

const SERVERS: [&str; 2] = ["github-mcp", "slack-mcp"];

#[tokio::test(flavor = "multi_thread")]
async fn gemini_and_qwen_list_every_passport_entry_connected_and_nothing_after_disconnect() {
    let passport = SignedIn::start("real-clients", &SERVERS).await;
    let user = User::new();
    // The person trusts their project folder (Gemini CLI loads no MCP
    // server in an untrusted one).
    user.write(
        ".gemini/trustedFolders.json",
        serde_json::json!({ user.work.to_str().unwrap(): "TRUST_FOLDER" })
            .to_string()
            .as_bytes(),
    );
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients");

    for (client, folder) in [("gemini", ".gemini"), ("qwen", ".qwen")] {
        let config = user.write(
            &format!("{folder}/settings.json"),
            &std::fs::read(fixtures.join(format!("{client}.json"))).unwrap(),
        );
        // The person has run their client before: it may have rewritten its
        // own settings (Qwen Code adds "$version" on its first run).
        let (_, before) = user.run(client, &["mcp", "list"]).await;
        assert!(!before.contains("passport-"), "{client}: {before}");
        let original = std::fs::read(&config).unwrap();

        passport.connect(client, &config).await;
        let (_, listed) = user.run(client, &["mcp", "list"]).await;
        for id in SERVERS {
            let line = entry_line(client, &listed, id);
            assert!(
                line.contains(&format!("/v1/mcp/{id}")) && line.ends_with("Connected"),
                "{client}: {line}\n{listed}"
            );
        }
        println!("{client} mcp list after connect:\n{listed}");

        passport.disconnect(client, &config).await;
        let (_, listed) = user.run(client, &["mcp", "list"]).await;
        assert!(!listed.contains("passport-"), "{client}: {listed}");
        assert_eq!(
            std::fs::read(&config).unwrap(),
            original,
            "{client}: the file is as it was before connect"
        );
    }
    passport.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_lists_every_passport_entry_connected_and_nothing_after_disconnect() {
    let passport = SignedIn::start("real-claude", &SERVERS).await;
    let user = User::new();
    let config = user.write(".claude.json", &fixture("claude.json"));
    // Claude Code adds its own keys (first start, ids) on its first run;
    // the file as it left it is the person's file.
    let (_, before) = user.run("claude", &["mcp", "list"]).await;
    assert!(
        before.contains("team-wiki:") && !before.contains("passport-"),
        "{before}"
    );
    let original = std::fs::read(&config).unwrap();

    passport.connect("claude-code", &config).await;
    let (ok, listed) = user.run("claude", &["mcp", "list"]).await;
    assert!(ok, "claude mcp list failed:\n{listed}");
    for id in SERVERS {
        let line = entry_line("claude", &listed, id);
        assert!(
            line.contains(&format!("/v1/mcp/{id} (HTTP)")) && line.ends_with("✔ Connected"),
            "{line}\n{listed}"
        );
    }
    // The person's own entries are still there, as they were.
    assert!(
        listed.contains("team-wiki: http://127.0.0.1:9/mcp"),
        "{listed}"
    );
    println!("claude mcp list after connect:\n{listed}");

    passport.disconnect("claude-code", &config).await;
    let (_, listed) = user.run("claude", &["mcp", "list"]).await;
    assert!(
        listed.contains("team-wiki:") && !listed.contains("passport-"),
        "{listed}"
    );
    assert_eq!(
        std::fs::read(&config).unwrap(),
        original,
        "~/.claude.json is as it was before connect"
    );
    passport.stop().await;
}

/// Runs the MCP Inspector CLI against `url` with `key`: whether it
/// succeeded, its stdout (the JSON answer) and its stderr.
async fn inspector(user: &User, url: &str, key: &str, method: &[&str]) -> (bool, String, String) {
    let header = format!("Authorization: Bearer {key}");
    let mut args = vec![
        "--cli",
        url,
        "--transport",
        "http",
        "--header",
        header.as_str(),
        "--method",
    ];
    args.extend_from_slice(method);
    user.output("mcp-inspector", &args).await
}

/// The JSON a tool answered with in its first text content.
fn tool_text(called: &str) -> serde_json::Value {
    let result: serde_json::Value = serde_json::from_str(called).unwrap();
    assert_ne!(result["isError"], serde_json::json!(true), "{called}");
    serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_inspector_lists_and_calls_tools_through_the_proxy_with_a_client_key() {
    let passport = SignedIn::start("real-inspector", &SERVERS).await;
    let user = User::new();
    // A client key and the proxy's URL, as `connect` hands them to a
    // client: Cursor's format holds the key in `headers`.
    let config = user.write(".cursor/mcp.json", b"{}\n");
    passport.connect("cursor", &config).await;
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let entry = &written["mcpServers"]["passport-github-mcp"];
    let url = entry["url"].as_str().unwrap().to_string();
    let key = entry["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();
    assert!(url.ends_with("/v1/mcp/github-mcp"), "{url}");

    let (ok, listed, err) = inspector(&user, &url, &key, &["tools/list"]).await;
    assert!(ok, "tools/list failed:\n{listed}{err}");
    let tools: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for tool in ["whoami", "list_issues", "create_issue"] {
        assert!(names.contains(&tool), "no {tool} in {names:?}");
    }
    println!("mcp-inspector tools/list: {names:?} {err}");

    // A call with arguments reaches the server with the person's token.
    let args = [
        "tools/call",
        "--tool-name",
        "list_issues",
        "--tool-arg",
        "state=open",
    ];
    let (ok, called, err) = inspector(&user, &url, &key, &args).await;
    assert!(ok, "tools/call failed:\n{called}{err}");
    let issues = tool_text(&called);
    assert!(
        issues
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|i| i["state"] == "open")),
        "{issues}"
    );
    let args = ["tools/call", "--tool-name", "whoami"];
    let (ok, called, err) = inspector(&user, &url, &key, &args).await;
    assert!(ok, "whoami failed:\n{called}{err}");
    let claims = tool_text(&called);
    assert_eq!(claims["server"], "github-mcp", "{claims}");
    // The token the proxy put in is the person's, for this server only.
    assert_eq!(claims["aud"], "github-mcp", "{claims}");
    assert_eq!(claims["sub"], "demo", "{claims}");
    println!("mcp-inspector tools/call whoami:\n{called}");

    // Once the client is disconnected its key is revoked: refused.
    passport.disconnect("cursor", &config).await;
    let (ok, listed, refused) = inspector(&user, &url, &key, &["tools/list"]).await;
    // The broker answers 401; the Inspector, with no terminal to sign in
    // from, stops there.
    assert!(
        !ok && !listed.contains("list_issues")
            && format!("{listed}{refused}").contains("auth_required"),
        "{listed}{refused}"
    );
    println!("mcp-inspector tools/list with the revoked key:\n{listed}{refused}");
    passport.stop().await;
}
