//! One object's inside as the CST holds it: the braces, commas, members,
//! whitespace, line breaks and comments, in order, each with its exact text.
//!
//! Edits (see `members`) work on this list, so every piece they keep is
//! written back exactly as the CST read it; the text around the object is
//! not touched at all.

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

/// The pieces of an object written alone (`{...}`), as the CST reads them;
/// `None` unless the text is exactly one object and reads back unchanged.
pub(super) fn object_pieces(text: &str) -> Option<Vec<Piece>> {
    let root = CstRootNode::parse(text, &super::options()).ok()?;
    let object = root.value()?.as_object()?;
    let pieces = pieces(&object);
    (join(&pieces) == text).then_some(pieces)
}
