//! The file cut into lines: what a line holds, and where the container's
//! key line and its block of entries are.

use super::{err, parse};
use crate::jsonedit::EditError;
use serde_json::Value;

/// A line without its line break.
pub(super) fn content(line: &str) -> &str {
    line.trim_end_matches('\n').trim_end_matches('\r')
}

pub(super) fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank, or only a comment.
pub(super) fn quiet(line: &str) -> bool {
    let t = content(line).trim_start_matches(' ');
    t.is_empty() || t.starts_with('#')
}

/// The key of a `key:` line (plain or quoted), or `None`.
pub(super) fn key_of(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (key, rest) = match bytes.first() {
        Some(q @ (b'"' | b'\'')) => {
            let end = text[1..].find(*q as char)? + 1;
            (&text[1..end], &text[end + 1..])
        }
        _ => {
            let end = text.find(':')?;
            (text[..end].trim_end_matches(' '), &text[end..])
        }
    };
    let rest = rest.trim_start_matches(' ').strip_prefix(':')?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then(|| key.to_string())
}

/// How the container's key line is written.
#[derive(PartialEq)]
pub(super) enum Header {
    /// `name:` alone on its line.
    Bare,
    /// `name:` with a comment after it.
    Commented,
    /// `name: {}`.
    EmptyInline,
}

/// The file cut into lines, with the container's place.
pub(super) struct Doc<'t> {
    pub(super) lines: Vec<&'t str>,
    /// The container's key line and how it is written.
    pub(super) header: Option<(usize, Header)>,
    /// Lines after the header that belong to its block.
    pub(super) block: std::ops::Range<usize>,
}

impl<'t> Doc<'t> {
    pub(super) fn open(text: &'t str, name: &str) -> Result<Self, EditError> {
        let value = parse(text)?;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut header = None;
        for (i, line) in lines.iter().enumerate() {
            let c = content(line);
            if key_of(c).as_deref() != Some(name) || c.starts_with([' ', '"', '\'']) {
                continue;
            }
            if header.is_some() {
                return err(format!("\"{name}\" appears more than once; keep one"));
            }
            let after = c[c.find(':').unwrap_or(c.len())..]
                .trim_start_matches(':')
                .trim();
            let kind = if after.is_empty() {
                Header::Bare
            } else if after.starts_with('#') {
                Header::Commented
            } else if after == "{}" {
                Header::EmptyInline
            } else {
                return err(format!(
                    "\"{name}\" is written inline; write it as a block \
                     (\"{name}:\" on its own line, one entry per indented block)"
                ));
            };
            header = Some((i, kind));
        }
        match (value.get(name), &header) {
            (None, None) => {}
            (Some(Value::Object(_) | Value::Null), Some(_)) => {}
            (Some(Value::Object(_) | Value::Null), None) => {
                return err(format!(
                    "\"{name}\" is not written as \"{name}:\" at the start of a line; \
                     write it that way"
                ));
            }
            _ => return err(format!("\"{name}\" is not a mapping")),
        }
        let start = header.as_ref().map_or(0, |(i, _)| i + 1);
        let mut end = start;
        if header.is_some() {
            while end < lines.len() && (quiet(lines[end]) || lines[end].starts_with([' ', '\t'])) {
                if content(lines[end])
                    .trim_start_matches(' ')
                    .starts_with('\t')
                {
                    return err(format!(
                        "\"{name}\" is indented with tabs; YAML needs spaces"
                    ));
                }
                end += 1;
            }
        }
        Ok(Self {
            lines,
            header,
            block: start..end,
        })
    }

    /// The indentation of the container's entries, when it has any.
    pub(super) fn entry_indent(&self) -> Option<usize> {
        self.block
            .clone()
            .map(|i| self.lines[i])
            .find(|l| !quiet(l))
            .map(indent)
    }

    /// Our entries: line ranges, each a key line and its deeper lines.
    pub(super) fn ours(&self, prefix: &str) -> Vec<std::ops::Range<usize>> {
        let Some(n) = self.entry_indent() else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let mut i = self.block.start;
        while i < self.block.end {
            let line = self.lines[i];
            let is_ours = !quiet(line)
                && indent(line) == n
                && key_of(&content(line)[n..]).is_some_and(|k| k.starts_with(prefix));
            if !is_ours {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < self.block.end && !quiet(self.lines[j]) && indent(self.lines[j]) > n {
                j += 1;
            }
            found.push(i..j);
            i = j;
        }
        found
    }

    /// After the last indented line of the block (or right after the header).
    pub(super) fn insert_at(&self) -> usize {
        self.block
            .clone()
            .rev()
            .find(|&i| self.lines[i].starts_with(' ') && !content(self.lines[i]).trim().is_empty())
            .map_or(self.block.start, |i| i + 1)
    }

    pub(super) fn newline(&self) -> &'static str {
        match self.lines.first() {
            Some(l) if l.ends_with("\r\n") => "\r\n",
            _ => "\n",
        }
    }
}
