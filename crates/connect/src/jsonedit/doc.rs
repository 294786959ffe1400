//! A checked file: parsed once for its syntax, with the places of its
//! top-level object and of the servers object, and the text around them.

use super::pieces::{Piece, object_pieces};
use super::{BOM, EditError, err, options};
use jsonc_parser::common::Range;
use jsonc_parser::{CollectOptions, ast, parse_to_ast};

/// A checked file: where its top-level object and the servers object are.
pub(super) struct Doc<'t> {
    /// The byte order mark, or nothing.
    pub(super) bom: &'static str,
    /// The text after it.
    pub(super) body: &'t str,
    /// The top-level object; `None` for a file without a value.
    pub(super) top: Option<Range>,
    /// The servers object and the member holding it.
    pub(super) container: Option<(Range, Range)>,
    /// Where the first top-level member starts.
    pub(super) first_member: Option<usize>,
}

impl<'t> Doc<'t> {
    /// Parses the whole file (syntax only: no tree is kept) and finds the
    /// top-level object and its member `name` (when given).
    pub(super) fn open(text: &'t str, name: Option<&str>) -> Result<Self, EditError> {
        let (bom, body) = match text.strip_prefix(BOM) {
            Some(body) => (BOM, body),
            None => ("", text),
        };
        let parsed = match parse_to_ast(body, &CollectOptions::default(), &options()) {
            Ok(parsed) => parsed,
            Err(e) => {
                return err(format!(
                    "not valid JSON: {} on line {}, column {}",
                    e.kind(),
                    e.line_display(),
                    e.column_display()
                ));
            }
        };
        let top = match &parsed.value {
            None => None,
            Some(ast::Value::Object(top)) => Some(top),
            Some(_) => return err("the top level is not a JSON object"),
        };
        let container = match (top, name) {
            (Some(top), Some(name)) => find(top, name.split('.'))?,
            _ => None,
        };
        Ok(Self {
            bom,
            body,
            top: top.map(|t| t.range),
            container,
            first_member: top
                .and_then(|t| t.properties.first())
                .map(|m| m.range.start),
        })
    }

    /// The file's line break (its first one; LF when it has none).
    pub(super) fn newline(&self) -> &'static str {
        match self.body.find(['\n', '\r']) {
            Some(at) if self.body[at..].starts_with("\r\n") => "\r\n",
            Some(at) if self.body[at..].starts_with('\r') => "\r",
            _ => "\n",
        }
    }

    /// The blanks that start the line holding byte `at`.
    pub(super) fn line_indent(&self, at: usize) -> &'t str {
        let start = self.body[..at].rfind(['\n', '\r']).map_or(0, |n| n + 1);
        let line = &self.body[start..at];
        &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
    }

    /// The file's indentation unit: the first top-level member's, else two spaces.
    pub(super) fn unit(&self) -> String {
        match self.first_member.map(|at| self.line_indent(at)) {
            Some(unit) if !unit.is_empty() => unit.to_string(),
            _ => "  ".into(),
        }
    }

    /// The text with the bytes in `range` replaced.
    pub(super) fn splice(&self, range: Range, replacement: &str) -> String {
        format!(
            "{}{}{replacement}{}",
            self.bom,
            &self.body[..range.start],
            &self.body[range.end..]
        )
    }
}

/// The object at `path` (member names; a dotted container name is a path
/// into nested objects) below `object`, and the member holding it.
fn find<'a>(
    object: &ast::Object,
    mut path: impl Iterator<Item = &'a str>,
) -> Result<Option<(Range, Range)>, EditError> {
    let Some(key) = path.next() else {
        return Ok(None);
    };
    let mut found = None;
    for prop in object.properties.iter().filter(|p| p.name.as_str() == key) {
        if found.is_some() {
            return err(format!("\"{key}\" appears more than once; keep one"));
        }
        let ast::Value::Object(inner) = &prop.value else {
            return err(format!("\"{key}\" is not a JSON object"));
        };
        found = Some((inner, prop.range));
    }
    let Some((inner, member)) = found else {
        return Ok(None);
    };
    let rest: Vec<&str> = path.collect();
    if rest.is_empty() {
        Ok(Some((inner.range, member)))
    } else {
        find(inner, rest.into_iter())
    }
}

/// The pieces of the object in `range`.
pub(super) fn pieces_at(doc: &Doc, range: Range) -> Result<Vec<Piece>, EditError> {
    object_pieces(&doc.body[range.start..range.end]).map_or_else(
        || err("the file could not be read back exactly as written"),
        Ok,
    )
}
