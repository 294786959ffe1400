//! The TOML and YAML clients on files taken from their documentation:
//! Codex's `config.toml`, Goose's `config.yaml` (LF and CRLF) and a
//! Continue `mcpServers` folder. `connect` writes entries that a real
//! parser of the format reads as the client expects, with a live key;
//! `disconnect` gives back every other byte, also after the user has added
//! their own server; a file that cannot be read is refused before any key
//! is minted; `--dry-run` writes nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use passport_broker::keys::Keys;
use passport_connect::{
    ClientKind, Request, connect, disconnect, preview_connect, preview_disconnect,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const GRANTED: [&str; 2] = ["github-mcp", "slack-mcp"];

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

struct Home {
    dir: tempfile::TempDir,
    keys: Keys,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::open(dir.path().join("keys.json")).unwrap();
        Self { dir, keys }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn request<'a>(&self, kind: ClientKind, path: &'a Path, granted: &'a [String]) -> Request<'a> {
        Request {
            kind,
            config: Some(path),
            granted,
            wanted: &[],
            port: 8755,
            exe: "mcp-passport",
        }
    }

    fn connect(&self, kind: ClientKind, path: &Path) {
        let granted: Vec<String> = GRANTED.iter().map(|s| s.to_string()).collect();
        connect(&self.request(kind, path, &granted), &self.keys).unwrap();
    }

    fn live_keys(&self, client: &str) -> usize {
        let keys = self.keys.list();
        keys.iter()
            .filter(|k| k.client == client && !k.revoked)
            .count()
    }

    /// The key in an `Authorization` header value, checked to be live.
    fn live(&self, header: &Value) -> String {
        let key = header
            .as_str()
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap();
        assert!(self.keys.verify(key).is_some(), "a live key: {header}");
        key.to_string()
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn toml_value(text: &str) -> Value {
    let table: toml::Table = toml::from_str(text).unwrap();
    serde_json::to_value(table).unwrap()
}

fn yaml_value(text: &str) -> Value {
    serde_norway::from_str(text).unwrap()
}

fn without(mut v: Value, container: &str, prefix: &str) -> Value {
    if let Some(o) = v.get_mut(container).and_then(Value::as_object_mut) {
        o.retain(|k, _| !k.starts_with(prefix));
    }
    v
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} holds a key", path.display());
}

#[cfg(not(unix))]
fn assert_private(_: &Path) {}

fn variants(text: &str) -> [(&'static str, String); 2] {
    [
        ("LF", text.to_string()),
        ("CRLF", text.replace('\n', "\r\n")),
    ]
}

#[test]
fn codex_config_gets_a_table_per_server_and_every_other_byte_back() {
    let original = read(&fixture("codex/config.toml"));
    for (variant, original) in variants(&original) {
        let home = Home::new();
        let path = home.file("config.toml", &original);
        home.connect(ClientKind::Codex, &path);
        let written = read(&path);
        assert_private(&path);
        let v = toml_value(&written);
        for id in GRANTED {
            let entry = &v["mcp_servers"][format!("passport-{id}")];
            assert_eq!(
                entry["url"],
                json!(format!("http://127.0.0.1:8755/v1/mcp/{id}")),
                "{variant}: {written}"
            );
            home.live(&entry["http_headers"]["Authorization"]);
            assert_eq!(entry.as_object().unwrap().len(), 2, "{variant}: {entry}");
        }
        assert_eq!(
            without(v, "mcp_servers", "passport-"),
            toml_value(&original),
            "{variant}"
        );
        assert!(written.contains(&format!(
            "[mcp_servers.passport-github-mcp]{}url = ",
            if variant == "CRLF" { "\r\n" } else { "\n" }
        )));
        assert_eq!(
            std::fs::read_to_string(path.with_extension("toml.mcp-passport.bak")).unwrap(),
            original
        );

        // The user adds a server of their own after ours.
        let nl = if variant == "CRLF" { "\r\n" } else { "\n" };
        let mine = format!("{nl}[mcp_servers.mine]{nl}url = \"https://example.com/mcp\"{nl}");
        if variant == "CRLF" {
            // With LF breaks in a CRLF file the library would change theirs: refused.
            let mixed = format!("{written}{}", mine.replace("\r\n", "\n"));
            std::fs::write(&path, &mixed).unwrap();
            let e = disconnect(ClientKind::Codex, Some(&path), &home.keys).unwrap_err();
            assert!(e.message.contains("mixes CRLF and LF"), "{e}");
            assert_eq!(read(&path), mixed);
        }
        std::fs::write(&path, format!("{written}{mine}")).unwrap();
        let change = disconnect(ClientKind::Codex, Some(&path), &home.keys).unwrap();
        assert_eq!(change.servers, ["github-mcp", "slack-mcp"]);
        assert_eq!(read(&path), format!("{original}{mine}"), "{variant}");
        assert_eq!(home.live_keys("codex"), 0);
    }
}

#[test]
fn goose_config_gets_complete_extensions_and_every_other_byte_back() {
    let original = read(&fixture("goose/config.yaml"));
    for (variant, original) in variants(&original) {
        let home = Home::new();
        let path = home.file("config.yaml", &original);
        home.connect(ClientKind::Goose, &path);
        let written = read(&path);
        assert_private(&path);
        let v = yaml_value(&written);
        for id in GRANTED {
            let name = format!("passport-{id}");
            let entry = &v["extensions"][&name];
            let key = home.live(&entry["headers"]["Authorization"]);
            assert_eq!(
                entry,
                &json!({
                    "enabled": true, "type": "streamable_http", "name": name,
                    "description": format!("{id} through MCP Passport"),
                    "uri": format!("http://127.0.0.1:8755/v1/mcp/{id}"),
                    "envs": {}, "env_keys": [],
                    "headers": {"Authorization": format!("Bearer {key}")},
                    "timeout": 300
                }),
                "{variant}"
            );
        }
        assert_eq!(
            without(v, "extensions", "passport-"),
            yaml_value(&original),
            "{variant}"
        );
        // Ours follow the user's last extension, in the file's indentation.
        let nl = if variant == "CRLF" { "\r\n" } else { "\n" };
        assert!(
            written.contains(&format!(
                "    timeout: 300{nl}  passport-github-mcp:{nl}    enabled: true{nl}"
            )),
            "{variant}: {written}"
        );

        // The user adds an extension right after ours.
        let at = written.find(&format!("{nl}# Recipes")).unwrap() + nl.len();
        let mine =
            format!("  mine:{nl}    enabled: true{nl}    name: mine{nl}    type: builtin{nl}");
        let edited = format!("{}{mine}{}", &written[..at], &written[at..]);
        std::fs::write(&path, &edited).unwrap();
        disconnect(ClientKind::Goose, Some(&path), &home.keys).unwrap();
        let at = original.find(&format!("{nl}# Recipes")).unwrap() + nl.len();
        assert_eq!(
            read(&path),
            format!("{}{mine}{}", &original[..at], &original[at..]),
            "{variant}"
        );
        assert_eq!(home.live_keys("goose"), 0);
    }
}

#[test]
fn goose_config_without_extensions_gets_them_and_loses_them_again() {
    for original in [
        "",
        "GOOSE_PROVIDER: openai\nGOOSE_MODEL: gpt-4o\n",
        "# only a comment\n",
    ] {
        let home = Home::new();
        let path = home.file("config.yaml", original);
        home.connect(ClientKind::Goose, &path);
        let v = yaml_value(&read(&path));
        assert_eq!(
            v["extensions"].as_object().unwrap().len(),
            2,
            "{original:?}"
        );
        disconnect(ClientKind::Goose, Some(&path), &home.keys).unwrap();
        assert_eq!(read(&path), original);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        std::fs::copy(item.path(), to.join(item.file_name())).unwrap();
    }
}

fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|i| {
            let i = i.unwrap();
            (
                i.file_name().to_string_lossy().into_owned(),
                read(&i.path()),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn continue_gets_one_block_file_per_server_and_only_ours_are_removed() {
    let home = Home::new();
    let dir = home.dir.path().join("mcpServers");
    copy_dir(&fixture("continue/mcpServers"), &dir);
    let original = listing(&dir);
    home.connect(ClientKind::Continue, &dir);
    for id in GRANTED {
        let file = dir.join(format!("passport-{id}.yaml"));
        assert_private(&file);
        let v = yaml_value(&read(&file));
        assert_eq!(v["schema"], "v1");
        assert!(v["name"].is_string() && v["version"].is_string(), "{v}");
        let server = &v["mcpServers"][0];
        let key = home.live(&server["requestOptions"]["headers"]["Authorization"]);
        assert_eq!(
            server,
            &json!({"name": format!("passport-{id}"), "type": "streamable-http",
                    "url": format!("http://127.0.0.1:8755/v1/mcp/{id}"),
                    "requestOptions": {"headers": {"Authorization": format!("Bearer {key}")}}})
        );
        assert_eq!(v["mcpServers"].as_array().unwrap().len(), 1);
    }
    assert_eq!(listing(&dir).len(), original.len() + 2);

    // Connecting one server only removes our other file.
    let granted: Vec<String> = GRANTED.iter().map(|s| s.to_string()).collect();
    let wanted = ["github-mcp".to_string()];
    let mut request = home.request(ClientKind::Continue, &dir, &granted);
    request.wanted = &wanted;
    let preview = preview_connect(&request).unwrap();
    assert_eq!(preview.before.len(), 2);
    assert!(
        preview.before[0].1.contains("Bearer <current key>"),
        "{preview:?}"
    );
    assert!(preview.after[0].1.contains("<new key>"));
    connect(&request, &home.keys).unwrap();
    assert!(dir.join("passport-github-mcp.yaml").exists());
    assert!(!dir.join("passport-slack-mcp.yaml").exists());

    let (change, _, _) = preview_disconnect(ClientKind::Continue, Some(&dir)).unwrap();
    assert_eq!(change.servers, ["github-mcp"]);
    let change = disconnect(ClientKind::Continue, Some(&dir), &home.keys).unwrap();
    assert_eq!(change.servers, ["github-mcp"]);
    assert_eq!(listing(&dir), original, "the user's files, as they were");
    assert_eq!(home.live_keys("continue"), 0);
}

#[test]
fn a_continue_file_of_our_name_not_written_by_us_is_refused_and_kept() {
    let home = Home::new();
    let dir = home.dir.path().join("mcpServers");
    std::fs::create_dir_all(&dir).unwrap();
    let theirs = "name: mine\nversion: 0.0.1\nschema: v1\nmcpServers: []\n";
    std::fs::write(dir.join("passport-slack-mcp.yaml"), theirs).unwrap();
    let granted: Vec<String> = GRANTED.iter().map(|s| s.to_string()).collect();
    let e = connect(
        &home.request(ClientKind::Continue, &dir, &granted),
        &home.keys,
    )
    .unwrap_err();
    assert_eq!(e.code, "config_conflict", "{e}");
    assert!(e.message.contains("passport-slack-mcp.yaml"), "{e}");
    assert_eq!(
        listing(&dir),
        [("passport-slack-mcp.yaml".into(), theirs.into())]
    );
    assert!(home.keys.list().is_empty(), "no key minted");
    disconnect(ClientKind::Continue, Some(&dir), &home.keys).unwrap();
    assert_eq!(listing(&dir).len(), 1);
}

#[test]
fn a_file_that_cannot_be_read_is_refused_before_any_key_and_left_untouched() {
    let cases = [
        (
            ClientKind::Codex,
            "config.toml",
            "model = \"o3\"\n[mcp_servers.a\n",
            "not valid TOML",
        ),
        (
            ClientKind::Codex,
            "config.toml",
            "mcp_servers = { a = { url = \"x\" } }\n",
            "tables",
        ),
        (
            ClientKind::Goose,
            "config.yaml",
            "extensions: {dev: {enabled: true}}\n",
            "inline",
        ),
        (
            ClientKind::Goose,
            "config.yaml",
            "extensions:\n  a: 1\n  a: 2\n",
            "not valid YAML",
        ),
        (
            ClientKind::Goose,
            "config.yaml",
            "- just\n- a list\n",
            "top level",
        ),
    ];
    for (kind, name, text, says) in cases {
        let home = Home::new();
        let path = home.file(name, text);
        let granted: Vec<String> = GRANTED.iter().map(|s| s.to_string()).collect();
        let e = connect(&home.request(kind, &path, &granted), &home.keys).unwrap_err();
        assert_eq!(e.code, "config_invalid", "{text:?}: {e}");
        assert!(e.message.contains(says), "{text:?}: {e}");
        assert!(e.message.contains("nothing was changed"), "{e}");
        assert_eq!(read(&path), text);
        assert!(home.keys.list().is_empty(), "no key minted");
        assert!(disconnect(kind, Some(&path), &home.keys).is_err());
        assert_eq!(read(&path), text);
    }
}

#[test]
fn a_dry_run_writes_nothing_and_shows_entries_without_keys() {
    for (kind, name, fixture_path) in [
        (ClientKind::Codex, "config.toml", "codex/config.toml"),
        (ClientKind::Goose, "config.yaml", "goose/config.yaml"),
    ] {
        let home = Home::new();
        let original = read(&fixture(fixture_path));
        let path = home.file(name, &original);
        let granted: Vec<String> = GRANTED.iter().map(|s| s.to_string()).collect();
        let change = preview_connect(&home.request(kind, &path, &granted)).unwrap();
        assert!(change.before.is_empty());
        assert_eq!(change.after.len(), 2);
        assert!(change.after[0].1.contains("Bearer <new key>"), "{change:?}");
        assert_eq!(read(&path), original);
        assert!(home.keys.list().is_empty());
        home.connect(kind, &path);
        let (change, _, _) = preview_disconnect(kind, Some(&path)).unwrap();
        assert_eq!(change.before.len(), 2, "{kind:?}");
        assert!(
            change
                .before
                .iter()
                .all(|(_, v)| v.contains("Bearer <current key>") && !v.contains("mpk_")),
            "{change:?}"
        );
    }
}
