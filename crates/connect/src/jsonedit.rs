//! Edits of JSON (and JSON-with-comments) client config files that keep
//! every byte that is not ours.
//!
//! Client config files belong to the user: their own entries in their own
//! order, comments (Zed's `settings.json`, VS Code's `mcp.json`), trailing
//! commas, a byte order mark, CRLF line breaks. Parsing them into a
//! `serde_json::Value` and writing it back would lose all of that, so the
//! file is read into the concrete syntax tree of `jsonc-parser`, which holds
//! every token, blank and comment, and only the one object holding the
//! servers is rewritten, piece by piece (`pieces`); everything else is
//! printed from the tree as it was read.
//!
//! The library's own `append` and `remove` are not used: they reformat
//! neighbouring text (an object on one line is spread over several, blank
//! lines at its ends are dropped, a comment on a removed member's line goes
//! with it). Instead `members` decides which pieces are ours, and adding is
//! checked before anything is written: taking our members out of the new
//! text must give back the old one exactly.

mod members;
mod pieces;

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstNewlineKind, CstObject, CstObjectProp, CstRootNode};
use members::Layout;
use pieces::{Kind, join, pieces, rewrite};
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

/// A parsed file: its byte order mark (or none) and its tree.
struct Doc {
    bom: &'static str,
    root: CstRootNode,
}

impl Doc {
    fn open(text: &str) -> Result<Self, EditError> {
        let (bom, body) = match text.strip_prefix(BOM) {
            Some(body) => (BOM, body),
            None => ("", text),
        };
        let root = match CstRootNode::parse(body, &options()) {
            Ok(root) => root,
            Err(e) => {
                return err(format!(
                    "not valid JSON: {} on line {}, column {}",
                    e.kind(),
                    e.line_display(),
                    e.column_display()
                ));
            }
        };
        if root.to_string() != body {
            return err("the file could not be read back exactly as written");
        }
        Ok(Self { bom, root })
    }

    /// The top-level object; `None` for a file without a value (empty, or
    /// only comments).
    fn top(&self) -> Result<Option<CstObject>, EditError> {
        match self.root.value() {
            None => Ok(None),
            Some(value) => match value.as_object() {
                Some(object) => Ok(Some(object)),
                None => err("the top level is not a JSON object"),
            },
        }
    }

    /// The file's line break (its first one; LF when it has none).
    fn newline(&self) -> &'static str {
        match self.root.newline_kind() {
            CstNewlineKind::LineFeed => "\n",
            CstNewlineKind::CarriageReturnLineFeed => "\r\n",
            CstNewlineKind::CarriageReturn => "\r",
        }
    }

    /// The file's indentation unit: the first top-level member's, else two spaces.
    fn unit(&self) -> String {
        self.root
            .single_indent_text()
            .filter(|unit| !unit.is_empty())
            .unwrap_or_else(|| "  ".into())
    }

    /// The text with the node at `path` replaced.
    fn rewrite(&self, path: &[usize], replacement: &str) -> String {
        format!("{}{}", self.bom, rewrite(&self.root, path, replacement))
    }
}

/// The top-level member `name` and its object value, if present.
fn container(top: &CstObject, name: &str) -> Result<Option<(CstObjectProp, CstObject)>, EditError> {
    let found: Vec<CstObjectProp> = top
        .properties()
        .into_iter()
        .filter(|p| p.decoded_name().as_deref() == Some(name))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [prop] => match prop.object_value() {
            Some(object) => Ok(Some((prop.clone(), object))),
            None => err(format!("\"{name}\" is not a JSON object")),
        },
        _ => err(format!("\"{name}\" appears more than once; keep one")),
    }
}

/// Child indexes from the root down to the container's object.
fn path(top: &CstObject, prop: &CstObjectProp, object: &CstObject) -> [usize; 3] {
    [top.child_index(), prop.child_index(), object.child_index()]
}

/// Parses the text (comments and trailing commas allowed) into a value; a
/// file without a value (empty, or only comments) is `{}`.
pub fn parse(text: &str) -> Result<Value, EditError> {
    let doc = Doc::open(text)?;
    Ok(match doc.top()? {
        None => Value::Object(serde_json::Map::new()),
        Some(top) => top
            .to_serde_value()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new())),
    })
}

/// The text with every member of the top-level object `name` whose key
/// starts with `prefix` removed; every other byte is kept.
pub fn remove_prefixed(text: &str, name: &str, prefix: &str) -> Result<String, EditError> {
    let mut current = text.to_string();
    let mut doc = Doc::open(text)?;
    loop {
        let Some(top) = doc.top()? else {
            return Ok(current);
        };
        let Some((prop, object)) = container(&top, name)? else {
            return Ok(current);
        };
        let inside = pieces(&object);
        let Some(i) = inside
            .iter()
            .position(|p| matches!(&p.kind, Kind::Member(Some(key)) if key.starts_with(prefix)))
        else {
            return Ok(current);
        };
        current = doc.rewrite(
            &path(&top, &prop, &object),
            &join(&members::removed(&inside, i)),
        );
        doc = Doc::open(&current).or_else(|_| {
            err(format!(
                "removing an entry from \"{name}\" would break the file; \
                 remove the \"{prefix}\" entries by hand"
            ))
        })?;
    }
}

/// The text with a top-level object `name` (empty) when it had none, and a
/// top-level object when the file had no value at all.
pub fn with_container(text: &str, name: &str) -> Result<String, EditError> {
    let doc = Doc::open(text)?;
    let Some(top) = doc.top()? else {
        let nl = doc.newline();
        let sep = if text.is_empty() || text.ends_with('\n') || text.ends_with('\r') {
            ""
        } else {
            nl
        };
        let text = format!("{text}{sep}{{}}{nl}");
        return with_container(&text, name);
    };
    if container(&top, name)?.is_some() {
        return Ok(text.to_string());
    }
    let unit = doc.unit();
    let base = doc
        .root
        .value()
        .and_then(|v| v.indent_text())
        .unwrap_or_default();
    let layout = Layout {
        newline: doc.newline(),
        unit: &unit,
        base: &base,
    };
    let items = [(name.to_string(), Node::Object(Vec::new()))];
    for candidate in members::appended(&pieces(&top), &items, &layout) {
        let new = doc.rewrite(&[top.child_index()], &join(&candidate));
        if let Ok(doc) = Doc::open(&new)
            && let Some(top) = doc.top()?
            && container(&top, name)?.is_some()
        {
            return Ok(new);
        }
    }
    err(format!(
        "cannot add \"{name}\" to the file; add \"{name}\": {{}} by hand"
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
    let stripped = remove_prefixed(text, name, prefix)?;
    let base_text = with_container(&stripped, name)?;
    if items.is_empty() {
        return Ok(base_text);
    }
    let doc = Doc::open(&base_text)?;
    let (top, prop, object) = match doc.top()? {
        Some(top) => match container(&top, name)? {
            Some((prop, object)) => (top, prop, object),
            None => return err(format!("\"{name}\" could not be added")),
        },
        None => return err("the file has no top-level object"),
    };
    let unit = doc.unit();
    let base = prop.indent_text().unwrap_or_default();
    let layout = Layout {
        newline: doc.newline(),
        unit: &unit,
        base: &base,
    };
    for candidate in members::appended(&pieces(&object), items, &layout) {
        let new = doc.rewrite(&path(&top, &prop, &object), &join(&candidate));
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
}
