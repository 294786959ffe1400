//! Edits of TOML client config files (Codex's `config.toml`) that keep
//! every byte that is not ours.
//!
//! `toml_edit` keeps each table, key, comment and blank as it was read and
//! writes untouched parts back verbatim. Our entries are whole tables,
//! `[<container>.passport-<id>]`, appended after the last table of the file;
//! removing them takes out exactly those tables (with the blank line before
//! each header). As for JSON, adding is checked before anything is
//! written: taking our tables out of the new text must give back the old
//! one exactly.

use crate::Rendered;
use crate::jsonedit::EditError;
use serde_json::{Map, Value};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table};

fn err<T>(message: impl Into<String>) -> Result<T, EditError> {
    Err(EditError(message.into()))
}

fn open(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>().or_else(|e| {
        // Where, not the line itself: it may hold a key.
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let before = text.get(..at).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let what: String = e
            .message()
            .trim_end()
            .replace('\n', "; ")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        err(format!(
            "not valid TOML: {what} on line {line}, column {column}"
        ))
    })
}

/// The whole file as JSON values (datetimes as their text).
pub fn parse(text: &str) -> Result<Value, EditError> {
    Ok(table_value(open(text)?.as_table()))
}

fn table_value(table: &Table) -> Value {
    Value::Object(
        table
            .iter()
            .map(|(k, item)| (k.to_string(), item_value(item)))
            .collect(),
    )
}

fn item_value(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(v) => value_json(v),
        Item::Table(t) => table_value(t),
        Item::ArrayOfTables(a) => Value::Array(a.iter().map(table_value).collect()),
    }
}

fn value_json(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as V;
    match v {
        V::String(s) => Value::from(s.value().as_str()),
        V::Integer(i) => Value::from(*i.value()),
        V::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(Value::Null, Value::Number),
        V::Boolean(b) => Value::from(*b.value()),
        V::Datetime(d) => Value::from(d.value().to_string()),
        V::Array(a) => Value::Array(a.iter().map(value_json).collect()),
        V::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), value_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// A JSON value as a TOML value (an object becomes an inline table).
fn toml_value(v: &Value) -> Result<toml_edit::Value, EditError> {
    Ok(match v {
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into(),
            (None, Some(f)) => f.into(),
            _ => return err(format!("{n} has no TOML form")),
        },
        Value::Array(a) => {
            let mut array = Array::new();
            for v in a {
                array.push(toml_value(v)?);
            }
            array.into()
        }
        Value::Object(o) => {
            let mut table = InlineTable::new();
            for (k, v) in o {
                table.insert(k, toml_value(v)?);
            }
            table.into()
        }
        Value::Null => return err("TOML has no null"),
    })
}

/// The servers table, or `None` when the file has none; anything else
/// under that name is refused.
fn servers<'d>(doc: &'d mut DocumentMut, name: &str) -> Result<Option<&'d mut Table>, EditError> {
    match doc.as_table_mut().get_mut(name) {
        None => Ok(None),
        Some(Item::Table(t)) if !t.is_dotted() => Ok(Some(t)),
        Some(_) => err(format!(
            "\"{name}\" is not written as tables ([{name}.NAME] sections); \
             write it that way or pass --config PATH"
        )),
    }
}

/// The library writes `\n` line breaks: a CRLF file is edited with LF
/// breaks and given its own back (a file mixing both is refused by the
/// checks below).
fn lf(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\r\n") {
        text.replace("\r\n", "\n").into()
    } else {
        text.into()
    }
}

/// `text` with the line breaks of `like`, and like it without a final
/// one when `like` has none.
fn breaks_of(like: &str, text: String) -> String {
    let text = if like.contains("\r\n") {
        text.replace('\n', "\r\n")
    } else {
        text
    };
    if like.is_empty() || like.ends_with('\n') {
        return text;
    }
    match text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
    {
        Some(cut) => cut.to_string(),
        None => text,
    }
}

/// The text with every table `[<name>.<key>]` whose key starts with
/// `prefix` removed; every other byte is kept.
pub fn remove_prefixed(text: &str, name: &str, prefix: &str) -> Result<String, EditError> {
    let mut doc = open(&lf(text))?;
    let Some(table) = servers(&mut doc, name)? else {
        return Ok(text.to_string());
    };
    let ours: Vec<String> = table
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| k.starts_with(prefix))
        .collect();
    if ours.is_empty() {
        return Ok(text.to_string());
    }
    if text.contains("\r\n") && text.replace("\r\n", "").contains('\n') {
        return err(
            "the file mixes CRLF and LF line breaks; save it with one kind, then run this again",
        );
    }
    for key in &ours {
        table.remove(key);
    }
    // The `[name]` level we created (no header of its own) goes with the last entry.
    if table.is_empty() && table.is_implicit() {
        doc.as_table_mut().remove(name);
    }
    Ok(breaks_of(text, doc.to_string()))
}

/// The highest position of any table in the document.
fn last_position(table: &Table, last: &mut isize) {
    if let Some(p) = table.position() {
        *last = (*last).max(p);
    }
    for (_, item) in table.iter() {
        match item {
            Item::Table(t) => last_position(t, last),
            Item::ArrayOfTables(a) => a.iter().for_each(|t| last_position(t, last)),
            _ => {}
        }
    }
}

/// The text with our tables under `name` replaced by `items`, appended
/// after the last table of the file (`[name]` is implied when missing).
/// Checked before it is returned: removing the prefixed tables from the
/// result gives back the text the items were added to, byte for byte.
pub fn set_members(
    text: &str,
    name: &str,
    prefix: &str,
    items: &[Rendered],
) -> Result<String, EditError> {
    let stripped = remove_prefixed(text, name, prefix)?;
    if items.is_empty() {
        return Ok(stripped);
    }
    // Tables start on a line of their own.
    let mut base = lf(&stripped).into_owned();
    if !base.is_empty() && !base.ends_with('\n') {
        base.push('\n');
    }
    let mut doc = open(&base)?;
    let mut last = 0;
    last_position(doc.as_table(), &mut last);
    if servers(&mut doc, name)?.is_none() {
        let mut implied = Table::new();
        implied.set_implicit(true);
        doc.as_table_mut().insert(name, Item::Table(implied));
    }
    let Some(table) = servers(&mut doc, name)? else {
        return err(format!("\"{name}\" could not be added"));
    };
    for (n, (key, fields)) in (1..).zip(items) {
        let mut entry = Table::new();
        for (k, v) in fields {
            entry.insert(k, Item::Value(toml_value(v)?));
        }
        entry.set_position(Some(last + n));
        table.insert(key, Item::Table(entry));
    }
    let new = breaks_of(&stripped, doc.to_string());
    if remove_prefixed(&new, name, prefix).ok().as_deref() != Some(stripped.as_str()) {
        return err(format!(
            "cannot add tables under \"{name}\" without changing the rest of the file \
             (are its line breaks mixed?); add them by hand"
        ));
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn items() -> Vec<Rendered> {
        vec![(
            "passport-a".to_string(),
            vec![
                ("url", json!("http://127.0.0.1:1/v1/mcp/a")),
                ("http_headers", json!({"Authorization": "Bearer k"})),
            ],
        )]
    }

    #[test]
    fn an_empty_file_gets_one_table_per_entry_and_loses_it_again() {
        let new = set_members("", "mcp_servers", "passport-", &items()).unwrap();
        assert_eq!(
            new,
            "[mcp_servers.passport-a]\nurl = \"http://127.0.0.1:1/v1/mcp/a\"\n\
             http_headers = { Authorization = \"Bearer k\" }\n"
        );
        assert_eq!(
            remove_prefixed(&new, "mcp_servers", "passport-").unwrap(),
            ""
        );
    }

    #[test]
    fn entries_go_after_the_last_table_and_come_out_exactly() {
        let old = "# top\nmodel = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"npx\" # run\n\n[profiles.x]\nmodel = \"y\"\n";
        let new = set_members(old, "mcp_servers", "passport-", &items()).unwrap();
        assert!(new.starts_with(old), "{new}");
        assert_eq!(
            remove_prefixed(&new, "mcp_servers", "passport-").unwrap(),
            old
        );
    }

    #[test]
    fn a_crlf_file_keeps_its_line_breaks() {
        let old = "a = 1\r\n\r\n[mcp_servers.x]\r\ncommand = \"y\"\r\n";
        let new = set_members(old, "mcp_servers", "passport-", &items()).unwrap();
        assert!(
            new.starts_with(old) && !new.replace("\r\n", "").contains('\n'),
            "{new:?}"
        );
        assert_eq!(
            remove_prefixed(&new, "mcp_servers", "passport-").unwrap(),
            old
        );
    }

    #[test]
    fn servers_as_an_inline_table_are_refused() {
        let e = set_members("mcp_servers = {}\n", "mcp_servers", "passport-", &items());
        assert!(e.unwrap_err().0.contains("not written as tables"));
        let e = set_members("a = [\n", "mcp_servers", "passport-", &items());
        assert!(e.unwrap_err().0.starts_with("not valid TOML"));
        // The message says where, without the line (it may hold a key).
        let broken = "a = 1\n[mcp_servers.x]\nhttp_headers = { A = \"Bearer mpk_s\" \n";
        let e = set_members(broken, "mcp_servers", "passport-", &items())
            .unwrap_err()
            .0;
        assert!(e.contains("on line 3, column"), "{e}");
        assert!(!e.contains("mpk_s") && !e.contains('\n'), "{e}");
    }
}
