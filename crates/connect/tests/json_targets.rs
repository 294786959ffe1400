//! opencode, Cline (VS Code and CLI), Claude Code's headers helper and
//! `--print`, on files taken from each client's documentation: the entries
//! are in the client's own format and place (opencode's `mcp` or
//! `mcp.servers`, whichever the file uses), carry a live key of that client
//! alone (none for the helper), the file is written 0600 after a backup,
//! and `disconnect` gives back every byte. A file that cannot be read is
//! refused before any key changes.
#![allow(clippy::unwrap_used, missing_docs)]

use passport_broker::keys::Keys;
use passport_connect::helper::{self, Helper};
use passport_connect::{
    ClientKind, Request, connect, disconnect, jsonedit, preview_connect, print,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const GRANTED: [&str; 2] = ["github-mcp", "slack-mcp"];

struct Home {
    dir: tempfile::TempDir,
    keys: Keys,
    granted: Vec<String>,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path().join("keys.json")).unwrap();
        Self {
            dir,
            keys,
            granted: GRANTED.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A copy of fixture `file` in this home.
    fn fixture(&self, file: &str) -> PathBuf {
        let name = Path::new(file).file_name().unwrap();
        let path = self.dir.path().join(name);
        std::fs::write(&path, fixture(file)).unwrap();
        path
    }

    fn request<'a>(&'a self, kind: ClientKind, config: Option<&'a Path>) -> Request<'a> {
        Request {
            kind,
            config,
            granted: &self.granted,
            wanted: &[],
            port: 8755,
            exe: "/usr/bin/mcp-passport",
        }
    }

    fn live(&self, client: &str) -> usize {
        self.keys
            .list()
            .iter()
            .filter(|k| k.client == client && !k.revoked)
            .count()
    }
}

fn fixture(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file),
    )
    .unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn at<'v>(value: &'v Value, container: &str) -> &'v serde_json::Map<String, Value> {
    container
        .split('.')
        .fold(value, |v, k| &v[k])
        .as_object()
        .unwrap_or_else(|| panic!("no object at {container}"))
}

/// The key in an entry's `Authorization` header.
fn key_of(entry: &Value) -> String {
    entry["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// (client, fixture, where the servers are, the entry without its headers).
fn targets() -> Vec<(ClientKind, &'static str, &'static str, Value)> {
    let proxy = "http://127.0.0.1:8755/v1/mcp/github-mcp";
    vec![
        (
            ClientKind::Opencode,
            "opencode/opencode.json",
            "mcp",
            json!({"type": "remote", "url": proxy, "oauth": false}),
        ),
        (
            ClientKind::Opencode,
            "opencode/opencode.jsonc",
            "mcp.servers",
            json!({"type": "remote", "url": proxy, "oauth": false}),
        ),
        (
            ClientKind::Cline,
            "cline/cline_mcp_settings.json",
            "mcpServers",
            json!({"type": "streamableHttp", "url": proxy, "disabled": false}),
        ),
        (
            ClientKind::ClineCli,
            "cline/cline-cli_mcp_settings.json",
            "mcpServers",
            json!({"type": "streamableHttp", "url": proxy, "disabled": false}),
        ),
    ]
}

#[test]
fn opencode_and_cline_entries_take_the_clients_format_and_disconnect_gives_back_every_byte() {
    for (kind, file, container, expected) in targets() {
        let what = format!("{kind:?} {file}");
        let home = Home::new();
        let path = home.fixture(file);
        let original = read(&path);

        // The preview writes nothing and mints nothing.
        let preview = preview_connect(&home.request(kind, Some(&path))).unwrap();
        assert_eq!(preview.servers, GRANTED, "{what}");
        assert_eq!(read(&path), original, "{what}");
        assert_eq!(home.live(kind.name()), 0, "{what}");

        connect(&home.request(kind, Some(&path)), &home.keys).unwrap();
        let connected = read(&path);
        assert_eq!(mode(&path), 0o600, "{what}");
        let backup = PathBuf::from(format!("{}.mcp-passport.bak", path.display()));
        assert_eq!(read(&backup), original, "{what}: the backup");

        let value = jsonedit::parse(&connected).unwrap();
        let servers = at(&value, container);
        let mut ours = servers["passport-github-mcp"].clone();
        let key = key_of(&ours);
        let record = home.keys.verify(&key).expect("a live key");
        assert_eq!(record.client, kind.name(), "{what}");
        assert_eq!(
            key_of(&servers["passport-slack-mcp"]),
            key,
            "{what}: one key per client"
        );
        ours.as_object_mut().unwrap().remove("headers");
        assert_eq!(ours, expected, "{what}");
        // Everything else parses as it did.
        let mut without = value.clone();
        let inner = container
            .split('.')
            .fold(&mut without, |v, k| &mut v[k])
            .as_object_mut()
            .unwrap();
        inner.retain(|k, _| !k.starts_with("passport-"));
        assert_eq!(without, jsonedit::parse(&original).unwrap(), "{what}");

        let change = disconnect(kind, Some(&path), &home.keys).unwrap();
        assert_eq!(change.servers, GRANTED, "{what}");
        assert_eq!(change.revoked_keys, 1, "{what}");
        assert_eq!(read(&path), original, "{what}: every byte back");
        assert!(home.keys.verify(&key).is_none(), "{what}");
    }
}

#[test]
fn opencode_writes_where_the_file_keeps_its_servers() {
    let home = Home::new();
    let path = home.dir.path().join("opencode.json");
    // A new file: the servers go directly under `mcp`.
    connect(&home.request(ClientKind::Opencode, Some(&path)), &home.keys).unwrap();
    let value = jsonedit::parse(&read(&path)).unwrap();
    assert!(value["mcp"]["passport-github-mcp"].is_object(), "{value}");
    // A server the user named "servers" is a server, not the newer layout.
    std::fs::write(
        &path,
        r#"{"mcp": {"servers": {"type": "remote", "url": "https://example.com/mcp"}}}"#,
    )
    .unwrap();
    connect(&home.request(ClientKind::Opencode, Some(&path)), &home.keys).unwrap();
    let value = jsonedit::parse(&read(&path)).unwrap();
    assert!(value["mcp"]["passport-slack-mcp"].is_object(), "{value}");
    assert_eq!(value["mcp"]["servers"]["url"], "https://example.com/mcp");
    assert!(value["mcp"]["servers"].get("passport-slack-mcp").is_none());
}

#[test]
fn a_file_that_cannot_be_read_is_refused_before_any_key_changes() {
    for kind in [
        ClientKind::Opencode,
        ClientKind::Cline,
        ClientKind::ClineCli,
    ] {
        let home = Home::new();
        let path = home.dir.path().join("broken.json");
        let broken = "{\n  \"mcp\": {\"servers\": {\"a\": {}}},\n  \"mcpServers\": {\"x\" 1}\n}";
        std::fs::write(&path, broken).unwrap();
        let e = connect(&home.request(kind, Some(&path)), &home.keys).unwrap_err();
        assert_eq!(e.code, "config_invalid", "{kind:?}");
        assert!(e.message.contains("line 3"), "{kind:?}: {e}");
        assert_eq!(read(&path), broken);
        assert!(home.keys.list().is_empty(), "{kind:?}: no key minted");
        // opencode's servers nested in something that is not an object.
        let odd = "{\"mcp\": {\"servers\": {}}, \"mcpServers\": []}";
        std::fs::write(&path, odd).unwrap();
        if kind != ClientKind::Opencode {
            assert!(connect(&home.request(kind, Some(&path)), &home.keys).is_err());
            assert_eq!(read(&path), odd);
        }
    }
}

#[test]
fn the_helper_points_claude_code_at_each_server_itself_with_no_key() {
    let home = Home::new();
    let path = home.fixture("claude-code.json");
    let original = read(&path);
    // Connected through the proxy first: the helper replaces those entries
    // and their key.
    connect(
        &home.request(ClientKind::ClaudeCode, Some(&path)),
        &home.keys,
    )
    .unwrap();
    assert_eq!(home.live("claude-code"), 1);

    let urls = vec![
        (
            "github-mcp".to_string(),
            "https://github.example/mcp".to_string(),
        ),
        (
            "slack-mcp".to_string(),
            "https://slack.example/mcp".to_string(),
        ),
    ];
    let command = vec![
        "/opt/my tools/mcp-passport".to_string(),
        "--home".to_string(),
        "/home/me/it's here".to_string(),
    ];
    let with = Helper {
        urls: &urls,
        command: &command,
    };
    let request = home.request(ClientKind::ClaudeCode, Some(&path));
    let before = read(&path);
    let preview = helper::preview(&request, &with).unwrap();
    assert_eq!(read(&path), before, "the preview writes nothing");
    assert!(preview.after[0].1.contains("headersHelper"), "{preview:?}");

    let change = helper::connect(&request, &with, &home.keys).unwrap();
    assert_eq!(change.revoked_keys, 1);
    assert_eq!(home.live("claude-code"), 0, "no key in the path");
    let value = jsonedit::parse(&read(&path)).unwrap();
    assert_eq!(
        value["mcpServers"]["passport-github-mcp"],
        json!({
            "type": "http",
            "url": "https://github.example/mcp",
            "headersHelper": "'/opt/my tools/mcp-passport' --home '/home/me/it'\\''s here' headers github-mcp"
        })
    );
    assert_eq!(
        value["mcpServers"]["passport-slack-mcp"]["url"],
        "https://slack.example/mcp"
    );
    assert_eq!(mode(&path), 0o600);

    disconnect(ClientKind::ClaudeCode, Some(&path), &home.keys).unwrap();
    assert_eq!(read(&path), original);
}

#[test]
fn the_helper_is_refused_where_it_cannot_work_and_nothing_changes() {
    let home = Home::new();
    let urls = vec![(
        "github-mcp".to_string(),
        "https://github.example/mcp".to_string(),
    )];
    let command = vec!["mcp-passport".to_string()];
    let with = Helper {
        urls: &urls,
        command: &command,
    };
    let path = home.fixture("cursor.json");
    let original = read(&path);
    let e = helper::connect(
        &home.request(ClientKind::Cursor, Some(&path)),
        &with,
        &home.keys,
    )
    .unwrap_err();
    assert_eq!(e.code, "no_helper");
    assert!(e.message.contains("without --helper"), "{e}");
    assert_eq!(read(&path), original);

    // slack-mcp's URL is not known.
    let path = home.fixture("claude-code.json");
    let original = read(&path);
    let e = helper::connect(
        &home.request(ClientKind::ClaudeCode, Some(&path)),
        &with,
        &home.keys,
    )
    .unwrap_err();
    assert_eq!(e.code, "no_url");
    assert!(e.message.contains("slack-mcp"), "{e}");
    assert_eq!(read(&path), original);
    assert!(home.keys.list().is_empty());
}

#[test]
fn print_shows_the_entries_with_a_new_key_and_writes_no_file() {
    let home = Home::new();
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("keys"))
            .collect()
    };
    let before = names(home.dir.path());
    let request = home.request(ClientKind::Jetbrains, None);
    let printed = print::print(&request, &home.keys).unwrap();
    assert_eq!(printed.servers, GRANTED);
    let value: Value = serde_json::from_str(&printed.text).unwrap();
    let entry = &value["mcpServers"]["passport-github-mcp"];
    assert_eq!(entry["url"], "http://127.0.0.1:8755/v1/mcp/github-mcp");
    let key = key_of(entry);
    assert_eq!(home.keys.verify(&key).unwrap().client, "jetbrains");
    // Only the keys changed in the home: no config file.
    assert_eq!(names(home.dir.path()), before);

    // A second print replaces the key.
    let again = print::print(&request, &home.keys).unwrap();
    assert_eq!(again.revoked_keys, 1);
    assert!(home.keys.verify(&key).is_none());

    // JetBrains has no file: connect says how to set it up; disconnect
    // revokes its key.
    let e = connect(&request, &home.keys).unwrap_err();
    assert_eq!(e.code, "print_only");
    assert!(e.message.contains("--print jetbrains"), "{e}");
    let change = disconnect(ClientKind::Jetbrains, None, &home.keys).unwrap();
    assert_eq!(change.revoked_keys, 1);
    assert_eq!(home.live("jetbrains"), 0);

    // Any client prints in its own format.
    let printed = print::print(&home.request(ClientKind::Opencode, None), &home.keys).unwrap();
    let value = jsonedit::parse(&printed.text).unwrap();
    assert_eq!(value["mcp"]["passport-slack-mcp"]["type"], "remote");
}

#[test]
fn opencode_nested_servers_keep_the_files_style_with_a_bom_and_crlf() {
    let lf = fixture("opencode/opencode.jsonc");
    let crlf = lf.replace('\n', "\r\n");
    for (variant, original) in [
        ("LF", lf.clone()),
        ("BOM LF", format!("\u{feff}{lf}")),
        ("CRLF", crlf.clone()),
        ("BOM CRLF", format!("\u{feff}{crlf}")),
    ] {
        let home = Home::new();
        let path = home.dir.path().join("opencode.jsonc");
        std::fs::write(&path, &original).unwrap();
        connect(&home.request(ClientKind::Opencode, Some(&path)), &home.keys).unwrap();
        let connected = read(&path);
        let newline = if variant.contains("CRLF") {
            "\r\n"
        } else {
            "\n"
        };
        // Our entries sit with the user's, one level in, on lines of their own.
        assert!(
            connected.contains(&format!(
                "{newline}      \"passport-github-mcp\": {{{newline}"
            )),
            "{variant}: {connected}"
        );
        if newline == "\r\n" {
            assert!(!connected.replace("\r\n", "").contains('\n'), "{variant}");
        }
        assert_eq!(connected.starts_with('\u{feff}'), variant.contains("BOM"));
        let value = jsonedit::parse(&connected).unwrap();
        assert_eq!(at(&value, "mcp.servers").len(), 4, "{variant}");
        disconnect(ClientKind::Opencode, Some(&path), &home.keys).unwrap();
        assert_eq!(read(&path), original, "{variant}");
    }
}
