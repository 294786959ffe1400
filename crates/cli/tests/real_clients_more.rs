//! opencode and Claude Code's headers helper, from npm (tests/real-clients,
//! pinned), after a sign-in on the demo stack with a broker running:
//! - `connect opencode`, then opencode's own `mcp list`, which connects to
//!   every server, reports each `passport-*` entry connected (through the
//!   broker's proxy, with opencode's key);
//! - `connect claude-code --helper`: each entry points at the server itself
//!   and Claude Code runs `mcp-passport headers <id>` for the token; `claude
//!   mcp list` reports each entry connected.
//!
//! After `disconnect` the client lists no passport entry and its file is
//! byte-identical to before `connect`. The clients run with their own home
//! directory, no account, and only loopback addresses (support::clients).
//!
//! Needs the real keyring: run under scripts/desktop-session.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use support::clients::{SignedIn, User, entry_line, fixture};

const SERVERS: [&str; 2] = ["github-mcp", "slack-mcp"];

#[tokio::test(flavor = "multi_thread")]
async fn opencode_lists_every_passport_entry_connected_and_nothing_after_disconnect() {
    let passport = SignedIn::start("real-opencode", &SERVERS).await;
    let user = User::new();
    let config = user.write(".config/opencode/opencode.json", &fixture("opencode.json"));
    let (_, before) = user.run("opencode", &["mcp", "list"]).await;
    assert!(
        before.contains("my-remote-mcp") && !before.contains("passport-"),
        "{before}"
    );
    let original = std::fs::read(&config).unwrap();

    passport.connect("opencode", &config).await;
    let (ok, listed) = user.run("opencode", &["mcp", "list"]).await;
    assert!(ok, "opencode mcp list failed:\n{listed}");
    let lines: Vec<&str> = listed.lines().collect();
    for id in SERVERS {
        // "●  ✓ passport-<id> connected", then the URL on the next line.
        let at = lines
            .iter()
            .position(|l| l.contains(&format!(" passport-{id} ")))
            .unwrap_or_else(|| panic!("no passport-{id} line:\n{listed}"));
        assert!(
            lines[at].contains('✓') && lines[at].trim_end().ends_with("connected"),
            "{}\n{listed}",
            lines[at]
        );
        assert!(
            lines
                .get(at + 1)
                .is_some_and(|l| l.trim_end().ends_with(&format!("/v1/mcp/{id}"))),
            "{listed}"
        );
    }
    println!("opencode mcp list after connect:\n{listed}");

    passport.disconnect("opencode", &config).await;
    let (_, listed) = user.run("opencode", &["mcp", "list"]).await;
    assert!(
        listed.contains("my-remote-mcp") && !listed.contains("passport-"),
        "{listed}"
    );
    assert_eq!(
        std::fs::read(&config).unwrap(),
        original,
        "opencode.json is as it was before connect"
    );
    passport.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_with_the_headers_helper_connects_to_each_server_itself() {
    let passport = SignedIn::start("real-helper", &SERVERS).await;
    let user = User::new();
    let config = user.write(".claude.json", &fixture("claude.json"));
    let (_, before) = user.run("claude", &["mcp", "list"]).await;
    assert!(!before.contains("passport-"), "{before}");
    let original = std::fs::read(&config).unwrap();

    passport
        .ok(&[
            "connect",
            "claude-code",
            "--helper",
            "--config",
            config.to_str().unwrap(),
        ])
        .await;
    let (ok, listed) = user.run("claude", &["mcp", "list"]).await;
    assert!(ok, "claude mcp list failed:\n{listed}");
    for id in SERVERS {
        // The server's own URL: no proxy in the path.
        let line = entry_line("claude", &listed, id);
        let url = passport.stack.resource(id);
        assert!(
            line.contains(&format!(": {url} (HTTP)")) && line.ends_with("✔ Connected"),
            "{line}\n{listed}"
        );
    }
    println!("claude mcp list after connect --helper:\n{listed}");

    passport.disconnect("claude-code", &config).await;
    let (_, listed) = user.run("claude", &["mcp", "list"]).await;
    assert!(!listed.contains("passport-"), "{listed}");
    assert_eq!(
        std::fs::read(&config).unwrap(),
        original,
        "~/.claude.json is as it was before connect"
    );
    passport.stop().await;
}
