//! The file formats of client configs, and the three edits every format
//! offers: put our entries in, take them out, and list them for a preview.
//! Each edit keeps every byte that is not ours (see `jsonedit`, `tomledit`,
//! `yamledit`); a file its reader refuses is refused before any change.

use crate::jsonedit::{self, EditError};
use crate::preview::redact;
use crate::{PREFIX, Rendered, tomledit, yamledit};
use serde_json::Value;

/// How a client's config is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// One JSON (or JSON with comments) file; servers in a top-level object.
    Json,
    /// One TOML file; servers are `[<container>.<name>]` tables.
    Toml,
    /// One YAML file; servers in a top-level block mapping.
    Yaml,
    /// A folder of YAML files, one per server, each entirely ours
    /// (see `continue_dev`).
    YamlDir,
}

/// The text with our entries replaced by `entries`.
pub(crate) fn set_members(
    format: Format,
    text: &str,
    container: &str,
    entries: &[Rendered],
) -> Result<String, EditError> {
    match format {
        Format::Json => jsonedit::set_members(text, container, PREFIX, &crate::nodes(entries)),
        Format::Toml => tomledit::set_members(text, container, PREFIX, entries),
        Format::Yaml => yamledit::set_members(text, container, PREFIX, entries),
        Format::YamlDir => Err(EditError("a folder is not one file".into())),
    }
}

/// The text with every entry of ours removed.
pub(crate) fn remove_prefixed(
    format: Format,
    text: &str,
    container: &str,
) -> Result<String, EditError> {
    match format {
        Format::Json => jsonedit::remove_prefixed(text, container, PREFIX),
        Format::Toml => tomledit::remove_prefixed(text, container, PREFIX),
        Format::Yaml => yamledit::remove_prefixed(text, container, PREFIX),
        Format::YamlDir => Err(EditError("a folder is not one file".into())),
    }
}

/// Our entries in the file, as JSON values with keys hidden; none when the
/// file cannot be read (the edit then says why).
pub(crate) fn current_entries(
    format: Format,
    text: Option<&str>,
    container: &str,
) -> Vec<(String, Value)> {
    let Some(text) = text else {
        return Vec::new();
    };
    let value = match format {
        Format::Json => jsonedit::parse(text),
        Format::Toml => tomledit::parse(text),
        Format::Yaml => yamledit::parse(text),
        Format::YamlDir => return Vec::new(),
    };
    let Ok(value) = value else {
        return Vec::new();
    };
    // A dotted container (opencode's `mcp.servers`) is a path into nested objects.
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
