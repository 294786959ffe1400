//! Textual edits of JSON (and JSON-with-comments) config files.
//!
//! Client config files belong to the user: they carry their own entries in
//! their own order, sometimes comments (Zed's `settings.json`). Parsing them
//! into a `serde_json::Value` and writing it back would sort keys and drop
//! comments, so instead we locate byte spans and splice: every byte outside
//! the members we add or remove stays exactly as it was. serde_json is used
//! only to validate the file and to read values.

use serde_json::Value;

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

/// One member of an object: byte offsets into the text.
#[derive(Debug, Clone)]
struct Member {
    key: String,
    /// Offset of the key's opening quote.
    start: usize,
    /// Offset just past the value.
    value_end: usize,
    /// Offset of the value.
    value_start: usize,
}

/// An object: offsets of `{` and just past `}`, and its members.
#[derive(Debug, Clone)]
struct Obj {
    start: usize,
    end: usize,
    members: Vec<Member>,
}

/// The text with comments and trailing commas replaced by spaces, so byte
/// offsets stay the same and strict JSON parsers accept it.
pub fn blank_comments(text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if in_string {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    b[i] = b' ';
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut j = i;
                while j < b.len() && !(b[j] == b'*' && b.get(j + 1) == Some(&b'/') && j > i + 1) {
                    j += 1;
                }
                let end = (j + 2).min(b.len());
                for x in &mut b[i..end] {
                    if *x != b'\n' {
                        *x = b' ';
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    // Trailing commas: a comma followed (after whitespace) by `}` or `]`.
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_string {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b',' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if matches!(b.get(j), Some(b'}') | Some(b']')) {
                b[i] = b' ';
            }
        }
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII spaces, and every byte of a
    // comment was replaced (multi-byte sequences entirely), so this is UTF-8.
    String::from_utf8(b).unwrap_or_default()
}

/// Parses the text (comments allowed) into a value; empty text is `{}`.
pub fn parse(text: &str) -> Result<Value, EditError> {
    let clean = blank_comments(text);
    if clean.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let value: Value =
        serde_json::from_str(&clean).or_else(|e| err(format!("not valid JSON: {e}")))?;
    if !value.is_object() {
        return err("the top level is not a JSON object");
    }
    Ok(value)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Offset just past the value starting at `i` (the text is valid JSON).
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            j
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            j
        }
    }
}

/// The object starting at `start` in the blanked text.
fn object_at(clean: &str, start: usize) -> Result<Obj, EditError> {
    let b = clean.as_bytes();
    if b.get(start) != Some(&b'{') {
        return err("expected an object");
    }
    let mut members = Vec::new();
    let mut i = skip_ws(b, start + 1);
    loop {
        match b.get(i) {
            Some(b'}') => {
                return Ok(Obj {
                    start,
                    end: i + 1,
                    members,
                });
            }
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'"') => {
                let key_end = skip_string(b, i);
                let key: String = serde_json::from_str(&clean[i..key_end])
                    .or_else(|e| err(format!("bad key: {e}")))?;
                let colon = skip_ws(b, key_end);
                if b.get(colon) != Some(&b':') {
                    return err("expected ':'");
                }
                let value_start = skip_ws(b, colon + 1);
                let value_end = skip_value(b, value_start);
                members.push(Member {
                    key,
                    start: i,
                    value_start,
                    value_end,
                });
                i = skip_ws(b, value_end);
            }
            _ => return err("malformed object"),
        }
    }
}

fn top(clean: &str) -> Result<Obj, EditError> {
    let start = skip_ws(clean.as_bytes(), 0);
    object_at(clean, start)
}

/// The whitespace at the start of the line holding `offset`.
fn line_indent(text: &str, offset: usize) -> String {
    let line_start = text[..offset].rfind('\n').map_or(0, |n| n + 1);
    text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// The file's indentation unit: the indent of the first top-level member, else two spaces.
fn indent_unit(text: &str) -> String {
    let clean = blank_comments(text);
    if let Ok(obj) = top(&clean)
        && let Some(first) = obj.members.first()
    {
        let unit = line_indent(text, first.start);
        if !unit.is_empty() && text[..first.start].contains('\n') {
            return unit;
        }
    }
    "  ".into()
}

/// Renders a node whose first line continues a line indented by `indent`.
fn render(node: &Node, indent: &str, unit: &str) -> String {
    match node {
        Node::Json(value) => {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            if serde::Serialize::serialize(value, &mut ser).is_err() {
                return "null".into();
            }
            String::from_utf8_lossy(&out).replace('\n', &format!("\n{indent}"))
        }
        Node::Object(members) if members.is_empty() => "{}".into(),
        Node::Object(members) => {
            let inner = format!("{indent}{unit}");
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{inner}{}: {}",
                        Value::from(k.as_str()),
                        render(v, &inner, unit)
                    )
                })
                .collect();
            format!("{{\n{}\n{indent}}}", body.join(",\n"))
        }
    }
}

/// Adds members at the end of the object (replacing it when it is empty).
fn insert_members(text: &str, obj: &Obj, items: &[(String, Node)], unit: &str) -> String {
    if items.is_empty() {
        return text.to_string();
    }
    match obj.members.last() {
        None => {
            let indent = line_indent(text, obj.start);
            let rendered = render(&Node::Object(items.to_vec()), &indent, unit);
            format!("{}{}{}", &text[..obj.start], rendered, &text[obj.end..])
        }
        Some(last) => {
            let indent = if text[obj.start..last.start].contains('\n') {
                line_indent(text, last.start)
            } else {
                format!("{}{unit}", line_indent(text, obj.start))
            };
            let mut added = String::new();
            for (k, v) in items {
                added.push_str(&format!(
                    ",\n{indent}{}: {}",
                    Value::from(k.as_str()),
                    render(v, &indent, unit)
                ));
            }
            format!(
                "{}{}{}",
                &text[..last.value_end],
                added,
                &text[last.value_end..]
            )
        }
    }
}

/// Removes member `i` of `obj` from the text.
fn remove_member(text: &str, obj: &Obj, i: usize) -> String {
    let (from, to, with) = if i > 0 {
        (obj.members[i - 1].value_end, obj.members[i].value_end, "")
    } else if obj.members.len() > 1 {
        (obj.members[0].start, obj.members[1].start, "")
    } else {
        (obj.start, obj.end, "{}")
    };
    format!("{}{}{}", &text[..from], with, &text[to..])
}

/// The container object member of the top level, if present.
fn container(clean: &str, name: &str) -> Result<Option<Obj>, EditError> {
    let top = top(clean)?;
    match top.members.iter().find(|m| m.key == name) {
        None => Ok(None),
        Some(m) => {
            if clean.as_bytes().get(m.value_start) != Some(&b'{') {
                return err(format!("\"{name}\" is not a JSON object"));
            }
            object_at(clean, m.value_start).map(Some)
        }
    }
}

/// The text with every member of the top-level object `name` whose key
/// starts with `prefix` removed; everything else is left byte for byte.
pub fn remove_prefixed(text: &str, name: &str, prefix: &str) -> Result<String, EditError> {
    parse(text)?;
    if blank_comments(text).trim().is_empty() {
        return Ok(text.to_string());
    }
    let mut text = text.to_string();
    loop {
        let clean = blank_comments(&text);
        let Some(obj) = container(&clean, name)? else {
            return Ok(text);
        };
        let Some(i) = obj.members.iter().position(|m| m.key.starts_with(prefix)) else {
            return Ok(text);
        };
        text = remove_member(&text, &obj, i);
    }
}

/// The text with `items` added at the end of the top-level object `name`
/// (created at the end of the top level when missing). Call
/// [`remove_prefixed`] first so keys are not duplicated.
pub fn add_members(text: &str, name: &str, items: &[(String, Node)]) -> Result<String, EditError> {
    parse(text)?;
    let text = if blank_comments(text).trim().is_empty() {
        // Missing, empty, or only comments: keep the comments, add an object.
        let sep = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        format!("{text}{sep}{{}}\n")
    } else {
        text.to_string()
    };
    let unit = indent_unit(&text);
    let clean = blank_comments(&text);
    match container(&clean, name)? {
        Some(obj) => Ok(insert_members(&text, &obj, items, &unit)),
        None => {
            let top = top(&clean)?;
            Ok(insert_members(
                &text,
                &top,
                &[(name.to_string(), Node::Object(items.to_vec()))],
                &unit,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn comments_and_trailing_commas_are_blanked_without_moving_offsets() {
        let text = "{ // hi\n \"a\": \"//x\", /* b */ \"b\": [1,],\n}";
        let clean = blank_comments(text);
        assert_eq!(clean.len(), text.len());
        let v: Value = serde_json::from_str(&clean).unwrap();
        assert_eq!(v["a"], "//x");
    }

    #[test]
    fn adding_then_removing_restores_the_text_exactly() {
        let text = "{\n  \"z\": 1,\n  \"s\": {\n    \"b\": {},\n    \"a\": 2\n  }\n}\n";
        let items = vec![(
            "passport-x".to_string(),
            Node::Object(vec![("url".into(), Node::Json("u".into()))]),
        )];
        let added = add_members(text, "s", &items).unwrap();
        assert!(added.contains("    \"passport-x\": {\n      \"url\": \"u\"\n    }\n  }"));
        assert_eq!(remove_prefixed(&added, "s", "passport-").unwrap(), text);
    }

    #[test]
    fn a_missing_container_and_file_are_created() {
        let items = vec![("passport-x".to_string(), Node::Json(Value::from(1)))];
        let out = add_members("", "s", &items).unwrap();
        assert_eq!(out, "{\n  \"s\": {\n    \"passport-x\": 1\n  }\n}\n");
        let out = add_members("{\"a\": 1}", "s", &items).unwrap();
        let v = parse(&out).unwrap();
        assert_eq!(v["s"]["passport-x"], 1);
        assert_eq!(v["a"], 1);
    }

    #[test]
    fn a_file_of_only_comments_keeps_them_and_gets_an_object() {
        let items = vec![("passport-x".to_string(), Node::Json(Value::from(1)))];
        let out = add_members("// settings\n", "s", &items).unwrap();
        assert!(out.starts_with("// settings\n{\n"));
        assert_eq!(parse(&out).unwrap()["s"]["passport-x"], 1);
        assert_eq!(
            remove_prefixed("// only\n", "s", "passport-").unwrap(),
            "// only\n"
        );
    }
}
