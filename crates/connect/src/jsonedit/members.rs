//! Which pieces of an object are ours: adding members at its end and taking
//! one out again, on the object's piece list (see `pieces`).
//!
//! Adding writes, after the last member's line (after any comment on that
//! line), one line per member: the file's line break, the members'
//! indentation, the member, and a comma where the object's style wants one
//! (a comma after the previous member when it had none). An object without
//! members gets its lines before `}`, with `}` moved to a line of its own.
//!
//! Taking a member out removes exactly what adding wrote, wherever the user
//! has put comments or members since: the member, one comma (its own, else
//! the one before it), and its line when nothing else is on it. A comment
//! the user wrote on the member's line stays where it was. When the member
//! was alone in an object we laid out, the object goes back to `{}`.

use super::Node;
use super::pieces::{Kind, Piece};
use serde_json::Value;

/// How new lines are written in one object.
pub(super) struct Layout<'a> {
    /// The file's line break.
    pub newline: &'a str,
    /// One level of the file's indentation.
    pub unit: &'a str,
    /// The indentation of the line holding the object's `{`.
    pub base: &'a str,
}

fn kind(pieces: &[Piece], i: usize) -> Option<&Kind> {
    pieces.get(i).map(|p| &p.kind)
}

/// The indentation of the members we add: the last member's, when it
/// starts a line; else one level deeper than the object's line.
fn member_indent(pieces: &[Piece], last: Option<usize>, layout: &Layout) -> String {
    if let Some(last) = last {
        match (
            kind(pieces, last.wrapping_sub(1)),
            kind(pieces, last.wrapping_sub(2)),
        ) {
            (Some(Kind::Newline), _) => return String::new(),
            (Some(Kind::Space), Some(Kind::Newline)) => return pieces[last - 1].text.clone(),
            _ => {}
        }
    }
    format!("{}{}", layout.base, layout.unit)
}

/// The lines for `items`: a line break, the indentation, the member, and a
/// comma after every member but the last (after the last too with `trailing`).
fn lines(items: &[(String, Node)], indent: &str, layout: &Layout, trailing: bool) -> Vec<Piece> {
    let mut out = Vec::new();
    for (n, (key, node)) in items.iter().enumerate() {
        out.push(Piece::new(Kind::Newline, layout.newline));
        if !indent.is_empty() {
            out.push(Piece::new(Kind::Space, indent));
        }
        let text = format!(
            "{}: {}",
            Value::from(key.as_str()),
            render(node, indent, layout)
        );
        out.push(Piece::new(Kind::Member(Some(key.clone())), text));
        if trailing || n + 1 < items.len() {
            out.push(Piece::new(Kind::Comma, ","));
        }
    }
    out
}

/// The object's pieces with `items` added at its end: candidates, the
/// usual layout first. The caller keeps the first one that taking the
/// members out turns back into the original.
pub(super) fn appended(
    pieces: &[Piece],
    items: &[(String, Node)],
    layout: &Layout,
) -> Vec<Vec<Piece>> {
    let close = pieces.len().saturating_sub(1);
    let last = pieces
        .iter()
        .rposition(|p| matches!(p.kind, Kind::Member(_)));
    let indent = member_indent(pieces, last, layout);
    let Some(last) = last else {
        // No member: after the last comment inside, else right after `{`.
        let at = pieces[..close]
            .iter()
            .rposition(|p| matches!(p.kind, Kind::LineComment | Kind::BlockComment))
            .map_or(1, |i| i + 1)
            .min(close);
        let new = lines(items, &indent, layout, false);
        let mut closed = new.clone();
        closed.push(Piece::new(Kind::Newline, layout.newline));
        if !layout.base.is_empty() {
            closed.push(Piece::new(Kind::Space, layout.base));
        }
        let breaks_after = pieces[at..close].iter().any(|p| p.kind == Kind::Newline);
        let usual = if breaks_after {
            splice(pieces, at, new.clone())
        } else {
            splice(pieces, close, closed)
        };
        return vec![usual, splice(pieces, close, new)];
    };
    let comma = (last + 1..pieces.len())
        .find(|&i| !pieces[i].kind.is_trivia())
        .filter(|&i| pieces[i].kind == Kind::Comma);
    // After the comma (or the member), past what else is on that line.
    let start = comma.map_or(last + 1, |c| c + 1);
    let mut at = start;
    for (i, piece) in pieces.iter().enumerate().skip(start) {
        match piece.kind {
            Kind::Space => {}
            Kind::LineComment | Kind::BlockComment => at = i + 1,
            _ => break,
        }
    }
    let mut out = splice(pieces, at, lines(items, &indent, layout, comma.is_some()));
    if comma.is_none() {
        out.insert(last + 1, Piece::new(Kind::Comma, ","));
    }
    vec![out]
}

fn splice(pieces: &[Piece], at: usize, new: Vec<Piece>) -> Vec<Piece> {
    let mut out = pieces.to_vec();
    out.splice(at..at, new);
    out
}

/// The object's pieces without member `i` (see the module doc).
pub(super) fn removed(pieces: &[Piece], i: usize) -> Vec<Piece> {
    let mut drop = vec![false; pieces.len()];
    if let Some(lines) = alone_in_our_layout(pieces, i) {
        lines.for_each(|k| drop[k] = true);
        return kept(pieces, &drop);
    }
    drop[i] = true;
    let next = (i + 1..pieces.len()).find(|&k| !pieces[k].kind.is_trivia());
    let own_comma = next.filter(|&k| pieces[k].kind == Kind::Comma);
    let mut after = i + 1;
    if let Some(c) = own_comma {
        drop[c] = true;
        if (i + 1..c).all(|k| pieces[k].kind == Kind::Space) {
            (i + 1..c).for_each(|k| drop[k] = true);
        }
        after = c + 1;
    } else if let Some(prev) = (0..i).rev().find(|&k| !pieces[k].kind.is_trivia())
        && pieces[prev].kind == Kind::Comma
    {
        drop[prev] = true;
    }
    let mut before = i;
    while before > 0 && pieces[before - 1].kind == Kind::Space {
        before -= 1;
    }
    let mut next = after;
    while kind(pieces, next) == Some(&Kind::Space) {
        next += 1;
    }
    let starts_line = before > 0 && pieces[before - 1].kind == Kind::Newline;
    let ends_line = matches!(kind(pieces, next), Some(Kind::Newline) | None)
        || kind(pieces, next) == Some(&Kind::Close)
            && !line_comment_before(pieces, before.saturating_sub(1));
    if starts_line && ends_line {
        // The whole line, with the line break before it.
        (before - 1..i).for_each(|k| drop[k] = true);
    } else if starts_line || before == i {
        // What follows moves up to where the member began.
        (after..next).for_each(|k| drop[k] = true);
    } else {
        (before..i).for_each(|k| drop[k] = true);
    }
    kept(pieces, &drop)
}

/// Whether the line ending at the line break `newline` ends in a `//` comment.
fn line_comment_before(pieces: &[Piece], newline: usize) -> bool {
    pieces[..newline]
        .iter()
        .rev()
        .find(|p| p.kind != Kind::Space)
        .is_some_and(|p| p.kind == Kind::LineComment)
}

/// When member `i` is the only member, on a line of its own right after
/// `{` and with `}` on the next line (as we lay out an empty object): the
/// pieces from the line break before it to `}`.
fn alone_in_our_layout(pieces: &[Piece], i: usize) -> Option<std::ops::Range<usize>> {
    let members = pieces
        .iter()
        .filter(|p| matches!(p.kind, Kind::Member(_)))
        .count();
    if members != 1 {
        return None;
    }
    let mut first = i;
    if kind(pieces, first.wrapping_sub(1)) == Some(&Kind::Space) {
        first -= 1;
    }
    first = first.checked_sub(1)?;
    if pieces[first].kind != Kind::Newline || pieces[1..first].iter().any(|p| p.kind != Kind::Space)
    {
        return None;
    }
    let mut end = i + 1;
    if kind(pieces, end) == Some(&Kind::Comma) {
        end += 1;
    }
    if kind(pieces, end) != Some(&Kind::Newline) {
        return None;
    }
    end += 1;
    if kind(pieces, end) == Some(&Kind::Space) {
        end += 1;
    }
    (kind(pieces, end) == Some(&Kind::Close)).then_some(first..end)
}

fn kept(pieces: &[Piece], drop: &[bool]) -> Vec<Piece> {
    pieces
        .iter()
        .zip(drop)
        .filter(|(_, d)| !**d)
        .map(|(p, _)| p.clone())
        .collect()
}

/// A value whose first line continues a line indented by `indent`.
fn render(node: &Node, indent: &str, layout: &Layout) -> String {
    let unit = layout.unit;
    match node {
        Node::Json(value) => {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            if serde::Serialize::serialize(value, &mut ser).is_err() {
                return "null".into();
            }
            // A JSON string holds no raw line break, so every '\n' is layout.
            String::from_utf8_lossy(&out).replace('\n', &format!("{}{indent}", layout.newline))
        }
        Node::Object(members) if members.is_empty() => "{}".into(),
        Node::Object(members) => {
            let inner = format!("{indent}{unit}");
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}{inner}{}: {}",
                        layout.newline,
                        Value::from(k.as_str()),
                        render(v, &inner, layout)
                    )
                })
                .collect();
            format!("{{{}{}{indent}}}", body.join(","), layout.newline)
        }
    }
}
