//! What `--dry-run` shows: the `passport-*` entries before and after, with
//! keys hidden.

use serde_json::{Value, json};

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
