//! Connected clients follow the grants, through the real `mcp-passport`
//! binary after a real sign-in at the demo AS: `revoke` takes exactly the
//! revoked server's entry out of every connected client's file (the rest
//! byte for byte as it was, the key kept), `add-servers` puts it back for
//! the client connected to every server only, and a file edited by hand
//! is left alone and flagged. And `connect --all` on a home with three
//! installed clients: one preview listing the three files, no write
//! without a confirmation, three files written with `--yes`. Secrets go to
//! the real OS keyring (run under scripts/desktop-session.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reference_as::demo::{Demo, DemoConfig};
use serde_json::{Value, json};
use std::path::Path;
use support::home::{Home, target_bin};

async fn ok(home: &Home, args: &[&str]) -> String {
    let out = home.run(args, None).await;
    assert!(
        out.status.success(),
        "`mcp-passport {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Makes the home's browser approve `servers` (comma-separated).
fn approve(home: &Home, servers: &str) {
    std::fs::write(
        home.dir.path().join("browser.sh"),
        format!(
            "#!/bin/sh\nexec '{}' approve --servers {servers} \"$1\"\n",
            target_bin("reference-as").display()
        ),
    )
    .unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// `after` is `before` with one stretch of bytes taken out (every other
/// byte as it was), and what it says is `before` without `entry`.
fn one_stretch_removed(before: &str, after: &str, entry: &str) {
    let (b, a) = (before.as_bytes(), after.as_bytes());
    assert!(a.len() < b.len(), "nothing was removed:\n{after}");
    let head = b.iter().zip(a).take_while(|(x, y)| x == y).count();
    let tail = b
        .iter()
        .rev()
        .zip(a.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    assert!(
        head + tail >= a.len(),
        "the rest of the file changed:\nbefore:\n{before}\nafter:\n{after}"
    );
    let mut expected: Value = serde_json::from_str(before).unwrap();
    assert!(
        expected["mcpServers"]
            .as_object_mut()
            .unwrap()
            .remove(entry)
            .is_some(),
        "{entry} was there before"
    );
    assert_eq!(serde_json::from_str::<Value>(after).unwrap(), expected);
}

fn entries(path: &Path) -> Vec<String> {
    let v: Value = serde_json::from_str(&read(path)).unwrap();
    let mut names: Vec<String> = v["mcpServers"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("passport-"))
        .cloned()
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn connected_clients_follow_revoke_and_add_servers_and_a_hand_edit_is_left_alone() {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new("follow", "github-mcp,slack-mcp,notion-mcp");
    ok(&home, &["login", &issuer]).await;

    let configs = home.dir.path().join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let cursor = configs.join("cursor.json");
    let gemini = configs.join("gemini-settings.json");
    let user = "{\n  \"theme\": \"dark\",\n  \"mcpServers\": {\n    \"mine\": {\"url\": \"https://example.com/mcp\"}\n  }\n}\n";
    std::fs::write(&cursor, user).unwrap();
    std::fs::write(&gemini, user).unwrap();
    // Cursor gets every server; Gemini CLI the two the user chose.
    ok(
        &home,
        &["connect", "cursor", "--config", cursor.to_str().unwrap()],
    )
    .await;
    ok(
        &home,
        &[
            "connect",
            "gemini",
            "--servers",
            "github-mcp,slack-mcp",
            "--config",
            gemini.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        entries(&cursor),
        [
            "passport-github-mcp",
            "passport-notion-mcp",
            "passport-slack-mcp"
        ]
    );
    let (cursor_before, gemini_before) = (read(&cursor), read(&gemini));

    let revoked = ok(&home, &["revoke", "slack-mcp"]).await;
    assert!(revoked.contains("Cursor: removed slack-mcp"), "{revoked}");
    assert!(
        revoked.contains("Gemini CLI: removed slack-mcp"),
        "{revoked}"
    );
    one_stretch_removed(&cursor_before, &read(&cursor), "passport-slack-mcp");
    one_stretch_removed(&gemini_before, &read(&gemini), "passport-slack-mcp");
    assert_eq!(
        std::fs::read_to_string(format!("{}.mcp-passport.bak", cursor.display())).unwrap(),
        cursor_before,
        "the file was backed up first"
    );

    // Adding it back: the client connected to every server gets it, the
    // one connected to chosen servers does not.
    let gemini_after_revoke = read(&gemini);
    let added = ok(&home, &["add-servers", &issuer, "--servers", "slack-mcp"]).await;
    assert!(added.contains("Cursor: added slack-mcp"), "{added}");
    assert_eq!(
        entries(&cursor),
        [
            "passport-github-mcp",
            "passport-notion-mcp",
            "passport-slack-mcp"
        ]
    );
    assert_eq!(read(&gemini), gemini_after_revoke);

    // The entries carry a live key, and keep it across the changes.
    let cursor_v: Value = serde_json::from_str(&read(&cursor)).unwrap();
    let key = cursor_v["mcpServers"]["passport-slack-mcp"]["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();
    assert!(cursor_before.contains(&key), "Cursor's key was kept");
    let keys = passport_broker::keys::Keys::open(home.dir.path().join("keys.json")).unwrap();
    assert_eq!(keys.verify(&key).unwrap().client, "cursor");

    // A hand edit: Cursor's github entry changed. The next revoke leaves
    // Cursor's file alone and says what to do; Gemini CLI follows.
    let edited = read(&cursor).replacen(
        "\"passport-github-mcp\": {",
        "\"passport-github-mcp\": {\n      \"timeout\": 5,",
        1,
    );
    std::fs::write(&cursor, &edited).unwrap();
    let gemini_before = read(&gemini);
    let revoked = ok(&home, &["revoke", "github-mcp"]).await;
    assert!(
        revoked.contains("Cursor: its entries in")
            && revoked.contains("changed by hand")
            && revoked.contains("mcp-passport connect cursor"),
        "{revoked}"
    );
    assert_eq!(read(&cursor), edited, "an edited file is left alone");
    one_stretch_removed(&gemini_before, &read(&gemini), "passport-github-mcp");

    // Disconnecting forgets the record: a later change leaves the file be.
    ok(
        &home,
        &["disconnect", "gemini", "--config", gemini.to_str().unwrap()],
    )
    .await;
    assert_eq!(read(&gemini), user, "disconnect restores the user's file");
    approve(&home, "github-mcp,notion-mcp");
    ok(&home, &["add-servers", &issuer, "--servers", "github-mcp"]).await;
    assert_eq!(read(&gemini), user);
    assert_eq!(read(&cursor), edited);
}

#[tokio::test]
async fn a_revoke_and_a_login_run_by_the_broker_are_followed_too() {
    let demo = Demo::start(DemoConfig::default()).await.unwrap();
    let issuer = demo.info().issuer.clone();
    let home = Home::new("follow-broker", "github-mcp,slack-mcp");
    let mut broker = home.spawn_broker(None);
    let (port, _) = home.endpoint(&mut broker).await;
    ok(&home, &["login", &issuer]).await;
    let cursor = home.dir.path().join("configs/cursor.json");
    ok(
        &home,
        &["connect", "cursor", "--config", cursor.to_str().unwrap()],
    )
    .await;
    let before = read(&cursor);
    assert!(
        before.contains(&format!("http://127.0.0.1:{port}/v1/mcp/slack-mcp")),
        "{before}"
    );

    let revoked = ok(&home, &["revoke", "slack-mcp"]).await;
    assert!(revoked.contains("Cursor: removed slack-mcp"), "{revoked}");
    one_stretch_removed(&before, &read(&cursor), "passport-slack-mcp");

    let json = ok(
        &home,
        &["add-servers", &issuer, "--servers", "slack-mcp", "--json"],
    )
    .await;
    serde_json::from_str::<Value>(json.trim()).expect("--json output stays one document");
    assert_eq!(
        entries(&cursor),
        ["passport-github-mcp", "passport-slack-mcp"]
    );
    let _ = home.stop_broker().await;
    let _ = broker.wait().await;
}

/// A home with a granted server (written directly: no sign-in needed).
fn signed_in_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let state = json!({"version": 1, "clients": [], "grants": [{
        "id": "g1", "issuer": "http://127.0.0.1:9400", "mode": "multi-server",
        "client_id": "c", "scope": ["mcp:tools"],
        "servers": [{"id": "github-mcp", "name": "GitHub", "resource": "http://127.0.0.1:9401/mcp",
                     "token_kind": "unknown", "expires_at": null}],
        "created_at": "2026-01-01T00:00:00Z", "refreshed_at": null,
        "status": {"state": "active"}}]});
    std::fs::write(home.path().join("state.json"), state.to_string()).unwrap();
    home
}

#[test]
fn connect_all_previews_every_detected_client_then_connects_each() {
    let passport = signed_in_home();
    let user = tempfile::tempdir().unwrap();
    let (home, config, bin) = (
        user.path().join("home"),
        user.path().join("home/.config"),
        user.path().join("bin"),
    );
    // Gemini CLI and Cursor by their folders, Claude Code by its program.
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    std::fs::create_dir_all(home.join(".cursor")).unwrap();
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    std::fs::write(&claude, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"))
            .args(args)
            .env("MCP_PASSPORT_HOME", passport.path())
            .env(
                "MCP_PASSPORT_KEYRING_SERVICE",
                "io.github.mcppassport.connect-all-test",
            )
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", &config)
            .env("PATH", &bin)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let files = [
        home.join(".claude.json"),
        home.join(".cursor/mcp.json"),
        home.join(".gemini/settings.json"),
    ];

    let preview = run(&["connect", "--all", "--dry-run"]);
    let text = String::from_utf8_lossy(&preview.stdout);
    assert!(preview.status.success(), "{text}");
    assert!(text.contains("Found 3 installed MCP client(s)"), "{text}");
    for f in &files {
        assert!(text.contains(&f.display().to_string()), "{text}");
        assert!(!f.exists(), "a dry run writes nothing");
    }

    // Without a terminal and without --yes: refused, nothing written.
    let refused = run(&["connect", "--all"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--yes"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(files.iter().all(|f| !f.exists()));

    // At a terminal (util-linux `script` gives it one): "n" changes nothing, "y" connects.
    let at_terminal = |answer: &str| {
        let mut child = std::process::Command::new("script")
            .args([
                "-qec",
                &format!("'{}' connect --all", env!("CARGO_BIN_EXE_mcp-passport")),
                "/dev/null",
            ])
            .env("MCP_PASSPORT_HOME", passport.path())
            .env(
                "MCP_PASSPORT_KEYRING_SERVICE",
                "io.github.mcppassport.connect-all-test",
            )
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", &config)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let declined = at_terminal("n\n");
    let text = String::from_utf8_lossy(&declined.stdout);
    assert!(declined.status.success(), "{text}");
    assert!(
        text.contains("Connect these 3 client(s)") && text.contains("[y/N]"),
        "{text}"
    );
    assert!(text.contains("Nothing was changed."), "{text}");
    assert!(files.iter().all(|f| !f.exists()));

    let done = at_terminal("y\n");
    let text = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{text}");
    for (f, name) in files.iter().zip(["Claude Code", "Cursor", "Gemini CLI"]) {
        assert!(
            text.contains(&format!("Connected {name} to 1 server(s)")),
            "{text}"
        );
        let v: Value = serde_json::from_str(&read(f)).unwrap();
        assert!(
            v["mcpServers"]["passport-github-mcp"].is_object(),
            "{}: {v}",
            f.display()
        );
    }
    let records: Value =
        serde_json::from_str(&read(&passport.path().join("clients.json"))).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 3, "{records}");

    // --yes: no question, the same three.
    let again = run(&["connect", "--all", "--yes"]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        !text.contains("[y/N]") && text.matches("Connected ").count() == 3,
        "{text}"
    );
}
