//! A model of a JSON-with-comments config file: lines of members and
//! comments, rendered in a given indentation, line break and comma style,
//! with our entries written the way connecting writes them. The property
//! tests compare the code's output with this model's rendering.

use passport_connect::jsonedit::Node;
use serde_json::json;

pub const PREFIX: &str = "passport-";
pub const SERVERS: &str = "mcpServers";

/// One line inside an object.
#[derive(Debug, Clone)]
pub enum Line {
    /// A comment on a line of its own.
    Comment(String),
    /// The user's member, with a block comment before it and a comment after it.
    User {
        key: String,
        value: String,
        lead: Option<String>,
        trail: Option<String>,
    },
    /// Our entry for a server.
    Ours {
        id: String,
        lead: Option<String>,
        trail: Option<String>,
    },
    /// The servers object (top level only).
    Servers {
        lines: Vec<Line>,
        trail: Option<String>,
    },
}

impl Line {
    pub fn is_member(&self) -> bool {
        !matches!(self, Line::Comment(_))
    }
}

/// A config file.
#[derive(Debug, Clone)]
pub struct File {
    pub bom: bool,
    pub newline: &'static str,
    pub unit: &'static str,
    pub header: Vec<String>,
    pub top: Vec<Line>,
    pub trailing_top: bool,
    pub trailing_servers: bool,
    pub footer: Option<String>,
    pub final_newline: bool,
}

impl File {
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.bom {
            out.push('\u{feff}');
        }
        for line in &self.header {
            out.push_str(&self.comment(line));
            out.push_str(self.newline);
        }
        out.push_str(&self.object(&self.top, 0, self.trailing_top));
        if let Some(footer) = &self.footer {
            out.push(' ');
            out.push_str(&self.comment(footer));
        }
        if self.final_newline || self.footer.as_deref().is_some_and(|f| f.starts_with("//")) {
            out.push_str(self.newline);
        }
        out
    }

    fn comment(&self, text: &str) -> String {
        text.replace("{NL}", self.newline)
    }

    fn object(&self, lines: &[Line], depth: usize, trailing: bool) -> String {
        if lines.is_empty() {
            return "{}".into();
        }
        let indent = self.unit.repeat(depth + 1);
        let last = lines.iter().rposition(Line::is_member);
        let mut out = "{".to_string();
        for (n, line) in lines.iter().enumerate() {
            out.push_str(self.newline);
            out.push_str(&indent);
            let comma = if Some(n) != last || trailing { "," } else { "" };
            let (lead, text, trail) = match line {
                Line::Comment(c) => {
                    out.push_str(&self.comment(c));
                    continue;
                }
                Line::User {
                    key,
                    value,
                    lead,
                    trail,
                } => (lead, format!("\"{key}\": {value}"), trail),
                Line::Ours { id, lead, trail } => (lead, self.ours(id, &indent), trail),
                Line::Servers { lines, trail } => (
                    &None,
                    format!(
                        "\"{SERVERS}\": {}",
                        self.object(lines, depth + 1, self.trailing_servers)
                    ),
                    trail,
                ),
            };
            if let Some(lead) = lead {
                out.push_str(&self.comment(lead));
                out.push(' ');
            }
            out.push_str(&text);
            out.push_str(comma);
            if let Some(trail) = trail {
                out.push(' ');
                out.push_str(&self.comment(trail));
            }
        }
        out.push_str(self.newline);
        out.push_str(&self.unit.repeat(depth));
        out.push('}');
        out
    }

    /// Our entry as connect writes it, by hand: members in order, nested
    /// objects one level deeper.
    fn ours(&self, id: &str, indent: &str) -> String {
        let (nl, u) = (self.newline, self.unit);
        format!(
            "\"{PREFIX}{id}\": {{{nl}{indent}{u}\"url\": \"http://127.0.0.1:8755/v1/mcp/{id}\",\
             {nl}{indent}{u}\"headers\": {{{nl}{indent}{u}{u}\"Authorization\": \"Bearer k-{id}\"\
             {nl}{indent}{u}}}{nl}{indent}}}"
        )
    }

    pub fn servers(&mut self) -> Option<&mut Vec<Line>> {
        self.top.iter_mut().find_map(|l| match l {
            Line::Servers { lines, .. } => Some(lines),
            _ => None,
        })
    }

    /// The file as connecting `ids` should leave it: the servers object
    /// (added after the last top-level member when missing) with our
    /// entries after its last member.
    pub fn connected(&self, ids: &[String]) -> File {
        let mut file = self.clone();
        if file.servers().is_none() {
            let at = after_last_member(&file.top);
            file.top.insert(
                at,
                Line::Servers {
                    lines: Vec::new(),
                    trail: None,
                },
            );
        }
        let lines = file.servers().unwrap();
        let at = after_last_member(lines);
        for (n, id) in ids.iter().enumerate() {
            lines.insert(
                at + n,
                Line::Ours {
                    id: id.clone(),
                    lead: None,
                    trail: None,
                },
            );
        }
        file
    }

    /// The file with our entries taken out: a comment the user wrote on
    /// one of their lines stays, on a line of its own.
    pub fn without_ours(&self) -> File {
        let mut file = self.clone();
        if let Some(lines) = file.servers() {
            *lines = lines
                .drain(..)
                .filter_map(|line| match line {
                    Line::Ours { lead, trail, .. } => {
                        let kept: Vec<String> = lead.into_iter().chain(trail).collect();
                        (!kept.is_empty()).then(|| Line::Comment(kept.join(" ")))
                    }
                    other => Some(other),
                })
                .collect();
        }
        file
    }
}

fn after_last_member(lines: &[Line]) -> usize {
    lines
        .iter()
        .rposition(Line::is_member)
        .map_or(lines.len(), |i| i + 1)
}

pub fn items(ids: &[String]) -> Vec<(String, Node)> {
    ids.iter()
        .map(|id| {
            let node = Node::Object(vec![
                (
                    "url".into(),
                    Node::Json(json!(format!("http://127.0.0.1:8755/v1/mcp/{id}"))),
                ),
                (
                    "headers".into(),
                    Node::Json(json!({"Authorization": format!("Bearer k-{id}")})),
                ),
            ]);
            (format!("{PREFIX}{id}"), node)
        })
        .collect()
}
