//! What `--dry-run` shows: the `passport-*` entries before and after, with
//! keys hidden.

use crate::PREFIX;
use crate::jsonedit;
use serde_json::{Value, json};

/// The `passport-*` entries currently in the file, keys redacted.
pub fn current_entries(text: Option<&str>, container: &str) -> Vec<(String, Value)> {
    let Some(Ok(value)) = text.map(jsonedit::parse) else {
        return Vec::new();
    };
    // A dotted container (`mcp.servers`) is a path into nested objects.
    container
        .split('.')
        .try_fold(&value, |v, key| v.get(key))
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.starts_with(PREFIX))
                .map(|(k, v)| (k.clone(), redact(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// The value with every `Bearer ...` string replaced by a placeholder.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::String(s) if s.starts_with("Bearer ") => json!("Bearer <current key>"),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), redact(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// An entry's members as one line of JSON, in the order written.
pub fn compact(fields: &[(&'static str, Value)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", Value::from(*k)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}
