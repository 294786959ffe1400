//! Each client's config file as users keep it (comments before, between and
//! after members, trailing commas), also with a byte order mark and CRLF
//! line breaks: `connect` writes our entries in the file's own style, and
//! `disconnect` gives back every other byte, also after the user has added
//! a server and comments around ours.
#![allow(clippy::unwrap_used, missing_docs)]

use passport_broker::keys::Keys;
use passport_connect::{ClientKind, Request, connect, disconnect, jsonedit};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// (client, container, fixture, the indentation of its servers).
const CLIENTS: &[(ClientKind, &str, &str, &str)] = &[
    (
        ClientKind::ClaudeCode,
        "mcpServers",
        "claude-code.json",
        "    ",
    ),
    (ClientKind::Cursor, "mcpServers", "cursor.json", "        "),
    (ClientKind::Vscode, "servers", "vscode.json", "\t\t"),
    (ClientKind::Windsurf, "mcpServers", "windsurf.json", "    "),
    (ClientKind::Zed, "context_servers", "zed.json", "    "),
    (
        ClientKind::ClaudeDesktop,
        "mcpServers",
        "claude-desktop.json",
        "    ",
    ),
    (ClientKind::Gemini, "mcpServers", "gemini.json", "    "),
    (ClientKind::Qwen, "mcpServers", "qwen.json", "    "),
    (ClientKind::LmStudio, "mcpServers", "lm-studio.json", "    "),
];

/// The fixture as is, with a byte order mark, with CRLF, and with both.
fn variants(file: &str) -> Vec<(String, String)> {
    let lf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file),
    )
    .unwrap();
    let crlf = lf.replace('\n', "\r\n");
    vec![
        ("LF".into(), lf.clone()),
        ("BOM LF".into(), format!("\u{feff}{lf}")),
        ("CRLF".into(), crlf.clone()),
        ("BOM CRLF".into(), format!("\u{feff}{crlf}")),
    ]
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

    fn config(&self, text: &str) -> PathBuf {
        let path = self.dir.path().join("config.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn connect(&self, kind: ClientKind, path: &Path) {
        let granted = ["github-mcp".to_string(), "slack-mcp".to_string()];
        let request = Request {
            kind,
            config: Some(path),
            granted: &granted,
            wanted: &[],
            port: 8755,
            exe: "/usr/bin/mcp-passport",
        };
        connect(&request, &self.keys).unwrap();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The user's edit after connecting: a server of their own right below
/// ours with a comment above it, and a comment above our first entry.
fn user_edit(text: &str, indent: &str, newline: &str) -> (String, String, String) {
    let first = text
        .find(&format!("{indent}\"passport-github-mcp\""))
        .unwrap();
    let above = format!("{indent}// above ours{newline}");
    let text = format!("{}{above}{}", &text[..first], &text[first..]);
    let last = text.find("\"passport-slack-mcp\"").unwrap();
    let close = format!("{newline}{indent}}}");
    let mut end = last + text[last..].find(&close).unwrap() + close.len();
    let comma = text[end..].starts_with(',');
    if comma {
        end += 1;
    }
    let mine = format!(
        "{newline}{indent}// my own server{newline}{indent}\"mine\": {{\"command\": \"mine\"}}{}",
        if comma { "," } else { "" }
    );
    let lead = if comma { "" } else { "," };
    let edited = format!("{}{lead}{mine}{}", &text[..end], &text[end..]);
    (edited, above, mine)
}

#[test]
fn every_client_file_keeps_every_byte_through_connect_and_disconnect() {
    for (kind, container, file, indent) in CLIENTS {
        for (variant, original) in variants(file) {
            let what = format!("{kind:?} {variant}");
            let newline = if variant.contains("CRLF") {
                "\r\n"
            } else {
                "\n"
            };
            let home = Home::new();
            let path = home.config(&original);
            home.connect(*kind, &path);
            let connected = read(&path);

            // Our entries are there, in the file's style.
            let value = jsonedit::parse(&connected).unwrap();
            let servers = value[container].as_object().unwrap();
            assert!(servers.contains_key("passport-github-mcp"), "{what}");
            assert!(servers.contains_key("passport-slack-mcp"), "{what}");
            assert_eq!(
                connected.starts_with('\u{feff}'),
                variant.contains("BOM"),
                "{what}"
            );
            if newline == "\r\n" {
                assert_eq!(
                    connected.matches('\n').count(),
                    connected.matches("\r\n").count(),
                    "{what}: a bare LF was written"
                );
            }
            assert!(
                connected.contains(&format!("{newline}{indent}\"passport-github-mcp\": {{")),
                "{what}: {connected}"
            );
            let without_ours = {
                let mut v = value.clone();
                let servers = v[container].as_object_mut().unwrap();
                servers.retain(|k, _| !k.starts_with("passport-"));
                v
            };
            assert_eq!(without_ours, jsonedit::parse(&original).unwrap(), "{what}");

            // Disconnecting gives back the original bytes.
            disconnect(*kind, Some(&path), &home.keys).unwrap();
            assert_eq!(read(&path), original, "{what}");

            // Connect again, let the user add a server and comments around
            // ours: disconnect removes ours only.
            home.connect(*kind, &path);
            let (edited, above, mine) = user_edit(&read(&path), indent, newline);
            std::fs::write(&path, &edited).unwrap();
            disconnect(*kind, Some(&path), &home.keys).unwrap();
            let after = read(&path);
            assert!(after.contains(above.trim_end()), "{what}: {after}");
            assert!(after.contains(&mine), "{what}: {after}");
            assert!(!after.contains("passport-"), "{what}: {after}");
            // And removing the user's own addition gives the original.
            let restored = after.replacen(&above, "", 1).replacen(&mine, "", 1);
            let reparsed: Value = jsonedit::parse(&restored).unwrap_or(Value::Null);
            assert_eq!(
                reparsed,
                jsonedit::parse(&original).unwrap(),
                "{what}: {after}"
            );
        }
    }
}

#[test]
fn a_file_that_is_not_json_is_named_with_its_line_and_left_untouched() {
    let home = Home::new();
    let broken = "{\n  \"mcpServers\": {\n    \"a\": 1\n    \"b\": 2\n  }\n}\n";
    let path = home.config(broken);
    let granted = ["github-mcp".to_string()];
    let request = Request {
        kind: ClientKind::Cursor,
        config: Some(&path),
        granted: &granted,
        wanted: &[],
        port: 8755,
        exe: "mcp-passport",
    };
    let e = connect(&request, &home.keys).unwrap_err();
    assert!(e.message.contains(&path.display().to_string()), "{e}");
    assert!(e.message.contains("line 3"), "{e}");
    assert_eq!(read(&path), broken);
    let e = disconnect(ClientKind::Cursor, Some(&path), &home.keys).unwrap_err();
    assert!(e.message.contains("line 3"), "{e}");
    assert_eq!(read(&path), broken);
    assert!(home.keys.list().is_empty(), "no key minted");
}

#[test]
fn a_servers_object_we_created_is_left_empty_and_one_the_user_had_stays() {
    for original in [
        "{\n  \"theme\": \"dark\"\n}\n",
        "{\n  \"theme\": \"dark\",\n  \"context_servers\": {}\n}\n",
        "{\"context_servers\": {}, \"theme\": \"dark\"}",
        "",
    ] {
        let home = Home::new();
        let path = home.config(original);
        home.connect(ClientKind::Zed, &path);
        disconnect(ClientKind::Zed, Some(&path), &home.keys).unwrap();
        let after = read(&path);
        if original.contains("context_servers") {
            assert_eq!(after, original);
        } else {
            // Ours stays as `{}`: the file is the original plus that member.
            let v = jsonedit::parse(&after).unwrap();
            assert_eq!(v["context_servers"], serde_json::json!({}), "{after}");
            let mut chars = after.chars();
            assert!(
                original.chars().all(|c| chars.any(|d| d == c)),
                "every byte of {original:?} is kept in {after:?}"
            );
            // Connecting again and disconnecting gives exactly that.
            home.connect(ClientKind::Zed, &path);
            disconnect(ClientKind::Zed, Some(&path), &home.keys).unwrap();
            assert_eq!(read(&path), after);
        }
    }
}
