//! Edits of YAML client config files (Goose's `config.yaml`) that keep
//! every byte that is not ours.
//!
//! No maintained YAML library edits a file losslessly, so this editor is
//! small and strict: it handles exactly one shape, a top-level block
//! mapping key (`extensions:` at the start of a line) whose entries are
//! block mappings, and adds or removes our entries as whole blocks of
//! lines. Anything else (the key written inline, tabs for indentation,
//! several documents, a byte order mark) is refused with a message that says
//! what to change, and nothing is changed. Every edit is checked with a
//! real YAML parser (`serde_norway`) before it is returned: the file still
//! parses, says the same as before apart from our entries, and removing
//! our entries from the new text gives back the old one byte for byte.
//!
//! Where the key is missing, it is added before the first key of the file
//! (after leading comments and a `---`), so that taking it out again gives
//! back the file as it was even without a final line break. An empty
//! inline `extensions: {}` becomes a block; disconnecting leaves the key
//! out, which Goose reads the same way.
//!
//! Here: parsing, the edits and their check. Beside it: the file cut into
//! lines around the container (`lines`) and the YAML text written for an
//! entry (`write`).

use crate::Rendered;
use crate::jsonedit::EditError;
use serde_json::{Map, Value};

mod lines;
mod write;

use lines::{Doc, Header, content, quiet};
use write::entry;
pub(crate) use write::{field, list_item};

fn err<T>(message: impl Into<String>) -> Result<T, EditError> {
    Err(EditError(message.into()))
}

/// The whole file as JSON values; an empty file (or only comments) is
/// `{}`. Read by the libyaml-based reader of the serde_yaml family, the
/// reader Goose itself uses, so what it refuses Goose would refuse too
/// (several documents, a key given twice, keys that are not text).
pub fn parse(text: &str) -> Result<Value, EditError> {
    if text.starts_with('\u{feff}') {
        return err("the file starts with a byte order mark; save it as UTF-8 without one");
    }
    // Read as the library's own value first: it refuses a key given twice.
    let value = serde_norway::from_str::<serde_norway::Value>(text)
        .and_then(|v| serde_json::to_value(v).map_err(serde::de::Error::custom));
    let value: Value = match value {
        Ok(value) => value,
        Err(e) if e.to_string().contains("more than one document") => {
            return err("the file holds more than one YAML document (---); keep one");
        }
        Err(e) => return err(format!("not valid YAML: {e}")),
    };
    match value {
        Value::Null => Ok(Value::Object(Map::new())),
        v @ Value::Object(_) => Ok(v),
        _ => err("the top level is not a mapping (key: value lines)"),
    }
}

/// The file's value with our entries and an empty container left out:
/// what must not change.
fn theirs(mut value: Value, name: &str, prefix: &str) -> Value {
    if let Some(top) = value.as_object_mut() {
        if let Some(Value::Object(c)) = top.get_mut(name) {
            c.retain(|k, _| !k.starts_with(prefix));
        }
        if top
            .get(name)
            .is_some_and(|c| c.is_null() || c.as_object().is_some_and(Map::is_empty))
        {
            top.remove(name);
        }
    }
    value
}

fn ours(value: &Value, name: &str, prefix: &str) -> Map<String, Value> {
    value
        .get(name)
        .and_then(Value::as_object)
        .map(|c| {
            c.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The text with every entry of the top-level mapping `name` whose key
/// starts with `prefix` removed; every other byte is kept.
pub fn remove_prefixed(text: &str, name: &str, prefix: &str) -> Result<String, EditError> {
    remove(text, name, prefix, false)
}

/// [`remove_prefixed`], keeping the key line when `keep_header` (so that
/// connecting again writes our entries where they were).
fn remove(text: &str, name: &str, prefix: &str, keep_header: bool) -> Result<String, EditError> {
    let doc = Doc::open(text, name)?;
    let ours = doc.ours(prefix);
    if ours.is_empty() {
        return Ok(text.to_string());
    }
    let gone = |i: usize| ours.iter().any(|r| r.contains(&i));
    let mut kept: Vec<String> = Vec::new();
    let mut kept_index: Vec<usize> = Vec::new();
    for (i, line) in doc.lines.iter().enumerate() {
        if !gone(i) {
            kept.push((*line).to_string());
            kept_index.push(i);
        }
    }
    // Entries that ended the file without a line break: the break before them was ours.
    if ours.last().is_some_and(|r| r.end == doc.lines.len())
        && !doc.lines.last().is_some_and(|l| l.ends_with('\n'))
        && let Some(last) = kept.last_mut()
    {
        let trimmed = content(last).len();
        last.truncate(trimmed);
    }
    // The bare key line goes with the last entry: we wrote it.
    let block_empty = doc.block.clone().all(|i| gone(i) || quiet(doc.lines[i]));
    if let Some((h, Header::Bare)) = doc.header
        && block_empty
        && !keep_header
        && let Some(pos) = kept_index.iter().position(|&i| i == h)
    {
        kept.remove(pos);
    }
    let new = kept.concat();
    check(text, &new, name, prefix, &Map::new())?;
    Ok(new)
}

/// Checks that `new` parses and says what `old` said apart from our
/// entries, which are `want`.
fn check(
    old: &str,
    new: &str,
    name: &str,
    prefix: &str,
    want: &Map<String, Value>,
) -> Result<(), EditError> {
    let before = parse(old)?;
    let after = parse(new).or_else(|_| broken(name))?;
    if theirs(after.clone(), name, prefix) != theirs(before, name, prefix)
        || &ours(&after, name, prefix) != want
    {
        return broken(name);
    }
    Ok(())
}

fn broken<T>(name: &str) -> Result<T, EditError> {
    err(format!(
        "editing \"{name}\" would change the rest of the file; \
         write each of its entries as an indented block, or edit it by hand"
    ))
}

/// The text with our entries of the top-level mapping `name` replaced by
/// `items`, added after its last entry (the key is added when missing).
/// Checked before it is returned (see the module's notes).
pub fn set_members(
    text: &str,
    name: &str,
    prefix: &str,
    items: &[Rendered],
) -> Result<String, EditError> {
    // What taking our entries out again gives back.
    let mut base = remove_prefixed(text, name, prefix)?;
    if items.is_empty() {
        return Ok(base);
    }
    let stripped = remove(text, name, prefix, true)?;
    let doc = Doc::open(&stripped, name)?;
    let nl = doc.newline();
    let n = doc.entry_indent().unwrap_or(2);
    let mut block: String = items
        .iter()
        .map(|(key, fields)| entry(key, fields, n, nl))
        .collect();
    let mut lines: Vec<String> = doc.lines.iter().map(|l| (*l).to_string()).collect();
    match &doc.header {
        None => {
            // Before the first key: after leading comments, blanks and `---`.
            let at = doc
                .lines
                .iter()
                .position(|l| !(quiet(l) || content(l) == "---" || l.starts_with('%')))
                .unwrap_or(doc.lines.len());
            if at == doc.lines.len() && lines.last().is_some_and(|l| !l.ends_with('\n')) {
                return err("the file does not end with a line break; add one");
            }
            lines.insert(at, format!("{name}:{nl}{block}"));
        }
        Some((h, kind)) => {
            if *kind == Header::EmptyInline {
                lines[*h] = format!("{name}:{nl}");
                base = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i != h)
                    .map(|(_, l)| l.as_str())
                    .collect();
            }
            let at = doc.insert_at();
            if at > 0 && !lines[at - 1].ends_with('\n') {
                // The last line of the file: the break goes before our
                // entries, and none after (taken out again on removal).
                lines[at - 1].push_str(nl);
                block.truncate(block.len() - nl.len());
            }
            lines.insert(at, block);
        }
    }
    let new = lines.concat();
    let want: Map<String, Value> = items
        .iter()
        .map(|(k, fields)| {
            let v: Map<String, Value> = fields
                .iter()
                .map(|(f, v)| ((*f).to_string(), v.clone()))
                .collect();
            (k.clone(), Value::Object(v))
        })
        .collect();
    check(text, &new, name, prefix, &want)?;
    if remove_prefixed(&new, name, prefix).ok().as_deref() != Some(base.as_str()) {
        return broken(name);
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
                ("type", json!("streamable_http")),
                ("uri", json!("http://127.0.0.1:1/v1/mcp/a")),
                ("envs", json!({})),
                ("headers", json!({"Authorization": "Bearer k"})),
            ],
        )]
    }

    const NAME: &str = "extensions";

    #[test]
    fn entries_go_after_the_last_entry_and_come_out_exactly() {
        let old = "GOOSE_MODEL: gpt-4o\nextensions:\n  developer:\n    enabled: true\n    # note\n    type: builtin\n# after\nGOOSE_MODE: auto\n";
        let new = set_members(old, NAME, "passport-", &items()).unwrap();
        assert_eq!(
            new,
            "GOOSE_MODEL: gpt-4o\nextensions:\n  developer:\n    enabled: true\n    # note\n    type: builtin\n  passport-a:\n    type: \"streamable_http\"\n    uri: \"http://127.0.0.1:1/v1/mcp/a\"\n    envs: {}\n    headers:\n      Authorization: \"Bearer k\"\n# after\nGOOSE_MODE: auto\n"
        );
        assert_eq!(remove_prefixed(&new, NAME, "passport-").unwrap(), old);
    }

    #[test]
    fn a_missing_key_is_added_first_and_removed_with_the_last_entry() {
        for old in ["", "# mine\nGOOSE_MODEL: x", "---\na: 1\n"] {
            let new = set_members(old, NAME, "passport-", &items()).unwrap();
            assert!(new.contains("extensions:\n  passport-a:\n"), "{new}");
            assert_eq!(remove_prefixed(&new, NAME, "passport-").unwrap(), old);
        }
    }

    #[test]
    fn a_last_line_without_a_break_is_kept_so() {
        let old = "extensions:\n    dev:\n      enabled: true";
        let new = set_members(old, NAME, "passport-", &items()).unwrap();
        assert!(new.ends_with("Bearer k\""), "{new}");
        assert!(new.contains("\n    passport-a:\n      type:"), "{new}");
        assert_eq!(remove_prefixed(&new, NAME, "passport-").unwrap(), old);
    }

    #[test]
    fn shapes_outside_the_one_handled_are_refused() {
        let refused = |text: &str, says: &str| {
            let e = set_members(text, NAME, "passport-", &items())
                .unwrap_err()
                .0;
            assert!(e.contains(says), "{text:?}: {e}");
        };
        refused("extensions: {dev: {}}\n", "inline");
        refused("extensions:\n- a\n", "not a mapping");
        refused("extensions:\n\tdev: {}\n", "YAML");
        refused("a: [\n", "not valid YAML");
        refused("a: 1\n---\nb: 2\n", "more than one");
        refused("- a\n", "top level");
        refused(
            "extensions:\n  a: 1\nextensions:\n  b: 2\n",
            "duplicate entry",
        );
        refused("\"extensions\":\n  a: {}\n", "start of a line");
    }

    #[test]
    fn an_empty_inline_mapping_becomes_a_block() {
        let new = set_members("a: 1\nextensions: {}\n", NAME, "passport-", &items()).unwrap();
        assert!(
            new.starts_with("a: 1\nextensions:\n  passport-a:\n"),
            "{new}"
        );
        assert_eq!(remove_prefixed(&new, NAME, "passport-").unwrap(), "a: 1\n");
    }
}
