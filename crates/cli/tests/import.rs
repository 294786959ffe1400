//! `mcp-passport import`: four clients' config files (Claude Code, Cursor,
//! VS Code, Gemini CLI, in their documented formats, at their usual places
//! under a home of the test's own) share four remote servers on two
//! reference authorization servers. One `import --yes` signs in once per
//! AS (the browser opens once for each), points every client's entries at
//! the running broker, and each repointed entry answers `initialize` and
//! `tools/list` with that client's key; no token from the files reaches
//! the output, the logs or MCP Passport's files; `disconnect --restore`
//! gives each file its bytes back, and refuses while the user's own change
//! would be lost. Real HTTP throughout, the real keyring (run under
//! scripts/desktop-session.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use passport_connect::jsonedit;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use support::home::{Home, target_bin};
use support::stack::Stack;

const SECRETS: [&str; 6] = [
    "fixture-secret-claude-github-0001",
    "fixture-secret-cursor-github-0002",
    "fixture-secret-vscode-linear-0003",
    "fixture-secret-gemini-notion-0004",
    "fixture-secret-gemini-legacy-0005",
    "fixture-secret-cursor-query-0006",
];

/// The client, its fixture, where it lives under the home, its servers
/// container, and the entries import must replace.
struct Client {
    name: &'static str,
    fixture: &'static str,
    at: &'static str,
    container: &'static str,
    replaced: &'static [(&'static str, &'static str)],
    kept: &'static [&'static str],
}

const CLIENTS: [Client; 4] = [
    Client {
        name: "claude-code",
        fixture: "claude.json",
        at: ".claude.json",
        container: "mcpServers",
        replaced: &[("github", "github-mcp"), ("notion", "notion-mcp")],
        kept: &["filesystem"],
    },
    Client {
        name: "cursor",
        fixture: "cursor.json",
        at: ".cursor/mcp.json",
        container: "mcpServers",
        replaced: &[("github", "github-mcp"), ("slack", "slack-mcp")],
        kept: &["sqlite", "keyed"],
    },
    Client {
        name: "vscode",
        fixture: "vscode.json",
        at: ".config/Code/User/mcp.json",
        container: "servers",
        replaced: &[("linear", "linear-mcp"), ("slack", "slack-mcp")],
        kept: &["memory"],
    },
    Client {
        name: "gemini",
        fixture: "gemini.json",
        at: ".gemini/settings.json",
        container: "mcpServers",
        replaced: &[("notion", "notion-mcp"), ("linear", "linear-mcp")],
        kept: &["legacy"],
    },
];

fn fixture(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// Writes each client's fixture, with the servers' URLs, at its usual
/// place under `user`; returns each file's path and bytes.
fn place(user: &Path, urls: &[(&str, String)]) -> Vec<(PathBuf, String)> {
    CLIENTS
        .iter()
        .map(|c| {
            let mut text = fixture(c.fixture);
            for (slot, url) in urls {
                text = text.replace(&format!("{{{{{slot}}}}}"), url);
            }
            let path = user.join(c.at);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            (path, text)
        })
        .collect()
}

/// A browser that logs each address it is given, then approves at the
/// AS it belongs to (every server of that AS).
fn browser(home: &Home, a: &Stack, b: &Stack, log: &Path) {
    let approve = target_bin("reference-as");
    let script = format!(
        "#!/bin/sh\necho \"$1\" >> '{log}'\ncase \"$1\" in\n  '{ia}'*) exec '{bin}' approve --servers github-mcp,slack-mcp \"$1\";;\n  '{ib}'*) exec '{bin}' approve --servers notion-mcp,linear-mcp \"$1\";;\nesac\nexit 1\n",
        log = log.display(),
        ia = a.issuer(),
        ib = b.issuer(),
        bin = approve.display()
    );
    std::fs::write(home.dir.path().join("browser.sh"), script).unwrap();
}

/// An MCP session on raw HTTP through one entry: `initialize`, then
/// `tools/list`; returns the tools' names.
async fn tools_through(url: &str, auth: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(url)
            .header("authorization", auth)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body);
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        request.send()
    };
    let init = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "import-test", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200, "initialize through {url}");
    let session = init
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let _ = init.bytes().await;
    let note = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        session.clone(),
    )
    .await
    .unwrap();
    assert!(note.status().is_success(), "initialized: {}", note.status());
    let list = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        session,
    )
    .await
    .unwrap();
    assert_eq!(list.status(), 200, "tools/list through {url}");
    let body = list.text().await.unwrap();
    // JSON, or SSE events one of whose data is the answer.
    let answer: Value = std::iter::once(body.as_str())
        .chain(body.lines().filter_map(|l| l.strip_prefix("data:")))
        .filter_map(|t| serde_json::from_str::<Value>(t.trim()).ok())
        .find(|v| v["id"] == 2)
        .unwrap_or_else(|| panic!("no answer to tools/list in {body}"));
    answer["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {answer}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_import_signs_in_once_per_as_repoints_four_clients_and_restore_gives_the_bytes_back() {
    let a = Stack::start(&["github-mcp", "slack-mcp"], 3600, 0).await;
    let b = Stack::start(&["notion-mcp", "linear-mcp"], 3600, 0).await;
    let home = Home::new("import", "none");
    let opened = home.dir.path().join("opened.log");
    browser(&home, &a, &b, &opened);
    let user = tempfile::tempdir().unwrap();
    let urls = [
        ("GITHUB", a.resource("github-mcp")),
        ("SLACK", a.resource("slack-mcp")),
        ("NOTION", b.resource("notion-mcp")),
        ("LINEAR", b.resource("linear-mcp")),
    ];
    let files = place(user.path(), &urls);
    let user_home = user.path().to_str().unwrap().to_string();
    let config_home = user.path().join(".config");
    let env = [
        ("HOME", user_home.as_str()),
        ("XDG_CONFIG_HOME", config_home.to_str().unwrap()),
        ("MCP_PASSPORT_LOG", "debug"),
    ];
    let mut broker = home.spawn_broker(None);
    let (port, _) = home.endpoint(&mut broker).await;
    let unchanged = || {
        for (path, bytes) in &files {
            assert_eq!(
                &std::fs::read_to_string(path).unwrap(),
                bytes,
                "{}",
                path.display()
            );
        }
    };

    // The preview lists every server and who uses it; it changes nothing.
    let dry = home.run_with(&["import", "--dry-run"], None, &env).await;
    let out = text(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{out}\n{}", text(&dry.stderr));
    assert!(out.contains("Found 4 remote MCP server(s)"), "{out}");
    for (_, url) in &urls {
        assert!(out.contains(url.as_str()), "{url} listed:\n{out}");
    }
    assert!(
        out.contains("Gemini CLI \"legacy\"") && out.contains("SSE"),
        "{out}"
    );
    assert!(out.contains("Cursor \"keyed\""), "{out}");
    unchanged();
    assert!(!opened.exists(), "a dry run opened no sign-in");

    // --config CLIENT=PATH reads that file instead of the client's usual one.
    let elsewhere = user.path().join("no-such.json");
    let arg = format!("cursor={}", elsewhere.display());
    let moved = home
        .run_with(&["import", "--dry-run", "--config", &arg], None, &env)
        .await;
    let moved_out = text(&moved.stdout);
    assert_eq!(moved.status.code(), Some(0), "{}", text(&moved.stderr));
    assert!(!moved_out.contains("Cursor"), "{moved_out}");
    assert!(moved_out.contains("Found 4 remote"), "{moved_out}");
    let bad = home
        .run_with(&["import", "--dry-run", "--config", "nope=/x"], None, &env)
        .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("unknown client"),
        "{}",
        text(&bad.stderr)
    );

    // Without --yes and without a terminal it refuses, changing nothing.
    let refused = home.run_with(&["import"], None, &env).await;
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stderr).contains("--yes"),
        "{}",
        text(&refused.stderr)
    );
    unchanged();
    assert!(!opened.exists());

    let run = home
        .run_with(
            &["--json", "import", "--yes", "--timeout", "60"],
            None,
            &env,
        )
        .await;
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["repointed"].as_array().unwrap().len(), 4, "{report}");

    // One browser round trip per AS.
    let log = std::fs::read_to_string(&opened).unwrap();
    let count = |issuer: &str| log.lines().filter(|l| l.starts_with(issuer)).count();
    assert_eq!(count(&a.issuer()), 1, "{log}");
    assert_eq!(count(&b.issuer()), 1, "{log}");
    assert_eq!(log.lines().count(), 2, "{log}");

    // Every client's entries point at the broker and work with its key.
    for (c, (path, _)) in CLIENTS.iter().zip(&files) {
        let now = std::fs::read_to_string(path).unwrap();
        let value = jsonedit::parse(&now).unwrap();
        let servers = value[c.container].as_object().unwrap();
        for (mine, _) in c.replaced {
            assert!(
                !servers.contains_key(*mine),
                "{}: {mine} replaced:\n{now}",
                c.name
            );
        }
        for kept in c.kept {
            assert!(
                servers.contains_key(*kept),
                "{}: {kept} kept:\n{now}",
                c.name
            );
        }
        let ours: Vec<&String> = servers
            .keys()
            .filter(|k| k.starts_with("passport-"))
            .collect();
        assert_eq!(ours.len(), c.replaced.len(), "{}:\n{now}", c.name);
        for (_, id) in c.replaced {
            let entry = &servers[&format!("passport-{id}")];
            let url = entry["url"].as_str().or(entry["httpUrl"].as_str()).unwrap();
            assert_eq!(
                url,
                format!("http://127.0.0.1:{port}/v1/mcp/{id}"),
                "{}",
                c.name
            );
            let auth = entry["headers"]["Authorization"].as_str().unwrap();
            let tools = tools_through(url, auth).await;
            assert!(!tools.is_empty(), "{}: {id} lists tools", c.name);
        }
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", c.name);
    }

    // No token from the files reached the output, the logs or our files.
    let secrets: Vec<String> = SECRETS.iter().map(|s| (*s).to_string()).collect();
    for secret in &secrets {
        for (what, said) in [("stdout", &stdout), ("stderr", &stderr), ("dry run", &out)] {
            assert!(
                !said.contains(secret.as_str()),
                "{what} holds a fixture token"
            );
        }
    }
    home.assert_no_secret_on_disk(&secrets, "after import");

    // The user changes something else in Cursor's file: restoring would lose
    // it, so it is refused and the file stays as it is.
    let (cursor, _) = &files[1];
    let imported = std::fs::read_to_string(cursor).unwrap();
    let edited = imported.replace("test.db", "work.db");
    std::fs::write(cursor, &edited).unwrap();
    let cursor_arg = cursor.to_str().unwrap();
    let no = home
        .run_with(
            &["disconnect", "cursor", "--restore", "--config", cursor_arg],
            None,
            &env,
        )
        .await;
    assert_ne!(no.status.code(), Some(0));
    assert!(
        text(&no.stderr).contains("changed since the import"),
        "{}",
        text(&no.stderr)
    );
    assert_eq!(std::fs::read_to_string(cursor).unwrap(), edited);
    std::fs::write(cursor, &imported).unwrap();

    // Restoring gives each file its bytes back and cuts the client's key off.
    let claude = jsonedit::parse(&std::fs::read_to_string(&files[0].0).unwrap()).unwrap();
    let claude_auth = claude["mcpServers"]["passport-github-mcp"]["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .to_string();
    for (c, (path, original)) in CLIENTS.iter().zip(&files) {
        let config = path.to_str().unwrap();
        let args = ["disconnect", c.name, "--restore", "--config", config];
        let back = home.run_with(&args, None, &env).await;
        assert_eq!(
            back.status.code(),
            Some(0),
            "{}: {}",
            c.name,
            text(&back.stderr)
        );
        assert_eq!(
            &std::fs::read_to_string(path).unwrap(),
            original,
            "{}",
            c.name
        );
        let again = home.run_with(&args, None, &env).await;
        assert_ne!(
            again.status.code(),
            Some(0),
            "{}: nothing left to restore",
            c.name
        );
    }
    let url = format!("http://127.0.0.1:{port}/v1/mcp/github-mcp");
    let cut = reqwest::Client::new()
        .post(&url)
        .header("authorization", &claude_auth)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cut.status(), 401, "Claude Code's key is revoked");

    // Imported again with every server granted: no browser opens, and the
    // entries point at the broker again; restoring still gives the bytes back.
    let again = home.run_with(&["import", "--yes"], None, &env).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let log = std::fs::read_to_string(&opened).unwrap();
    assert_eq!(log.lines().count(), 2, "no new sign-in: {log}");
    for (c, (path, original)) in CLIENTS.iter().zip(&files) {
        let now = std::fs::read_to_string(path).unwrap();
        for (_, id) in c.replaced {
            assert!(
                now.contains(&format!("\"passport-{id}\"")),
                "{}:\n{now}",
                c.name
            );
        }
        let config = path.to_str().unwrap();
        let args = ["disconnect", c.name, "--restore", "--config", config];
        let back = home.run_with(&args, None, &env).await;
        assert_eq!(back.status.code(), Some(0), "{}", text(&back.stderr));
        assert_eq!(
            &std::fs::read_to_string(path).unwrap(),
            original,
            "{}",
            c.name
        );
    }

    broker.start_kill().unwrap();
    let logs = broker.wait_with_output().await.unwrap();
    let logs = text(&logs.stderr);
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "the broker's log holds a fixture token"
        );
    }
}
