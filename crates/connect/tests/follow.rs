//! Detection of installed clients on a made-up home and `PATH`, and the
//! client states and following on real files and a real key file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use passport_broker::keys::Keys;
use passport_connect::detect::{Places, detect, installed};
use passport_connect::follow::{
    ClientState, Follow, Outcome, connect_recorded, disconnect_recorded, follow, state,
};
use passport_connect::record::Records;
use passport_connect::{ClientKind, Request};
use std::path::{Path, PathBuf};

fn program(path: &Path, executable: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn clients_are_found_by_their_folders_files_and_programs_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let config = home.join(".config");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    std::fs::create_dir_all(config.join("Code")).unwrap();
    std::fs::create_dir_all(home.join(".codeium/windsurf")).unwrap();
    program(&bin.join("cursor"), true);
    program(&bin.join("lms"), true);
    // Not a program: a file that cannot be run does not count.
    program(&bin.join("qwen"), false);
    // Zed by its settings file alone.
    std::fs::create_dir_all(config.join("zed")).unwrap();
    let places = Places {
        home: Some(home.clone()),
        config: Some(config.clone()),
        path: vec![bin.clone()],
    };
    let nowhere = |_: ClientKind| None::<PathBuf>;
    let found: Vec<&str> = detect(&places, nowhere)
        .iter()
        .map(|d| d.client.name())
        .collect();
    assert_eq!(
        found,
        ["cursor", "vscode", "windsurf", "zed", "gemini", "lm-studio"]
    );
    let evidence = installed(ClientKind::Cursor, None, &places).unwrap();
    assert!(evidence.contains("`cursor` on PATH"), "{evidence}");

    // Nothing at all: nothing found.
    let empty = Places {
        home: Some(dir.path().join("empty")),
        config: None,
        path: vec![],
    };
    assert!(detect(&empty, nowhere).is_empty());
    // A client's config file counts on its own.
    let file = dir.path().join("claude.json");
    std::fs::write(&file, "{}").unwrap();
    assert!(installed(ClientKind::ClaudeCode, Some(&file), &empty).is_some());
    assert!(installed(ClientKind::ClaudeCode, None, &empty).is_none());
}

struct Setup {
    _dir: tempfile::TempDir,
    keys: Keys,
    records: Records,
    cursor: PathBuf,
    zed: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("cursor.json");
    let zed = dir.path().join("zed.json");
    std::fs::write(&cursor, "{\n  // mine\n  \"mcpServers\": {}\n}\n").unwrap();
    std::fs::write(&zed, "{\n  \"theme\": \"One Dark\"\n}\n").unwrap();
    Setup {
        keys: Keys::open(dir.path().join("keys.json")).unwrap(),
        records: Records::in_home(dir.path()),
        cursor,
        zed,
        _dir: dir,
    }
}

fn request<'a>(
    kind: ClientKind,
    config: &'a Path,
    granted: &'a [String],
    wanted: &'a [String],
) -> Request<'a> {
    Request {
        kind,
        config: Some(config),
        granted,
        wanted,
        port: 8755,
        exe: "mcp-passport",
    }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn entries_follow_the_granted_servers_and_a_hand_edit_is_left_alone() {
    let s = setup();
    let all = ids(&["a", "b", "c"]);
    assert_eq!(
        state(ClientKind::Cursor, &s.cursor, true, &s.records),
        ClientState::NotConnected
    );
    assert_eq!(
        state(ClientKind::Cursor, &s.cursor, false, &s.records),
        ClientState::NotInstalled
    );
    connect_recorded(
        &request(ClientKind::Cursor, &s.cursor, &all, &[]),
        &s.keys,
        &s.records,
    )
    .unwrap();
    let chosen = ids(&["a", "b"]);
    connect_recorded(
        &request(ClientKind::Zed, &s.zed, &all, &chosen),
        &s.keys,
        &s.records,
    )
    .unwrap();
    assert_eq!(
        state(ClientKind::Cursor, &s.cursor, true, &s.records),
        ClientState::Connected {
            servers: all.clone()
        }
    );
    let (cursor_before, zed_before) = (
        std::fs::read_to_string(&s.cursor).unwrap(),
        std::fs::read_to_string(&s.zed).unwrap(),
    );

    // "b" revoked: both lose it, and only it.
    let granted = ids(&["a", "c"]);
    let f = Follow {
        granted: &granted,
        port: 8755,
        exe: "mcp-passport",
        keys: &s.keys,
        records: &s.records,
    };
    let out = follow(&f).unwrap();
    let removed_b = Outcome::Updated {
        added: vec![],
        removed: ids(&["b"]),
    };
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|o| o.outcome == removed_b), "{out:?}");
    let cursor_now = std::fs::read_to_string(&s.cursor).unwrap();
    assert!(!cursor_now.contains("passport-b"));
    assert!(cursor_now.contains("passport-a") && cursor_now.contains("passport-c"));
    // The key is kept: the remaining entries are the same bytes.
    let a_entry = |t: &str| {
        let at = t.find("\"passport-a\"").unwrap();
        t[at..at + t[at..].find('}').unwrap()].to_string()
    };
    assert_eq!(a_entry(&cursor_now), a_entry(&cursor_before));
    let zed_now = std::fs::read_to_string(&s.zed).unwrap();
    assert_eq!(a_entry(&zed_now), a_entry(&zed_before));
    assert!(!zed_now.contains("passport-b"));

    // "b" granted again: back for Cursor only (Zed chose its servers).
    let out = follow(&Follow { granted: &all, ..f }).unwrap();
    assert_eq!(
        out.iter().map(|o| o.outcome.clone()).collect::<Vec<_>>(),
        [
            Outcome::Updated {
                added: ids(&["b"]),
                removed: vec![]
            },
            Outcome::Unchanged
        ]
    );
    assert!(
        std::fs::read_to_string(&s.cursor)
            .unwrap()
            .contains("passport-b")
    );
    assert_eq!(std::fs::read_to_string(&s.zed).unwrap(), zed_now);

    // A hand edit: flagged, left alone, shown as such.
    let edited = std::fs::read_to_string(&s.zed)
        .unwrap()
        .replace("/v1/mcp/a\"", "/v1/mcp/a?x=1\"");
    std::fs::write(&s.zed, &edited).unwrap();
    assert_eq!(
        state(ClientKind::Zed, &s.zed, true, &s.records),
        ClientState::EditedByHand
    );
    let out = follow(&Follow {
        granted: &granted,
        ..f
    })
    .unwrap();
    assert_eq!(out[1].outcome, Outcome::EditedByHand);
    assert_eq!(std::fs::read_to_string(&s.zed).unwrap(), edited);
    let line = passport_connect::follow::describe(&out[1], true).unwrap();
    assert!(line.contains("mcp-passport connect zed"), "{line}");

    // Every server revoked: no entries, the record stays; one back, one entry.
    follow(&Follow { granted: &[], ..f }).unwrap();
    assert!(
        !std::fs::read_to_string(&s.cursor)
            .unwrap()
            .contains("passport-")
    );
    let out = follow(&Follow {
        granted: &granted,
        ..f
    })
    .unwrap();
    assert_eq!(
        out[0].outcome,
        Outcome::Updated {
            added: granted.clone(),
            removed: vec![]
        }
    );

    // Disconnect forgets the record.
    disconnect_recorded(ClientKind::Cursor, Some(&s.cursor), &s.keys, &s.records).unwrap();
    assert_eq!(s.records.list().unwrap().len(), 1);
    assert_eq!(
        std::fs::read_to_string(&s.cursor).unwrap(),
        "{\n  // mine\n  \"mcpServers\": {}\n}\n"
    );
}

#[test]
fn a_damaged_record_file_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clients.json"), "not json").unwrap();
    let e = Records::in_home(dir.path()).list().unwrap_err();
    assert!(e.message.contains("delete it"), "{e}");
}
