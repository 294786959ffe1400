//! Edits of JSON (and JSON-with-comments) client config files that keep
//! every byte that is not ours.
//!
//! Client config files belong to the user: their own entries in their own
//! order, comments (Zed's `settings.json`, VS Code's `mcp.json`), trailing
//! commas, a byte order mark, CRLF line breaks. Parsing them into a
//! `serde_json::Value` and writing it back would lose all of that. Instead
//! `jsonc-parser` checks the whole file and says where the object holding
//! the servers is; only that object is read into the library's concrete
//! syntax tree, which holds every token, blank and comment, and rewritten
//! piece by piece (`pieces`). Every byte outside it stays as it was, and the
//! tree of a large file (Claude Code's `~/.claude.json` keeps history) is
//! never built.
//!
//! The library's own `append` and `remove` are not used: they reformat
//! neighbouring text (an object on one line is spread over several, blank
//! lines at its ends are dropped, a comment on a removed member's line goes
//! with it). Instead `members` decides which pieces are ours, and adding is
//! checked before anything is written: taking our members out of the new
//! text must give back the old one exactly.

mod doc;
mod members;
mod pieces;

use doc::{Doc, pieces_at};
use jsonc_parser::common::Range;
use jsonc_parser::{ParseOptions, parse_to_serde_value};
use members::Layout;
use pieces::{Kind, join, object_pieces};
use serde_json::Value;

/// The UTF-8 byte order mark some editors write first; kept as it is.
const BOM: &str = "\u{feff}";

/// Why a file could not be edited.
#[derive(Debug)]
pub struct EditError(pub String);

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, EditError> {
    Err(EditError(message.into()))
}

/// A value to write, with its object keys in the order given.
#[derive(Debug, Clone)]
pub enum Node {
    /// Any JSON value (nested objects are written in serde_json's order).
    Json(Value),
    /// An object whose members are written in this order.
    Object(Vec<(String, Node)>),
}

/// JSON with comments and trailing commas, as MCP clients accept it; the
/// JSON5 extensions (single quotes, bare keys, hex numbers...) are refused.
fn options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Parses the text (comments and trailing commas allowed) into a value; a
/// file without a value (empty, or only comments) is `{}`.
pub fn parse(text: &str) -> Result<Value, EditError> {
    let doc = Doc::open(text, None)?;
    let value: Option<Value> = parse_to_serde_value(doc.body, &options())
        .or_else(|e| err(format!("not valid JSON: {e}")))?;
    Ok(value.unwrap_or_else(|| Value::Object(serde_json::Map::new())))
}

/// The text with every member of the top-level object `name` (or, for a
/// dotted name such as `mcp.servers`, the nested one) whose key starts
/// with `prefix` removed; every other byte is kept.
pub fn remove_prefixed(text: &str, name: &str, prefix: &str) -> Result<String, EditError> {
    remove_where(text, name, prefix, &|key| key.starts_with(prefix))
}

/// The text with the members of the top-level object `name` whose keys
/// are in `keys` removed; every other byte is kept.
pub fn remove_members(text: &str, name: &str, keys: &[String]) -> Result<String, EditError> {
    remove_where(text, name, &keys.join("\", \""), &|key| {
        keys.iter().any(|k| k == key)
    })
}

/// The text with the members of `name` whose key `matches` removed;
/// `what` names them in the error.
fn remove_where(
    text: &str,
    name: &str,
    what: &str,
    matches: &dyn Fn(&str) -> bool,
) -> Result<String, EditError> {
    let doc = Doc::open(text, Some(name))?;
    let Some((range, _)) = doc.container else {
        return Ok(text.to_string());
    };
    let mut inside = pieces_at(&doc, range)?;
    let mut changed = false;
    while let Some(i) = inside
        .iter()
        .position(|p| matches!(&p.kind, Kind::Member(Some(key)) if matches(key)))
    {
        let text = join(&members::removed(&inside, i));
        inside = object_pieces(&text).map_or_else(|| broken(name, what), Ok)?;
        changed = true;
    }
    if !changed {
        return Ok(text.to_string());
    }
    let new = doc.splice(range, &join(&inside));
    Doc::open(&new, Some(name)).or_else(|_| broken(name, what))?;
    Ok(new)
}

fn broken<T>(name: &str, what: &str) -> Result<T, EditError> {
    err(format!(
        "removing an entry from \"{name}\" would break the file; \
         remove the \"{what}\" entries by hand"
    ))
}

/// The text with a top-level object `name` (empty) when it had none, and a
/// top-level object when the file had no value at all.
pub fn with_container(text: &str, name: &str) -> Result<String, EditError> {
    let doc = Doc::open(text, Some(name))?;
    let Some(top) = doc.top else {
        let nl = doc.newline();
        let sep = if text.is_empty() || text.ends_with('\n') || text.ends_with('\r') {
            ""
        } else {
            nl
        };
        let text = format!("{text}{sep}{{}}{nl}");
        return with_container(&text, name);
    };
    if doc.container.is_some() {
        return Ok(text.to_string());
    }
    // A nested container goes into its parent, made first when missing.
    if let Some((parent, key)) = name.rsplit_once('.') {
        let text = with_container(text, parent)?;
        let doc = Doc::open(&text, Some(parent))?;
        let Some((object, member)) = doc.container else {
            return err(format!("\"{parent}\" could not be added"));
        };
        return add_empty(&doc, object, doc.line_indent(member.start), key, name);
    }
    add_empty(&doc, top, doc.line_indent(top.start), name, name)
}

/// The text with an empty object `key` added to the object in `range`,
/// whose line is indented by `base`; checked by finding `name` after.
fn add_empty(
    doc: &Doc,
    range: Range,
    base: &str,
    key: &str,
    name: &str,
) -> Result<String, EditError> {
    let unit = doc.unit();
    let layout = Layout {
        newline: doc.newline(),
        unit: &unit,
        base,
    };
    let items = [(key.to_string(), Node::Object(Vec::new()))];
    for candidate in members::appended(&pieces_at(doc, range)?, &items, &layout) {
        let new = doc.splice(range, &join(&candidate));
        if Doc::open(&new, Some(name)).is_ok_and(|d| d.container.is_some()) {
            return Ok(new);
        }
    }
    err(format!(
        "cannot add \"{key}\" to the file; add \"{key}\": {{}} by hand"
    ))
}

/// The text with every member of `name` whose key starts with `prefix`
/// replaced by `items` (whose keys start with `prefix`), added at the end of
/// `name` (created when missing). Checked before it is returned: removing
/// the prefixed members from the result gives back the text the items were
/// added to, byte for byte.
pub fn set_members(
    text: &str,
    name: &str,
    prefix: &str,
    items: &[(String, Node)],
) -> Result<String, EditError> {
    // A file the JSON reader refuses is refused here too, before any edit
    // (serde_json reserves a key, "$serde_json::private::RawValue", that
    // the syntax tree accepts).
    parse(text)?;
    let stripped = remove_prefixed(text, name, prefix)?;
    let base_text = with_container(&stripped, name)?;
    if items.is_empty() {
        return Ok(base_text);
    }
    let doc = Doc::open(&base_text, Some(name))?;
    let Some((range, member)) = doc.container else {
        return err(format!("\"{name}\" could not be added"));
    };
    let unit = doc.unit();
    let layout = Layout {
        newline: doc.newline(),
        unit: &unit,
        base: doc.line_indent(member.start),
    };
    for candidate in members::appended(&pieces_at(&doc, range)?, items, &layout) {
        let new = doc.splice(range, &join(&candidate));
        if remove_prefixed(&new, name, prefix).ok().as_deref() == Some(base_text.as_str()) {
            return Ok(new);
        }
    }
    err(format!(
        "cannot add entries to \"{name}\" without changing the rest of the file; \
         write \"{name}\" as {{}} or with one member per line"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_the_json_reader_refuses_is_refused_before_any_edit() {
        // Found by the client_config fuzz target.
        let text = "{\"figmamcpSe\u{15}ers\": {\"$serde_json::private::RawValue\": 1}}";
        assert!(parse(text).is_err());
        let items = vec![("passport-a".to_string(), Node::Json(Value::from("x")))];
        let refused = set_members(text, "mcpServers", "passport-", &items);
        assert!(refused.is_err(), "{refused:?}");
    }

    fn item(key: &str) -> (String, Node) {
        (
            key.to_string(),
            Node::Object(vec![("url".into(), Node::Json("u".into()))]),
        )
    }

    #[test]
    fn adding_then_removing_restores_the_text_exactly() {
        let text = "{\n  \"z\": 1,\n  \"s\": {\n    \"b\": {},\n    \"a\": 2\n  }\n}\n";
        let added = set_members(text, "s", "passport-", &[item("passport-x")]).unwrap();
        assert!(added.contains("    \"passport-x\": {\n      \"url\": \"u\"\n    }\n  }"));
        assert_eq!(remove_prefixed(&added, "s", "passport-").unwrap(), text);
    }

    #[test]
    fn a_missing_file_gets_an_object_and_the_container() {
        let items = vec![("passport-x".to_string(), Node::Json(Value::from(1)))];
        let out = set_members("", "s", "passport-", &items).unwrap();
        assert_eq!(out, "{\n  \"s\": {\n    \"passport-x\": 1\n  }\n}\n");
        let out = set_members("{\"a\": 1}", "s", "passport-", &items).unwrap();
        let v = parse(&out).unwrap();
        assert_eq!(v["s"]["passport-x"], 1);
        assert_eq!(v["a"], 1);
    }

    #[test]
    fn a_file_of_only_comments_keeps_them_and_gets_an_object() {
        let items = vec![("passport-x".to_string(), Node::Json(Value::from(1)))];
        let out = set_members("// settings\n", "s", "passport-", &items).unwrap();
        assert!(out.starts_with("// settings\n{\n"), "{out}");
        assert_eq!(parse(&out).unwrap()["s"]["passport-x"], 1);
        assert_eq!(
            remove_prefixed("// only\n", "s", "passport-").unwrap(),
            "// only\n"
        );
    }

    #[test]
    fn invalid_text_is_refused_with_its_line() {
        let e = parse("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert!(e.0.contains("line 3"), "{e}");
        let e = set_members("{\"s\": []}", "s", "p-", &[item("p-x")]).unwrap_err();
        assert!(e.0.contains("\"s\" is not a JSON object"), "{e}");
        let e = set_members("{'s': {}}", "s", "p-", &[item("p-x")]).unwrap_err();
        assert!(e.0.contains("line 1"), "{e}");
    }

    #[test]
    fn layouts_the_library_would_reformat_round_trip_exactly() {
        for text in [
            "{\"s\": {\"a\": 1}}",
            "{\n  \"s\": {\n\n    \"a\": 1\n\n  }\n}",
            "{\n  \"s\": {\n  }\n}\n",
            "{\n  \"s\": { /* none yet */ }\n}",
            "\u{feff}{\r\n  \"s\": {}\r\n}",
        ] {
            let added = set_members(text, "s", "p-", &[item("p-x")]).unwrap();
            assert_eq!(remove_prefixed(&added, "s", "p-").unwrap(), text, "{added}");
        }
    }

    #[test]
    fn a_comment_ending_the_line_before_ours_does_not_swallow_the_brace() {
        let text = "{\"s\": {\"a\": 1, // mine\n  \"p-x\": 1}}";
        let out = remove_prefixed(text, "s", "p-").unwrap();
        assert_eq!(out, "{\"s\": {\"a\": 1 // mine\n  }}");
    }

    #[test]
    fn parsing_accepts_any_repeated_key() {
        assert_eq!(parse("{\"\": 1, \"\": 2}").unwrap()[""], 2);
    }

    #[test]
    fn a_dotted_name_edits_the_nested_object_and_round_trips() {
        let text = "{\n  \"mcp\": {\n    \"servers\": {\n      \"a\": 1\n    }\n  }\n}\n";
        let added = set_members(text, "mcp.servers", "p-", &[item("p-x")]).unwrap();
        assert_eq!(parse(&added).unwrap()["mcp"]["servers"]["p-x"]["url"], "u");
        assert!(
            added.contains("\n      \"p-x\": {\n        \"url\": \"u\"\n      }\n    }"),
            "{added}"
        );
        assert_eq!(remove_prefixed(&added, "mcp.servers", "p-").unwrap(), text);
        for text in [
            "",
            "{}",
            "{\"mcp\": {}}",
            "{\n  \"mcp\": {\n    \"a\": 1\n  }\n}",
        ] {
            let added = set_members(text, "mcp.servers", "p-", &[item("p-x")]).unwrap();
            let v = parse(&added).unwrap();
            assert_eq!(v["mcp"]["servers"]["p-x"]["url"], "u", "{added}");
        }
        let e = set_members("{\"mcp\": []}", "mcp.servers", "p-", &[item("p-x")]).unwrap_err();
        assert!(e.0.contains("\"mcp\" is not a JSON object"), "{e}");
    }

    #[test]
    fn a_servers_object_written_twice_is_refused() {
        let e = set_members("{\"s\": {}, \"s\": {}}", "s", "p-", &[item("p-x")]).unwrap_err();
        assert!(e.0.contains("more than once"), "{e}");
    }
}
