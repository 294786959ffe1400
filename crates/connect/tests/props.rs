//! Property tests for client config editing: for random JSON-with-comments
//! files (members and comments in random places, a byte order mark or not,
//! LF or CRLF, trailing commas or not) and random edits the user makes
//! between connecting and disconnecting, disconnecting leaves exactly the
//! user's file with our entries taken out.
//!
//! The files are rendered from a model (`model::File`), so "the file without our
//! entries" is the same model rendered without them: it does not depend on
//! the code under test. Connecting is checked against the model too: our
//! entries go after the last member's line, in the file's indentation, line
//! break and comma style.
#![allow(clippy::unwrap_used, missing_docs)]

mod model;

use model::{File, Line, PREFIX, SERVERS, items};
use passport_connect::jsonedit::{remove_prefixed, set_members};
use proptest::prelude::*;

/// Comments that may stand on a line of their own or end one.
fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("// a note".to_string()),
        Just("// \"passport-x\": {}, } ]".to_string()),
        Just("/* block */".to_string()),
        Just("/* two{NL}   lines */".to_string()),
        Just("/**/".to_string()),
        Just("// ünïcödé ✓".to_string()),
    ]
}

/// Block comments, which may stand before a member on its line.
fn block() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/* before */".to_string()),
        Just("/* x // y */".to_string())
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_string()),
        Just("\"text // not a comment\"".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("[1, 2]".to_string()),
        Just("{}".to_string()),
        Just("{\"command\": \"npx\", \"args\": [\"-y\", \"srv\"]}".to_string()),
        Just("\"/* nor this */\"".to_string()),
    ]
}

fn user(key: String) -> impl Strategy<Value = Line> {
    (
        value(),
        prop::option::weighted(0.2, block()),
        prop::option::weighted(0.3, comment()),
    )
        .prop_map(move |(value, lead, trail)| Line::User {
            key: key.clone(),
            value,
            lead,
            trail,
        })
}

/// Lines of an object: members keyed `<prefix>0`, `<prefix>1`... and comments.
fn lines(prefix: &'static str) -> impl Strategy<Value = Vec<Line>> {
    prop::collection::vec(prop::bool::weighted(0.65), 0..6).prop_flat_map(move |kinds| {
        kinds
            .into_iter()
            .enumerate()
            .map(|(n, member)| {
                if member {
                    user(format!("{prefix}{n}")).boxed()
                } else {
                    comment().prop_map(Line::Comment).boxed()
                }
            })
            .collect::<Vec<_>>()
    })
}

prop_compose! {
    fn file()(
        bom in any::<bool>(),
        crlf in any::<bool>(),
        unit in prop_oneof![Just("  "), Just("    "), Just("\t")],
        header in prop::collection::vec(comment(), 0..3),
        before in lines("user"),
        servers in prop::option::weighted(0.8, (lines("srv"), prop::option::weighted(0.3, comment()))),
        after in lines("later"),
        trailing_top in any::<bool>(),
        trailing_servers in any::<bool>(),
        footer in prop::option::weighted(0.3, comment()),
        final_newline in any::<bool>(),
    ) -> File {
        let mut top = before;
        let has_servers_members = servers.as_ref().is_some_and(|(l, _)| l.iter().any(Line::is_member));
        if let Some((lines, trail)) = servers {
            top.push(Line::Servers { lines, trail });
        }
        top.extend(after);
        let has_members = top.iter().any(Line::is_member);
        let mut file = File {
            bom,
            newline: if crlf { "\r\n" } else { "\n" },
            // Without a member to learn it from, new lines get two spaces.
            unit: if has_members { unit } else { "  " },
            header,
            top,
            // The comma style is learnt from the last member.
            trailing_top: trailing_top && has_members,
            trailing_servers: trailing_servers && has_servers_members,
            footer,
            final_newline,
        };
        // A file with no line break at all (`{}`) has no line ending to
        // learn: new lines get `\n`.
        if !file.render().contains('\n') {
            file.newline = "\n";
        }
        file
    }
}

/// What the user does between connecting and disconnecting.
#[derive(Debug, Clone)]
enum Edit {
    /// Adds a server of their own, maybe with a comment above or below it.
    AddServer {
        at: usize,
        server: Line,
        above: Option<String>,
        below: Option<String>,
    },
    /// Adds a comment on a line of its own.
    AddComment { at: usize, comment: String },
    /// Changes the value of one of their servers.
    ChangeValue { nth: usize, value: String },
    /// Writes a block comment before a member (theirs or ours) on its line.
    Lead { nth: usize, comment: String },
    /// Writes a comment after a member (theirs or ours) on its line.
    Trail { nth: usize, comment: String },
    /// Adds a top-level member after the servers object.
    AddTop { line: Line },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (
            any::<usize>(),
            user("placeholder".into()),
            prop::option::of(comment()),
            prop::option::of(comment())
        )
            .prop_map(|(at, server, above, below)| Edit::AddServer {
                at,
                server,
                above,
                below
            }),
        (any::<usize>(), comment()).prop_map(|(at, comment)| Edit::AddComment { at, comment }),
        (any::<usize>(), value()).prop_map(|(nth, value)| Edit::ChangeValue { nth, value }),
        (any::<usize>(), block()).prop_map(|(nth, comment)| Edit::Lead { nth, comment }),
        (any::<usize>(), comment()).prop_map(|(nth, comment)| Edit::Trail { nth, comment }),
        user("placeholder".into()).prop_map(|line| Edit::AddTop { line }),
    ]
}

fn apply(file: &mut File, edits: &[Edit]) {
    for (n, edit) in edits.iter().enumerate() {
        let fresh = |line: &Line, prefix: &str| match line {
            Line::User {
                value, lead, trail, ..
            } => Line::User {
                key: format!("{prefix}{n}"),
                value: value.clone(),
                lead: lead.clone(),
                trail: trail.clone(),
            },
            other => other.clone(),
        };
        if let Edit::AddTop { line } = edit {
            let at = file
                .top
                .iter()
                .position(|l| matches!(l, Line::Servers { .. }))
                .map_or(file.top.len(), |i| i + 1);
            file.top.insert(at, fresh(line, "top-added"));
            continue;
        }
        let lines = file.servers().unwrap();
        let members: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].is_member()).collect();
        match edit {
            Edit::AddServer {
                at,
                server,
                above,
                below,
            } => {
                let at = at % (lines.len() + 1);
                let mut new: Vec<Line> = above.iter().cloned().map(Line::Comment).collect();
                new.push(fresh(server, "added"));
                new.extend(below.iter().cloned().map(Line::Comment));
                lines.splice(at..at, new);
            }
            Edit::AddComment { at, comment } => {
                let at = at % (lines.len() + 1);
                lines.insert(at, Line::Comment(comment.clone()));
            }
            Edit::ChangeValue { nth, value } => {
                let theirs: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| matches!(lines[i], Line::User { .. }))
                    .collect();
                if !theirs.is_empty()
                    && let Line::User { value: v, .. } = &mut lines[theirs[nth % theirs.len()]]
                {
                    *v = value.clone();
                }
            }
            Edit::Lead { nth, comment } | Edit::Trail { nth, comment } => {
                let lead = matches!(edit, Edit::Lead { .. });
                if let Some(&i) = members.get(nth % members.len().max(1)) {
                    match &mut lines[i] {
                        Line::User {
                            lead: l, trail: t, ..
                        }
                        | Line::Ours {
                            lead: l, trail: t, ..
                        } => *(if lead { l } else { t }) = Some(comment.clone()),
                        _ => {}
                    }
                }
            }
            Edit::AddTop { .. } => {}
        }
    }
}

fn ids() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(
        vec!["github".to_string(), "slack".into(), "linear".into()],
        1..=3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Connecting writes our entries after the last member in the file's
    /// own style, and disconnecting with no edit in between gives back the
    /// original bytes (a servers object we had to add stays, empty).
    #[test]
    fn connect_then_disconnect_gives_back_the_original(file in file(), ids in ids()) {
        let original = file.render();
        let connected = set_members(&original, SERVERS, PREFIX, &items(&ids)).unwrap();
        prop_assert_eq!(&connected, &file.connected(&ids).render(), "connecting {:?}", original);
        let back = remove_prefixed(&connected, SERVERS, PREFIX).unwrap();
        let expected = file.connected(&[]).render();
        prop_assert_eq!(&back, &expected);
        let had_servers = file.clone().servers().is_some();
        if had_servers {
            prop_assert_eq!(&back, &original);
        }
        // Connecting twice changes nothing more.
        let again = set_members(&connected, SERVERS, PREFIX, &items(&ids)).unwrap();
        prop_assert_eq!(&again, &connected);
    }

    /// Whatever the user writes around our entries between connecting and
    /// disconnecting, disconnecting removes our entries and nothing else.
    #[test]
    fn disconnect_after_user_edits_removes_only_our_entries(
        file in file(),
        ids in ids(),
        edits in prop::collection::vec(edit(), 0..6),
    ) {
        let mut edited = file.connected(&ids);
        apply(&mut edited, &edits);
        let text = edited.render();
        let disconnected = remove_prefixed(&text, SERVERS, PREFIX).unwrap();
        prop_assert_eq!(disconnected, edited.without_ours().render(), "from {:?}", text);
    }
}
