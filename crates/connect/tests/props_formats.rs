//! Property tests for the TOML and YAML editors: for random files (keys,
//! nested blocks, comments and blank lines in random places, the servers'
//! container present or not, LF or CRLF, with or without a final line
//! break), connecting inserts our entries as one run of text and changes no
//! other byte, a real parser reads the result as the original plus our
//! entries, and disconnecting gives back the original bytes, also after the
//! user has added a key of their own.
#![allow(clippy::unwrap_used, missing_docs)]

use passport_connect::{Rendered, tomledit, yamledit};
use proptest::prelude::*;
use serde_json::{Value, json};

const PREFIX: &str = "passport-";

fn items(ids: &[String], headers: &'static str) -> Vec<Rendered> {
    ids.iter()
        .map(|id| {
            (
                format!("{PREFIX}{id}"),
                vec![
                    ("type", json!("streamable_http")),
                    ("uri", json!(format!("http://127.0.0.1:8755/v1/mcp/{id}"))),
                    ("envs", json!({})),
                    (headers, json!({"Authorization": "Bearer mpk_a_b"})),
                    ("timeout", json!(300)),
                ],
            )
        })
        .collect()
}

fn ids() -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set("[a-z][a-z0-9-]{0,8}", 1..4).prop_map(|s| s.into_iter().collect())
}

/// `new` is `old` with one run of text inserted (and nothing else changed).
fn one_insertion(old: &str, new: &str) -> bool {
    let p = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let added = new.len().saturating_sub(old.len());
    new.len() >= old.len() && new.get(p + added..) == old.get(p..)
}

fn ours(value: &Value, container: &str) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(c) = value.get(container).and_then(Value::as_object) {
        for (k, v) in c.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn theirs(mut value: Value, container: &str) -> Value {
    if let Some(top) = value.as_object_mut() {
        if let Some(Value::Object(c)) = top.get_mut(container) {
            c.retain(|k, _| !k.starts_with(PREFIX));
        }
        if top
            .get(container)
            .is_some_and(|c| c.is_null() || c.as_object().is_some_and(|o| o.is_empty()))
        {
            top.remove(container);
        }
    }
    value
}

fn expected(items: &[Rendered]) -> Value {
    Value::Object(
        items
            .iter()
            .map(|(k, fields)| {
                let v: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|(f, v)| ((*f).to_string(), v.clone()))
                    .collect();
                (k.clone(), Value::Object(v))
            })
            .collect(),
    )
}

// ---- YAML (Goose's config.yaml) ----

fn yaml_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_string()),
        Just("true".to_string()),
        Just("\"a # not a comment\"".to_string()),
        Just("'extensions: no'".to_string()),
        Just("plain text".to_string()),
        Just("[a, b]".to_string()),
        Just("{}".to_string()),
        Just("~".to_string()),
    ]
}

fn yaml_comment(indent: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("# a note".to_string()),
        Just("#   passport-x: {}".to_string()),
        Just("# ünïcödé ✓".to_string()),
    ]
    .prop_map(move |c| format!("{}{c}", " ".repeat(indent)))
}

/// One user entry of the container, as lines (without line breaks).
fn yaml_entry(n: usize, unit: usize) -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::vec(yaml_scalar(), 1..4),
        prop::option::weighted(0.3, yaml_comment(unit * 2)),
        prop::bool::weighted(0.3),
    )
        .prop_map(move |(values, comment, nested)| {
            let pad = " ".repeat(unit);
            let mut lines = vec![format!("{pad}user{n}:")];
            for (i, v) in values.into_iter().enumerate() {
                lines.push(format!("{pad}{pad}f{i}: {v}"));
            }
            if let Some(c) = comment {
                lines.push(c);
            }
            if nested {
                lines.push(format!("{pad}{pad}headers:"));
                lines.push(format!("{pad}{pad}{pad}X-A: \"1\""));
            }
            lines
        })
}

/// Lines between entries or top-level keys: blank, or comments.
fn yaml_gap(indent: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![Just(String::new()), yaml_comment(0), yaml_comment(indent),],
        0..2,
    )
}

fn yaml_container() -> impl Strategy<Value = Vec<String>> {
    (prop::sample::select(vec![2usize, 4]), 0usize..4).prop_flat_map(|(unit, count)| {
        let entries: Vec<_> = (0..count)
            .map(|n| (yaml_gap(unit), yaml_entry(n, unit)))
            .collect();
        (
            Just(count),
            entries,
            prop::option::weighted(0.3, yaml_comment(0)),
        )
            .prop_map(|(count, entries, after)| {
                let mut lines = vec![if count == 0 {
                    // A key we did not write and that has no entries yet.
                    "extensions: # mine".to_string()
                } else {
                    "extensions:".to_string()
                }];
                for (gap, entry) in entries {
                    lines.extend(gap);
                    lines.extend(entry);
                }
                lines.extend(after);
                lines
            })
    })
}

fn yaml_top(n: usize) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        yaml_scalar().prop_map(move |v| vec![format!("KEY_{n}: {v}")]),
        Just(vec![
            format!("nested_{n}:"),
            "  a: 1".into(),
            "  b:".into(),
            "    - x".into()
        ]),
        yaml_comment(0).prop_map(|c| vec![c]),
        Just(vec![String::new()]),
    ]
}

#[derive(Debug, Clone)]
struct YamlFile {
    lines: Vec<String>,
    crlf: bool,
    final_break: bool,
}

impl YamlFile {
    fn render(&self) -> String {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let mut text = self.lines.join(nl);
        if self.final_break && !self.lines.is_empty() {
            text.push_str(nl);
        }
        text
    }
}

fn yaml_file() -> impl Strategy<Value = YamlFile> {
    (
        (0usize..4).prop_flat_map(|c| (0..c).map(yaml_top).collect::<Vec<_>>()),
        prop::option::weighted(0.7, yaml_container()),
        (0usize..3).prop_flat_map(|c| (1000..1000 + c).map(yaml_top).collect::<Vec<_>>()),
        prop::bool::ANY,
        prop::bool::weighted(0.8),
        prop::bool::ANY,
    )
        .prop_map(|(before, container, after, doc_start, final_break, crlf)| {
            let mut lines: Vec<String> = Vec::new();
            if doc_start {
                lines.push("---".into());
            }
            lines.extend(before.into_iter().flatten());
            lines.extend(container.into_iter().flatten());
            lines.extend(after.into_iter().flatten());
            YamlFile {
                lines,
                crlf,
                final_break,
            }
        })
}

fn yaml_value(text: &str) -> Value {
    match serde_norway::from_str::<Value>(text).unwrap() {
        Value::Null => json!({}),
        v => v,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Connect inserts one run of text, which a YAML reader reads as the
    /// original plus our entries; disconnect gives back the original, also
    /// after the user added a key at the end of the file.
    #[test]
    fn yaml_connect_then_disconnect_gives_back_the_original(file in yaml_file(), ids in ids()) {
        let original = file.render();
        let items = items(&ids, "headers");
        let new = match yamledit::set_members(&original, "extensions", PREFIX, &items) {
            Ok(new) => new,
            // The one refusal the generator can reach: the file ends in an
            // empty `extensions:` line without a break.
            Err(e) => {
                prop_assert!(!file.final_break, "{e}: {original:?}");
                return Ok(());
            }
        };
        prop_assert!(one_insertion(&original, &new), "{original:?}\n{new:?}");
        let read = yaml_value(&new);
        prop_assert_eq!(ours(&read, "extensions"), expected(&items));
        prop_assert_eq!(theirs(read, "extensions"), theirs(yaml_value(&original), "extensions"));
        prop_assert_eq!(&yamledit::remove_prefixed(&new, "extensions", PREFIX).unwrap(), &original);
        // Connecting again replaces ours with the same text.
        prop_assert_eq!(&yamledit::set_members(&new, "extensions", PREFIX, &items).unwrap(), &new);

        let nl = if file.crlf { "\r\n" } else { "\n" };
        if new.ends_with(nl) {
            let edited = format!("{new}zz_mine: 1{nl}");
            prop_assert_eq!(
                yamledit::remove_prefixed(&edited, "extensions", PREFIX).unwrap(),
                format!("{original}zz_mine: 1{nl}")
            );
        }
    }
}

// ---- TOML (Codex's config.toml) ----

fn toml_value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_string()),
        Just("\"text # not a comment\"".to_string()),
        Just("true".to_string()),
        Just("[1, 2]".to_string()),
        Just("{ a = \"b\" }".to_string()),
        Just("'''\nmulti\n'''".to_string()),
    ]
}

fn toml_comment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("# a note".to_string()),
        Just("# [mcp_servers.passport-x]".to_string()),
        Just("   # indented".to_string()),
    ]
}

/// A line of a table's body.
#[derive(Debug, Clone)]
enum TomlLine {
    Value(String),
    Comment(String),
    Blank,
}

fn toml_lines(n: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            toml_value_text().prop_map(TomlLine::Value),
            toml_comment().prop_map(TomlLine::Comment),
            Just(TomlLine::Blank),
        ],
        0..4,
    )
    .prop_map(move |lines| {
        lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| match l {
                TomlLine::Value(v) => format!("k{n}_{i} = {v}"),
                TomlLine::Comment(c) => c,
                TomlLine::Blank => String::new(),
            })
            .collect()
    })
}

fn toml_table(n: usize) -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::select(vec![
            "mcp_servers.user".to_string(),
            "mcp_servers".to_string(),
            "profiles.p".to_string(),
            "tui".to_string(),
        ]),
        toml_lines(n),
    )
        .prop_map(move |(name, body)| {
            let header = if name == "mcp_servers" {
                name
            } else {
                format!("{name}{n}")
            };
            let mut lines = vec![format!("[{header}]")];
            lines.extend(body);
            lines
        })
}

#[derive(Debug, Clone)]
struct TomlFile {
    lines: Vec<String>,
    crlf: bool,
    final_break: bool,
}

fn toml_file() -> impl Strategy<Value = TomlFile> {
    (
        toml_lines(0),
        prop::collection::vec(1usize..1000, 0..4)
            .prop_flat_map(|ns| ns.into_iter().map(toml_table).collect::<Vec<_>>()),
        prop::bool::ANY,
        prop::bool::weighted(0.8),
    )
        .prop_map(|(root, tables, crlf, final_break)| {
            let mut lines = root;
            let mut seen_servers = false;
            for t in tables {
                // One explicit [mcp_servers] at most, before its sub-tables.
                if t[0] == "[mcp_servers]" {
                    if seen_servers || lines.iter().any(|l| l.starts_with("[mcp_servers.")) {
                        continue;
                    }
                    seen_servers = true;
                }
                lines.extend(t);
            }
            TomlFile {
                lines,
                crlf,
                final_break,
            }
        })
}

impl TomlFile {
    fn render(&self) -> String {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let lines: Vec<String> = self.lines.iter().map(|l| l.replace('\n', nl)).collect();
        let mut text = lines.join(nl);
        if self.final_break && !self.lines.is_empty() {
            text.push_str(nl);
        }
        text
    }
}

fn toml_json(text: &str) -> Value {
    serde_json::to_value(toml::from_str::<toml::Table>(text).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The same for TOML: our tables come out byte for byte, and a TOML
    /// reader reads the result as the original plus our tables.
    #[test]
    fn toml_connect_then_disconnect_gives_back_the_original(file in toml_file(), ids in ids()) {
        let original = file.render();
        prop_assume!(toml::from_str::<toml::Table>(&original).is_ok());
        let items = items(&ids, "http_headers");
        let new = tomledit::set_members(&original, "mcp_servers", PREFIX, &items).unwrap();
        let read = toml_json(&new);
        prop_assert_eq!(ours(&read, "mcp_servers"), expected(&items));
        prop_assert_eq!(theirs(read, "mcp_servers"), theirs(toml_json(&original), "mcp_servers"));
        prop_assert_eq!(&tomledit::remove_prefixed(&new, "mcp_servers", PREFIX).unwrap(), &original);
        prop_assert_eq!(&tomledit::set_members(&new, "mcp_servers", PREFIX, &items).unwrap(), &new);
        if file.final_break {
            prop_assert!(one_insertion(&original, &new), "{original:?}\n{new:?}");
            // The user adds a table of their own after ours, in the file's breaks.
            let nl = if new.contains("\r\n") { "\r\n" } else { "\n" };
            let mine = format!("[mcp_servers.zz_mine]{nl}url = \"https://example.com\"{nl}");
            prop_assert_eq!(
                tomledit::remove_prefixed(&format!("{new}{mine}"), "mcp_servers", PREFIX).unwrap(),
                format!("{original}{mine}")
            );
        }
    }
}

// ---- Any text ----

/// Lines from a YAML-ish alphabet: keys, indentation, comments, quotes,
/// flow brackets, document markers, tabs and CRs.
fn yamlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("extensions:".to_string()),
        Just("extensions: {}".to_string()),
        Just("  passport-a:".to_string()),
        Just("    uri: x".to_string()),
        Just("  dev:".to_string()),
        Just("---".to_string()),
        "[ a-z:#'\"{}\\[\\],|>&*!\t\r-]{0,12}",
    ];
    (prop::collection::vec(line, 0..8), prop::bool::ANY).prop_map(|(lines, end)| {
        let mut text = lines.join("\n");
        if end {
            text.push('\n');
        }
        text
    })
}

fn tomlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[mcp_servers]".to_string()),
        Just("[mcp_servers.passport-a]".to_string()),
        Just("[mcp_servers.x]".to_string()),
        Just("mcp_servers.y.url = 'u'".to_string()),
        Just("url = \"u\"".to_string()),
        "[ a-z=#'\"{}\\[\\],.\t\r-]{0,12}",
    ];
    (prop::collection::vec(line, 0..8), prop::bool::ANY).prop_map(|(lines, end)| {
        let mut text = lines.join("\n");
        if end {
            text.push('\n');
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Any text is either refused, or connected so that a reader sees the
    /// user's part unchanged plus exactly our entries, connecting again
    /// changes nothing, and disconnecting leaves what the user had.
    #[test]
    fn any_yaml_text_is_refused_or_edited_soundly(text in yamlish()) {
        let items = items(&["a".to_string(), "b".to_string()], "headers");
        let Ok(new) = yamledit::set_members(&text, "extensions", PREFIX, &items) else {
            return Ok(());
        };
        let read = yaml_value(&new);
        prop_assert_eq!(ours(&read, "extensions"), expected(&items));
        prop_assert_eq!(theirs(read, "extensions"), theirs(yaml_value(&text), "extensions"));
        prop_assert_eq!(&yamledit::set_members(&new, "extensions", PREFIX, &items).unwrap(), &new);
        let back = yamledit::remove_prefixed(&new, "extensions", PREFIX).unwrap();
        prop_assert_eq!(theirs(yaml_value(&back), "extensions"), theirs(yaml_value(&text), "extensions"));
        prop_assert_eq!(ours(&yaml_value(&back), "extensions"), json!({}));
    }

    #[test]
    fn any_toml_text_is_refused_or_edited_soundly(text in tomlish()) {
        let items = items(&["a".to_string(), "b".to_string()], "http_headers");
        let Ok(new) = tomledit::set_members(&text, "mcp_servers", PREFIX, &items) else {
            return Ok(());
        };
        let read = toml_json(&new);
        prop_assert_eq!(ours(&read, "mcp_servers"), expected(&items));
        prop_assert_eq!(theirs(read, "mcp_servers"), theirs(toml_json(&text), "mcp_servers"));
        prop_assert_eq!(&tomledit::set_members(&new, "mcp_servers", PREFIX, &items).unwrap(), &new);
        let back = tomledit::remove_prefixed(&new, "mcp_servers", PREFIX).unwrap();
        prop_assert_eq!(&back, &tomledit::remove_prefixed(&text, "mcp_servers", PREFIX).unwrap());
    }
}
