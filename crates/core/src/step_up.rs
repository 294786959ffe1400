//! Step-up (SEP-2350): a server that refuses a token with 403
//! `insufficient_scope` names the scope it wants. What it asked for is kept
//! on that server until a re-authorization grants it, and the user is told
//! in words they can act on.
//!
//! A re-authorization asks for the union of what the grant has and what the
//! server asked for, so nothing granted before is lost. The retry limit
//! keeps a server that goes on refusing from asking forever: once
//! [`MAX_REAUTHORIZATIONS`] re-authorizations for a scope are spent (the AS
//! left the scope out, or the server still refuses the new token for the
//! same scope), the step-up is [`StepUpState::Refused`] and nothing asks for
//! it again by itself.
//!
//! Pure functions of the grant's scope and the challenge, tested without a
//! network; the engine applies them to its state (`engine::step_up`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Re-authorizations asked for one scope before giving up.
pub const MAX_REAUTHORIZATIONS: u32 = 1;

/// Where a step-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepUpState {
    /// The server needs more access; the user has not approved it yet.
    Needed,
    /// A re-authorization granted what the server asked for.
    Approved,
    /// The authorization server did not grant it (retry limit reached).
    Refused,
}

/// What a server asked for beyond its grant, and where that stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUp {
    /// The scope a re-authorization asks for: the grant's plus the server's.
    pub scope: Vec<String>,
    /// What the server asked for that the grant lacks: what the user approves.
    pub missing: Vec<String>,
    /// Where it stands.
    pub state: StepUpState,
    /// Re-authorizations made for it so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the server first refused for it.
    pub since: DateTime<Utc>,
}

impl StepUp {
    /// Whether it still waits for the user (needed or refused, not approved).
    pub fn open(&self) -> bool {
        self.state != StepUpState::Approved
    }

    /// `missing` as one scope string, e.g. `mcp:write`.
    pub fn missing_text(&self) -> String {
        self.missing.join(" ")
    }
}

/// The plain scopes of a space-separated scope string, without duplicates
/// (a `servers:` entry is the Multi-Server AS's server list, not a scope).
fn plain(scope: &str) -> Vec<String> {
    crate::scope::split(scope).0
}

/// Most scopes taken from one challenge (the server is not trusted).
const MAX_ASKED: usize = 16;

/// An RFC 6749 section 3.3 scope-token of at most 128 characters; a
/// challenge's other items are dropped.
fn valid_scope_token(s: &str) -> bool {
    s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// `a` then the items of `b` not in it.
fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
    out
}

fn subset(a: &[String], of: &[String]) -> bool {
    a.iter().all(|x| of.contains(x))
}

/// The step-up after the server refused with `asked` (the challenge's
/// `scope`) while the grant has `granted`. `None` when the challenge names
/// no scope and nothing was recorded before.
pub fn on_refusal(
    current: Option<&StepUp>,
    granted: &[String],
    asked: &str,
    now: DateTime<Utc>,
) -> Option<StepUp> {
    let asked: Vec<String> = plain(asked)
        .into_iter()
        .filter(|s| valid_scope_token(s))
        .take(MAX_ASKED)
        .collect();
    if asked.is_empty() {
        return current.cloned();
    }
    // A server that refuses a scope the grant claims still needs a token
    // that carries it: all of it is to approve.
    let lacking: Vec<String> = asked
        .iter()
        .filter(|s| !granted.contains(s))
        .cloned()
        .collect();
    let missing = if lacking.is_empty() {
        asked.clone()
    } else {
        lacking
    };
    let fresh = |attempts: u32, since: DateTime<Utc>| StepUp {
        scope: union(granted, &asked),
        missing: missing.clone(),
        state: StepUpState::Needed,
        attempts,
        since,
    };
    Some(match current {
        None => fresh(0, now),
        Some(c) if c.state == StepUpState::Needed => StepUp {
            scope: union(&union(&c.scope, granted), &asked),
            missing: union(&c.missing, &missing),
            ..c.clone()
        },
        // The same scope asked again after a re-authorization for it.
        Some(c) if subset(&asked, &c.scope) => {
            if c.attempts >= MAX_REAUTHORIZATIONS {
                StepUp {
                    state: StepUpState::Refused,
                    ..c.clone()
                }
            } else {
                StepUp {
                    state: StepUpState::Needed,
                    ..c.clone()
                }
            }
        }
        // Something new: a new episode.
        Some(_) => fresh(0, now),
    })
}

/// The step-up after a sign-in that granted `granted` to the server.
/// Approved when the sign-in granted what was missing; otherwise one
/// attempt is spent, and at the limit it is refused.
pub fn after_sign_in(current: &StepUp, granted: &[String]) -> StepUp {
    if current.state == StepUpState::Approved {
        return current.clone();
    }
    let attempts = current.attempts.saturating_add(1);
    let state = if subset(&current.missing, granted) {
        StepUpState::Approved
    } else if attempts >= MAX_REAUTHORIZATIONS {
        StepUpState::Refused
    } else {
        StepUpState::Needed
    };
    StepUp {
        state,
        attempts,
        ..current.clone()
    }
}

/// What the user reads about it, e.g. "MCP Passport: GitHub needs more
/// access (mcp:write). Approve it in MCP Passport." `name` is filtered as
/// untrusted text (it comes from the AS or the server).
pub fn message(name: &str, step_up: &StepUp) -> String {
    let name = crate::text::untrusted(name, 80);
    let scope = crate::text::untrusted(&step_up.missing_text(), 200);
    match step_up.state {
        StepUpState::Refused => format!(
            "MCP Passport: {name} needs more access ({scope}), which its authorization server did not grant. Ask its administrator for it, then sign in again in MCP Passport."
        ),
        _ => {
            format!("MCP Passport: {name} needs more access ({scope}). Approve it in MCP Passport.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        plain(s)
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    #[test]
    fn the_scope_asked_for_is_the_union_with_what_the_grant_has() {
        let s = on_refusal(
            None,
            &v("mcp:global mcp:tools"),
            "mcp:tools mcp:write",
            at(1),
        )
        .unwrap_or_else(|| panic!("recorded"));
        assert_eq!(s.scope, v("mcp:global mcp:tools mcp:write"));
        assert_eq!(s.missing, v("mcp:write"));
        assert_eq!(s.state, StepUpState::Needed);
        assert_eq!(s.attempts, 0);
        // A second refusal asking for more widens the same episode.
        let s = on_refusal(Some(&s), &v("mcp:global mcp:tools"), "mcp:admin", at(2))
            .unwrap_or_else(|| panic!("recorded"));
        assert_eq!(s.scope, v("mcp:global mcp:tools mcp:write mcp:admin"));
        assert_eq!(s.missing, v("mcp:write mcp:admin"));
        assert_eq!(s.since, at(1));
        // `servers:` is not a scope; no scope at all records nothing.
        let s = on_refusal(None, &v("a"), "servers:x,y b", at(1)).unwrap_or_else(|| panic!("b"));
        assert_eq!(s.scope, v("a b"));
        assert_eq!(on_refusal(None, &v("a"), "  ", at(1)), None);
        // Items that are not scope tokens, and a flood of them, are dropped.
        let junk = format!(
            "b\"c {} {}",
            "x".repeat(129),
            (0..40)
                .map(|i| format!("s{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let s = on_refusal(None, &[], &junk, at(1)).unwrap_or_else(|| panic!("s0"));
        assert_eq!(s.missing.len(), MAX_ASKED);
        assert_eq!(s.missing[0], "s0");
    }

    #[test]
    fn a_granted_reauthorization_approves_and_a_new_refusal_for_it_is_refused() {
        let needed = on_refusal(None, &v("mcp:tools"), "mcp:tools mcp:write", at(1))
            .unwrap_or_else(|| panic!("recorded"));
        let approved = after_sign_in(&needed, &v("mcp:tools mcp:write"));
        assert_eq!(approved.state, StepUpState::Approved);
        assert!(!approved.open());
        // The server still refuses for the same scope: stop asking.
        let again = on_refusal(
            Some(&approved),
            &v("mcp:tools mcp:write"),
            "mcp:tools mcp:write",
            at(5),
        )
        .unwrap_or_else(|| panic!("recorded"));
        assert_eq!(again.state, StepUpState::Refused);
        assert_eq!(again.missing, v("mcp:write"));
        // And it stays refused however often the server refuses.
        let still = on_refusal(Some(&again), &v("mcp:tools"), "mcp:write", at(6))
            .unwrap_or_else(|| panic!("recorded"));
        assert_eq!(still.state, StepUpState::Refused);
        assert!(message("GitHub", &still).contains("did not grant"));
    }

    #[test]
    fn a_reauthorization_that_leaves_the_scope_out_is_refused_at_the_limit() {
        let needed =
            on_refusal(None, &v("mcp:tools"), "mcp:write", at(1)).unwrap_or_else(|| panic!("x"));
        let after = after_sign_in(&needed, &v("mcp:tools"));
        assert_eq!(after.attempts, 1);
        assert_eq!(after.state, StepUpState::Refused);
        // An approved one is left alone by later sign-ins.
        let approved = after_sign_in(&needed, &v("mcp:tools mcp:write"));
        assert_eq!(after_sign_in(&approved, &v("x")), approved);
    }

    #[test]
    fn a_new_scope_after_an_approval_starts_a_new_episode() {
        let needed = on_refusal(None, &v("a"), "a b", at(1)).unwrap_or_else(|| panic!("recorded"));
        let approved = after_sign_in(&needed, &v("a b"));
        let next =
            on_refusal(Some(&approved), &v("a b"), "c", at(9)).unwrap_or_else(|| panic!("c"));
        assert_eq!(next.state, StepUpState::Needed);
        assert_eq!(next.attempts, 0);
        assert_eq!(next.since, at(9));
        assert_eq!(next.scope, v("a b c"));
        assert_eq!(next.missing, v("c"));
    }

    #[test]
    fn the_message_names_the_server_and_scope_without_control_characters() {
        let s = on_refusal(None, &[], "mcp:write", at(1)).unwrap_or_else(|| panic!("x"));
        assert_eq!(
            message("GitHub\u{1b}[2J", &s),
            "MCP Passport: GitHub[2J needs more access (mcp:write). Approve it in MCP Passport."
        );
    }
}
