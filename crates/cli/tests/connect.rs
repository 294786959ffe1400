//! `mcp-passport connect` / `disconnect` end to end: the real binary edits a
//! copy of each client's documented config (fixtures), with a state file
//! written directly so no sign-in, keyring or network is needed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_broker::keys::Keys;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

/// (client, container, fixture file).
const CLIENTS: &[(&str, &str, &str)] = &[
    ("claude-code", "mcpServers", "claude-code.json"),
    ("cursor", "mcpServers", "cursor.json"),
    ("vscode", "servers", "vscode.json"),
    ("windsurf", "mcpServers", "windsurf.json"),
    ("zed", "context_servers", "zed.json"),
    ("claude-desktop", "mcpServers", "claude-desktop.json"),
    ("gemini", "mcpServers", "gemini.json"),
    ("qwen", "mcpServers", "qwen.json"),
    ("lm-studio", "mcpServers", "lm-studio.json"),
];

const PROXY_GITHUB: &str = "http://127.0.0.1:8755/v1/mcp/github-mcp";

struct Env {
    home: tempfile::TempDir,
}

impl Env {
    /// A home with one active grant: github-mcp and slack-mcp, plus a blocked one.
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let server = |id: &str, name: &str, port: u16| {
            json!({"id": id, "name": name, "resource": format!("http://127.0.0.1:{port}/mcp"),
                   "token_kind": "unknown", "expires_at": null})
        };
        let state = json!({"version": 1, "clients": [], "grants": [{
            "id": "g1", "issuer": "http://127.0.0.1:9400", "mode": "multi-server",
            "client_id": "c", "scope": ["mcp:tools"],
            "servers": [server("github-mcp", "GitHub", 9401), server("slack-mcp", "Slack", 9402),
                        server("blocked-mcp", "Blocked", 9403)],
            "blocked": ["blocked-mcp"],
            "created_at": "2026-01-01T00:00:00Z", "refreshed_at": null,
            "status": {"state": "active"}}]});
        std::fs::write(home.path().join("state.json"), state.to_string()).unwrap();
        Self { home }
    }

    /// A copy of the client's fixture, inside the home.
    fn fixture(&self, file: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/clients")
            .join(file);
        let dst = self.home.path().join("configs").join(file);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(src, &dst).unwrap();
        dst
    }

    fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_mcp-passport"))
            .args(args)
            .env("MCP_PASSPORT_HOME", self.home.path())
            .env(
                "MCP_PASSPORT_KEYRING_SERVICE",
                "io.github.mcppassport.connect-test",
            )
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn connect(&self, client: &str, config: &Path, extra: &[&str]) -> String {
        let mut args = vec!["connect", client, "--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    fn disconnect(&self, client: &str, config: &Path, extra: &[&str]) -> String {
        let mut args = vec!["disconnect", client, "--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    fn keys(&self) -> Keys {
        Keys::open(self.home.path().join("keys.json")).unwrap()
    }

    fn live_keys(&self, client: &str) -> usize {
        self.keys()
            .list()
            .iter()
            .filter(|k| k.client == client && !k.revoked)
            .count()
    }
}

/// Comments and trailing commas removed (Zed's settings), for parsing only.
fn strip_jsonc(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let (mut i, mut in_string) = (0, false);
    while i < b.len() {
        let c = b[i];
        if in_string {
            out.push(c);
            if c == b'\\' {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            in_string = c != b'"';
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
            continue;
        } else {
            in_string = c == b'"';
            out.push(c);
        }
        i += 1;
    }
    let s = String::from_utf8(out).unwrap();
    // Trailing commas (no commas inside strings in the fixtures precede `}`/`]`).
    let mut r = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (n, ch) in chars.iter().enumerate() {
        if *ch == ','
            && chars[n + 1..]
                .iter()
                .find(|c| !c.is_whitespace())
                .is_some_and(|c| *c == '}' || *c == ']')
        {
            continue;
        }
        r.push(*ch);
    }
    r
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&strip_jsonc(&std::fs::read_to_string(path).unwrap())).unwrap()
}

fn without_passport(mut v: Value, container: &str) -> Value {
    if let Some(o) = v.get_mut(container).and_then(Value::as_object_mut) {
        o.retain(|k, _| !k.starts_with("passport-"));
    }
    v
}

fn passport_entries(v: &Value, container: &str) -> Vec<String> {
    v[container]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("passport-"))
        .cloned()
        .collect()
}

fn key_of(v: &Value, container: &str, name: &str) -> Option<String> {
    let entry = &v[container][name];
    // HTTP clients send it as a header; Claude Desktop's bridge gets it in its environment.
    entry["headers"]["Authorization"]
        .as_str()
        .or_else(|| entry["env"]["MCP_PASSPORT_AUTHORIZATION"].as_str())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string)
}

fn expected(client: &str, id: &str, key: &str) -> Value {
    let proxy = format!("http://127.0.0.1:8755/v1/mcp/{id}");
    let auth = json!({"Authorization": format!("Bearer {key}")});
    match client {
        "claude-code" | "vscode" => json!({"type": "http", "url": proxy, "headers": auth}),
        "cursor" | "zed" | "lm-studio" => json!({"url": proxy, "headers": auth}),
        // `url` would be SSE there.
        "gemini" | "qwen" => json!({"httpUrl": proxy, "headers": auth}),
        "windsurf" => json!({"serverUrl": proxy, "headers": auth}),
        "claude-desktop" => {
            let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_mcp-passport")).unwrap();
            json!({"command": exe.to_str().unwrap(), "args": ["stdio", id], "env": {"MCP_PASSPORT_AUTHORIZATION": format!("Bearer {key}")}})
        }
        other => panic!("unknown client {other}"),
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn backup(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.mcp-passport.bak", path.display()))
}

#[test]
fn connect_writes_one_entry_per_unblocked_server_in_each_clients_shape() {
    for (client, container, file) in CLIENTS {
        let env = Env::new();
        let config = env.fixture(file);
        let out = env.connect(client, &config, &[]);
        assert!(out.contains("github-mcp, slack-mcp"), "{client}: {out}");
        let v = read(&config);
        assert_eq!(
            passport_entries(&v, container),
            ["passport-github-mcp", "passport-slack-mcp"],
            "{client}"
        );
        let key = key_of(&v, container, "passport-github-mcp").unwrap_or_default();
        for id in ["github-mcp", "slack-mcp"] {
            let mut entry = v[container][format!("passport-{id}")].clone();
            if let Some(cmd) = entry.get_mut("command") {
                *cmd = json!(
                    std::fs::canonicalize(cmd.as_str().unwrap())
                        .unwrap()
                        .to_str()
                        .unwrap()
                );
            }
            assert_eq!(entry, expected(client, id, &key), "{client} {id}");
        }
        assert!(key.starts_with("mpk_"), "{client}");
        if *client != "claude-desktop" {
            assert_eq!(
                v[container]["passport-github-mcp"]
                    .to_string()
                    .matches(PROXY_GITHUB)
                    .count(),
                1
            );
        }
    }
}

#[test]
fn connect_keeps_every_other_entry_backs_up_and_makes_the_file_private() {
    for (client, container, file) in CLIENTS {
        let env = Env::new();
        let config = env.fixture(file);
        let original = std::fs::read_to_string(&config).unwrap();
        let before = read(&config);
        env.connect(client, &config, &[]);
        assert_eq!(
            without_passport(read(&config), container),
            before,
            "{client}"
        );
        assert_eq!(
            std::fs::read_to_string(backup(&config)).unwrap(),
            original,
            "{client}"
        );
        #[cfg(unix)]
        assert_eq!(mode(&config), 0o600, "{client}");
    }
}

#[test]
fn connect_keeps_key_order_and_indentation_of_the_users_file() {
    for (client, _, file) in CLIENTS {
        let env = Env::new();
        let config = env.fixture(file);
        let original = std::fs::read_to_string(&config).unwrap();
        env.connect(client, &config, &[]);
        let after = std::fs::read_to_string(&config).unwrap();
        // The added entries are the only difference: removing them gives the
        // original back byte for byte.
        env.disconnect(client, &config, &[]);
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            original,
            "{client}"
        );
        assert!(
            after.contains("\n    \"passport-github-mcp\": {\n      \""),
            "{client}: {after}"
        );
    }
}

#[test]
fn connecting_twice_is_idempotent_with_one_live_key_per_client() {
    for (client, container, file) in CLIENTS {
        let env = Env::new();
        let config = env.fixture(file);
        env.connect(client, &config, &[]);
        let first = std::fs::read_to_string(&config).unwrap();
        let key1 = key_of(&read(&config), container, "passport-github-mcp");
        env.connect(client, &config, &[]);
        let second = std::fs::read_to_string(&config).unwrap();
        let key2 = key_of(&read(&config), container, "passport-github-mcp");
        match (key1, key2) {
            (Some(k1), Some(k2)) => {
                assert_ne!(k1, k2, "{client}: a fresh key each time");
                assert_eq!(
                    first.replace(&k1, "KEY"),
                    second.replace(&k2, "KEY"),
                    "{client}"
                );
                let keys = env.keys();
                assert!(
                    keys.verify(&k1).is_none(),
                    "{client}: the old key is revoked"
                );
                assert!(keys.verify(&k2).is_some(), "{client}");
                assert_eq!(env.live_keys(client), 1, "{client}");
            }
            (None, None) => {
                assert_eq!(first, second, "{client}");
                assert_eq!(
                    env.live_keys(client),
                    0,
                    "{client}: stdio uses the CLI's key"
                );
            }
            other => panic!("{client}: {other:?}"),
        }
        assert_eq!(
            passport_entries(&read(&config), container).len(),
            2,
            "{client}"
        );
    }
}

#[test]
fn the_written_key_verifies_and_is_limited_by_servers() {
    for (client, container, file) in CLIENTS {
        let env = Env::new();
        let config = env.fixture(file);
        env.connect(client, &config, &["--servers", "slack-mcp"]);
        let v = read(&config);
        assert_eq!(
            passport_entries(&v, container),
            ["passport-slack-mcp"],
            "{client}"
        );
        let key = key_of(&v, container, "passport-slack-mcp").unwrap();
        let record = env.keys().verify(&key).expect("the key verifies");
        assert_eq!(record.client, *client);
        assert_eq!(record.servers, Some(vec!["slack-mcp".to_string()]));
        assert!(!record.allows("github-mcp"));

        // Without --servers the key covers every granted server.
        env.connect(client, &config, &[]);
        let key = key_of(&read(&config), container, "passport-github-mcp").unwrap();
        assert_eq!(env.keys().verify(&key).unwrap().servers, None, "{client}");
    }
}

#[test]
fn dry_run_shows_the_change_and_changes_nothing() {
    for (client, _, file) in CLIENTS {
        let env = Env::new();
        let config = env.fixture(file);
        let original = std::fs::read(&config).unwrap();
        let out = env.connect(client, &config, &["--dry-run"]);
        assert!(out.contains("\"passport-github-mcp\""), "{client}: {out}");
        assert!(out.contains("Bearer <new key>"), "{client}: {out}");
        assert_eq!(std::fs::read(&config).unwrap(), original, "{client}");
        assert!(!backup(&config).exists(), "{client}");
        assert!(
            !env.home.path().join("keys.json").exists(),
            "{client}: no key minted"
        );

        env.connect(client, &config, &[]);
        let connected = std::fs::read(&config).unwrap();
        let live = env.live_keys(client);
        let out = env.disconnect(client, &config, &["--dry-run"]);
        assert!(out.contains("passport-github-mcp"), "{client}: {out}");
        assert!(
            !out.contains("mpk_"),
            "{client}: keys are not printed: {out}"
        );
        assert_eq!(std::fs::read(&config).unwrap(), connected, "{client}");
        assert_eq!(env.live_keys(client), live, "{client}");
    }
}

#[test]
fn disconnect_removes_exactly_the_passport_entries_and_revokes_the_key() {
    for (client, container, file) in CLIENTS {
        let env = Env::new();
        let config = env.fixture(file);
        let original = std::fs::read_to_string(&config).unwrap();
        env.connect(client, &config, &[]);
        let key = key_of(&read(&config), container, "passport-github-mcp");
        let out = env.disconnect(client, &config, &[]);
        assert!(out.contains("github-mcp, slack-mcp"), "{client}: {out}");
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            original,
            "{client}"
        );
        assert!(passport_entries(&read(&config), container).is_empty());
        if let Some(key) = key {
            assert!(env.keys().verify(&key).is_none(), "{client}");
        }
        assert_eq!(env.live_keys(client), 0, "{client}");
    }
}

#[test]
fn zed_comments_and_trailing_commas_survive_connect() {
    let env = Env::new();
    let config = env.fixture("zed.json");
    env.connect("zed", &config, &[]);
    let text = std::fs::read_to_string(&config).unwrap();
    for comment in [
        "// Zed settings",
        "\"theme\": \"One Dark\", // the theme",
        "/* MCP servers, see https://zed.dev/docs/ai/mcp */",
        "// a local one",
        "// \"http://\" works too",
        "\"vim_mode\": false,\n}",
    ] {
        assert!(text.contains(comment), "{comment} lost:\n{text}");
    }
}

#[test]
fn connect_creates_a_missing_config_file_and_its_directories() {
    let env = Env::new();
    let config = env.home.path().join("new/dir/mcp.json");
    env.connect("cursor", &config, &[]);
    let v = read(&config);
    assert_eq!(passport_entries(&v, "mcpServers").len(), 2);
    assert_eq!(v.as_object().unwrap().len(), 1);
    assert!(!backup(&config).exists());
    #[cfg(unix)]
    assert_eq!(mode(&config), 0o600);
}

#[test]
fn an_ungranted_or_blocked_server_is_refused_and_nothing_changes() {
    let env = Env::new();
    let config = env.fixture("cursor.json");
    let original = std::fs::read(&config).unwrap();
    for server in ["nope", "blocked-mcp"] {
        let out = env.run(&[
            "connect",
            "cursor",
            "--config",
            config.to_str().unwrap(),
            "--servers",
            server,
        ]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(server));
    }
    assert_eq!(std::fs::read(&config).unwrap(), original);
    assert!(!env.home.path().join("keys.json").exists());
}

#[test]
fn a_config_that_is_not_json_is_refused_before_any_key_is_minted() {
    let env = Env::new();
    let config = env.home.path().join("broken.json");
    std::fs::write(&config, "{ \"mcpServers\": ").unwrap();
    let out = env.run(&["connect", "cursor", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot edit"));
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "{ \"mcpServers\": "
    );
    assert!(!env.home.path().join("keys.json").exists());
}

#[test]
fn json_output_names_the_client_config_servers_and_dry_run() {
    let env = Env::new();
    let config = env.fixture("vscode.json");
    let out = env.ok(&[
        "--json",
        "connect",
        "vscode",
        "--config",
        config.to_str().unwrap(),
        "--dry-run",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({"client": "vscode", "config": config, "servers": ["github-mcp", "slack-mcp"], "dry_run": true})
    );
}

#[test]
fn the_proxy_url_uses_the_running_brokers_port() {
    let env = Env::new();
    std::fs::create_dir_all(env.home.path().join("run")).unwrap();
    std::fs::write(
        env.home.path().join("run/endpoint.json"),
        r#"{"port": 9911, "key": "mpk_x_y", "pid": 1}"#,
    )
    .unwrap();
    let config = env.fixture("cursor.json");
    env.connect("cursor", &config, &[]);
    assert_eq!(
        read(&config)["mcpServers"]["passport-github-mcp"]["url"],
        "http://127.0.0.1:9911/v1/mcp/github-mcp"
    );
}

/// The text with `insert` placed right after the end of our last entry
/// (`"passport-slack-mcp": {` up to its closing brace at `indent`).
fn after_entry(text: &str, entry: &str, indent: &str, insert: &str) -> String {
    let start = text.find(&format!("\"{entry}\"")).unwrap();
    let close = format!("\n{indent}}}");
    let end = start + text[start..].find(&close).unwrap() + close.len();
    format!("{}{insert}{}", &text[..end], &text[end..])
}

#[test]
fn zed_a_server_the_user_added_below_ours_keeps_its_comment_after_disconnect() {
    let env = Env::new();
    let config = env.home.path().join("settings.json");
    let original = "// Zed settings\n{\n  \"theme\": \"One Dark\",\n  \"context_servers\": {}\n}\n";
    std::fs::write(&config, original).unwrap();
    env.connect("zed", &config, &[]);
    let connected = std::fs::read_to_string(&config).unwrap();
    // The user adds their own server below ours, with a comment above it.
    let mine = ",\n    // my own server, keep it\n    \"mine\": { \"command\": \"my-server\" }";
    let edited = after_entry(&connected, "passport-slack-mcp", "    ", mine);
    std::fs::write(&config, &edited).unwrap();
    env.disconnect("zed", &config, &[]);
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "// Zed settings\n{\n  \"theme\": \"One Dark\",\n  \"context_servers\": {\n    \
         // my own server, keep it\n    \"mine\": { \"command\": \"my-server\" }\n  }\n}\n"
    );
}
