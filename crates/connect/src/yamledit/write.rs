//! The YAML text written for an entry: keys plain or quoted, objects as
//! nested blocks, lists and scalars in flow style.

use serde_json::Value;

/// A key as written: plain when that is unambiguous, else quoted.
fn key_text(key: &str) -> String {
    let plain = !key.is_empty()
        && !key.starts_with('-')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        key.to_string()
    } else {
        Value::from(key).to_string()
    }
}

/// One `key: value` at `indent` spaces; objects as nested blocks, lists
/// and scalars in flow style (JSON, which YAML reads the same).
pub(crate) fn field(key: &str, value: &Value, indent: usize, nl: &str) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(o) if !o.is_empty() => {
            let mut out = format!("{pad}{}:{nl}", key_text(key));
            for (k, v) in o {
                out.push_str(&field(k, v, indent + 2, nl));
            }
            out
        }
        other => format!("{pad}{}: {other}{nl}", key_text(key)),
    }
}

/// One list item (`- key: value` and the rest under it) at `indent`.
pub(crate) fn list_item(fields: &[(&str, Value)], indent: usize, nl: &str) -> String {
    let body: String = fields
        .iter()
        .map(|(k, v)| field(k, v, indent + 2, nl))
        .collect();
    format!(
        "{}- {}",
        " ".repeat(indent),
        body.get(indent + 2..).unwrap_or_default()
    )
}

pub(super) fn entry(name: &str, fields: &[(&str, Value)], indent: usize, nl: &str) -> String {
    let mut out = format!("{}{}:{nl}", " ".repeat(indent), key_text(name));
    for (k, v) in fields {
        out.push_str(&field(k, v, indent + 2, nl));
    }
    out
}
