//! One object's inside as the CST holds it: the braces, commas, members,
//! whitespace, line breaks and comments, in order, each with its exact text.
//!
//! Edits (see `members`) work on this list, so every piece they keep is
//! written back exactly as the CST read it, and the document around the
//! object is printed from the CST unchanged ([`rewrite`]).

use jsonc_parser::cst::{CstContainerNode, CstLeafNode, CstNode, CstObject, CstRootNode};

/// What a piece is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    /// `{`.
    Open,
    /// `}`.
    Close,
    /// `,`.
    Comma,
    /// A line break (LF, CRLF or CR).
    Newline,
    /// Blanks within a line.
    Space,
    /// `// ...`.
    LineComment,
    /// `/* ... */`.
    BlockComment,
    /// A member (`"key": value`), with its decoded key.
    Member(Option<String>),
    /// Anything else (kept as it is).
    Other,
}

impl Kind {
    /// Whitespace, a line break or a comment.
    pub(super) fn is_trivia(&self) -> bool {
        matches!(
            self,
            Kind::Space | Kind::Newline | Kind::LineComment | Kind::BlockComment
        )
    }
}

/// One child of an object, with its text.
#[derive(Debug, Clone)]
pub(super) struct Piece {
    /// What it is.
    pub kind: Kind,
    /// Its exact text.
    pub text: String,
}

impl Piece {
    /// A piece of this kind and text.
    pub(super) fn new(kind: Kind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
        }
    }
}

/// The object's children, `{` first and `}` last.
pub(super) fn pieces(object: &CstObject) -> Vec<Piece> {
    object
        .children()
        .into_iter()
        .map(|child| {
            let kind = match &child {
                CstNode::Container(CstContainerNode::ObjectProp(prop)) => {
                    Kind::Member(prop.decoded_name())
                }
                CstNode::Leaf(CstLeafNode::Token(token)) => match token.value() {
                    '{' => Kind::Open,
                    '}' => Kind::Close,
                    ',' => Kind::Comma,
                    _ => Kind::Other,
                },
                CstNode::Leaf(CstLeafNode::Newline(_)) => Kind::Newline,
                CstNode::Leaf(CstLeafNode::Whitespace(_)) => Kind::Space,
                CstNode::Leaf(CstLeafNode::Comment(comment)) if comment.is_line_comment() => {
                    Kind::LineComment
                }
                CstNode::Leaf(CstLeafNode::Comment(_)) => Kind::BlockComment,
                _ => Kind::Other,
            };
            Piece::new(kind, child.to_string())
        })
        .collect()
}

/// The pieces' text, in order.
pub(super) fn join(pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.text.as_str()).collect()
}

/// The document's text with the node at `path` (child indexes from the
/// root) replaced by `replacement`; every other node is printed as read.
pub(super) fn rewrite(root: &CstRootNode, path: &[usize], replacement: &str) -> String {
    let mut out = String::new();
    print(&root.clone().into(), path, replacement, &mut out);
    out
}

fn print(node: &CstContainerNode, path: &[usize], replacement: &str, out: &mut String) {
    let Some((&target, rest)) = path.split_first() else {
        out.push_str(replacement);
        return;
    };
    for (index, child) in node.children().into_iter().enumerate() {
        match child {
            CstNode::Container(inner) if index == target && !rest.is_empty() => {
                print(&inner, rest, replacement, out)
            }
            _ if index == target => out.push_str(replacement),
            other => out.push_str(&other.to_string()),
        }
    }
}
