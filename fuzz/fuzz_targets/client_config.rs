//! A client's config file as the user may have left it (any text):
//! connecting either refuses it with a clean error or writes a file that
//! parses and holds our entries, and disconnecting turns that file back
//! into the original bytes (with an empty servers object when connecting
//! had to add one, and without entries of ours the file already had).
#![no_main]

use libfuzzer_sys::fuzz_target;
use passport_connect::jsonedit::{Node, parse, remove_prefixed, set_members, with_container};
use serde_json::json;

const SERVERS: &str = "mcpServers";
const PREFIX: &str = "passport-";

fn items() -> Vec<(String, Node)> {
    ["github-mcp", "slack-mcp"]
        .iter()
        .map(|id| {
            let node = Node::Object(vec![
                (
                    "url".into(),
                    Node::Json(json!(format!("http://127.0.0.1:8755/v1/mcp/{id}"))),
                ),
                (
                    "headers".into(),
                    Node::Json(json!({"Authorization": "Bearer k"})),
                ),
            ]);
            (format!("{PREFIX}{id}"), node)
        })
        .collect()
}

/// Whether `small`'s characters all appear in `big`, in order.
fn kept_in(small: &str, big: &str) -> bool {
    let mut big = big.chars();
    small.chars().all(|c| big.any(|d| d == c))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let connected = match set_members(text, SERVERS, PREFIX, &items()) {
        Ok(connected) => connected,
        Err(e) => {
            assert!(!e.0.chars().any(char::is_control), "{e}");
            return;
        }
    };
    let value = parse(&connected).expect("the connected file parses");
    let servers = &value[SERVERS];
    assert_eq!(
        servers["passport-github-mcp"]["url"],
        "http://127.0.0.1:8755/v1/mcp/github-mcp"
    );
    assert_eq!(
        servers["passport-slack-mcp"]["headers"]["Authorization"],
        "Bearer k"
    );
    let back = remove_prefixed(&connected, SERVERS, PREFIX).expect("disconnecting works");
    let before = remove_prefixed(text, SERVERS, PREFIX).expect("the original had ours removed");
    let expected = with_container(&before, SERVERS).expect("the servers object can be added");
    assert_eq!(back, expected, "connect then disconnect of {text:?}");
    assert!(kept_in(&before, &back), "bytes lost from {text:?}");
    if before == text && parse(text).expect("parsed").get(SERVERS).is_some() {
        assert_eq!(back, text);
    }
    // Connecting again gives the same file.
    let again = set_members(&connected, SERVERS, PREFIX, &items()).expect("connect again");
    assert_eq!(again, connected);
});
