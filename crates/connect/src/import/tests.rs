//! What import finds in each client's entries, and how it names them.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn kind_of(kind: ClientKind, entry: Value) -> Kind {
    classify(kind, "mine", &entry)
}

#[test]
fn every_clients_field_for_a_remote_server_is_read() {
    let remote = |u: &str| Kind::Remote(u.to_string());
    let cases = [
        (
            ClientKind::ClaudeCode,
            json!({"type": "http", "url": "https://a.example/mcp"}),
        ),
        (
            ClientKind::Cursor,
            json!({"url": "https://a.example/mcp", "headers": {"X": "y"}}),
        ),
        (
            ClientKind::Vscode,
            json!({"type": "http", "url": "https://a.example/mcp"}),
        ),
        (
            ClientKind::Windsurf,
            json!({"serverUrl": "https://a.example/mcp"}),
        ),
        (
            ClientKind::Gemini,
            json!({"httpUrl": "https://a.example/mcp"}),
        ),
        (ClientKind::Zed, json!({"uri": "https://a.example/mcp"})),
        (
            ClientKind::ClaudeDesktop,
            json!({"command": "npx", "args": ["-y", "mcp-remote", "https://a.example/mcp", "--header", "A: b"]}),
        ),
    ];
    for (kind, entry) in cases {
        assert_eq!(
            kind_of(kind, entry.clone()),
            remote("https://a.example/mcp"),
            "{entry}"
        );
    }
}

#[test]
fn sse_local_ours_and_the_broker_are_not_imported() {
    let sse = kind_of(ClientKind::Gemini, json!({"url": "https://a.example/sse"}));
    assert!(matches!(sse, Kind::Skip(r) if r.contains("SSE")));
    let sse = kind_of(
        ClientKind::ClaudeCode,
        json!({"type": "sse", "url": "https://a.example/sse"}),
    );
    assert!(matches!(sse, Kind::Skip(_)));
    assert!(matches!(
        kind_of(ClientKind::Cursor, json!({"url": "file:///etc/passwd"})),
        Kind::Skip(_)
    ));
    for keyed in [
        "https://a.example/mcp?api_key=fixture-secret",
        "https://user:fixture-secret@a.example/mcp",
    ] {
        let skip = kind_of(ClientKind::Cursor, json!({ "url": keyed }));
        assert!(
            matches!(&skip, Kind::Skip(r) if !r.contains("fixture-secret")),
            "{skip:?}"
        );
    }
    assert_eq!(
        kind_of(
            ClientKind::Cursor,
            json!({"command": "npx", "args": ["server"]})
        ),
        Kind::Other
    );
    assert_eq!(
        kind_of(
            ClientKind::Cursor,
            json!({"url": "http://127.0.0.1:8755/v1/mcp/github-mcp"})
        ),
        Kind::Other
    );
    assert_eq!(
        classify(
            ClientKind::Cursor,
            "passport-x",
            &json!({"url": "https://a.example/mcp"})
        ),
        Kind::Other
    );
}

#[test]
fn a_server_known_by_its_url_gets_a_readable_name_and_an_encoded_proxy_path() {
    let id = "http://127.0.0.1:4444/mcp";
    assert_eq!(crate::entry_name(id), "passport-127-0-0-1-4444-mcp");
    assert_eq!(
        crate::entry_name("github-mcp@work"),
        "passport-github-mcp-work"
    );
    let proxy = crate::proxy_url(8755, id);
    assert_eq!(
        proxy,
        "http://127.0.0.1:8755/v1/mcp/http%3A%2F%2F127.0.0.1%3A4444%2Fmcp"
    );
    assert_eq!(
        crate::proxy_url(8755, "github-mcp"),
        "http://127.0.0.1:8755/v1/mcp/github-mcp"
    );
    let text = json!({"mcpServers": {"passport-x": {"url": proxy}}}).to_string();
    assert_eq!(our_servers(ClientKind::Cursor, &text), vec![id.to_string()]);
}

#[test]
fn our_entries_name_their_servers_by_url_or_stdio_argument() {
    let text = r#"{"mcpServers": {
        "passport-a": {"url": "http://127.0.0.1:1/v1/mcp/github-mcp"},
        "passport-b": {"url": "http://127.0.0.1:1/v1/mcp/http%3A%2F%2Fh%3A1%2Fmcp"},
        "mine": {"url": "https://a.example/mcp"}}}"#;
    assert_eq!(
        our_servers(ClientKind::Cursor, text),
        vec!["github-mcp".to_string(), "http://h:1/mcp".to_string()]
    );
    let text =
        r#"{"mcpServers": {"passport-a": {"command": "x", "args": ["stdio", "slack-mcp"]}}}"#;
    assert_eq!(
        our_servers(ClientKind::ClaudeDesktop, text),
        vec!["slack-mcp".to_string()]
    );
}
