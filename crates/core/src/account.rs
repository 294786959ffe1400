//! Several accounts at one authorization server or for one MCP server (work
//! and personal): each grant carries an account label, and servers are
//! addressed so that two accounts never share a name.
//!
//! The label is the one the user chose (`login --account work`), else one
//! read from the access token's claims (`email`, then `preferred_username`,
//! then `sub`; read without checking the signature, for a name and nothing
//! else), else "default". A grant stored before labels existed has none and
//! is the account "default".
//!
//! Addressing: a server keeps its plain id (or URL) for the first account
//! that holds it in the state file (the one signed in first; signing in
//! again keeps its place), and every other account's copy is
//! `<id>@<label>`. The qualified form names any account, the first one
//! included, so it stays valid whichever accounts come and go.

use crate::model::{Grant, GrantedServer};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The label of a grant stored without one, and of a sign-in whose token
/// names nobody.
pub const DEFAULT: &str = "default";

/// The longest label kept.
pub const MAX_LABEL: usize = 64;

/// A label the user typed that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the account label {0:?} cannot be used: give 1 to 64 letters, digits or the characters . _ - + @"
)]
pub struct BadLabel(pub String);

fn label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@')
}

/// Checks a label the user chose.
pub fn check_label(label: &str) -> Result<String, BadLabel> {
    let ok = !label.is_empty() && label.len() <= MAX_LABEL && label.chars().all(label_char);
    if ok {
        Ok(label.to_string())
    } else {
        Err(BadLabel(crate::text::untrusted(label, 80)))
    }
}

/// A label read from an access token that is a JWT: its `email`,
/// `preferred_username` or `sub` claim, reduced to the label characters.
/// The claims are not verified: they only name the account for the user.
pub fn label_from_token(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    if payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    ["email", "preferred_username", "sub"]
        .iter()
        .filter_map(|name| claims.get(*name)?.as_str())
        .map(|value| {
            value
                .chars()
                .filter(|c| label_char(*c))
                .take(MAX_LABEL)
                .collect::<String>()
        })
        .find(|label| !label.is_empty())
}

/// Whether a new sign-in labelled `label` replaces `old` (same issuer and
/// servers already established): the same account, or an unlabelled grant
/// when the new label was not chosen by the user or is "default".
pub fn same_account(old: &Grant, label: &str, chosen: bool) -> bool {
    match &old.account {
        Some(old) => old == label,
        None => !chosen || label == DEFAULT,
    }
}

/// The grant and server an address names (`id`, URL, or either with
/// `@<label>`), skipping blocked servers unless `with_blocked`.
pub fn resolve<'a>(
    grants: &'a [Grant],
    address: &str,
    with_blocked: bool,
) -> Option<(&'a Grant, &'a GrantedServer)> {
    let in_grant = |g: &'a Grant, name: &str| {
        g.servers
            .iter()
            .filter(|s| with_blocked || !g.is_blocked(&s.id))
            .find(|s| s.id == name || s.resource.as_deref() == Some(name))
    };
    grants
        .iter()
        .find_map(|g| in_grant(g, address).map(|s| (g, s)))
        .or_else(|| {
            grants.iter().find_map(|g| {
                let name = address
                    .strip_suffix(g.account_label())
                    .and_then(|rest| rest.strip_suffix('@'))?;
                in_grant(g, name).map(|s| (g, s))
            })
        })
}

/// The address of server `id` of `grant`: the plain id for the first
/// account holding it (not blocked), `<id>@<label>` for the others.
pub fn address(grants: &[Grant], grant: &Grant, id: &str) -> String {
    let first = grants
        .iter()
        .find(|g| g.active_servers().any(|s| s.id == id))
        .is_none_or(|g| g.id == grant.id);
    if first {
        id.to_string()
    } else {
        qualified(grant, id)
    }
}

/// The address of every server handed out (not blocked), each once, in
/// the state file's order.
pub fn addresses(grants: &[Grant]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for grant in grants {
        for server in grant.active_servers() {
            let a = address(grants, grant, &server.id);
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// `<id>@<label>`: names server `id` of `grant` whatever other accounts exist.
pub fn qualified(grant: &Grant, id: &str) -> String {
    format!("{id}@{}", grant.account_label())
}

/// Whether any other grant also holds server `id` (so the account must be named).
pub fn shared_with_another(grants: &[Grant], grant: &Grant, id: &str) -> bool {
    grants
        .iter()
        .any(|g| g.id != grant.id && g.active_servers().any(|s| s.id == id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{GrantStatus, Mode, TokenKind};

    fn grant(id: &str, account: Option<&str>, servers: &[&str]) -> Grant {
        Grant {
            id: id.into(),
            issuer: "https://as.example".into(),
            account: account.map(str::to_string),
            mode: Mode::PerServer,
            client_id: "c".into(),
            scope: vec![],
            servers: servers
                .iter()
                .map(|s| GrantedServer {
                    id: (*s).into(),
                    name: (*s).into(),
                    resource: Some(format!("https://{s}.example/mcp")),
                    resource_indicator: None,
                    token_kind: TokenKind::Own,
                    expires_at: None,
                    step_up: None,
                })
                .collect(),
            blocked: vec![],
            created_at: chrono::Utc::now(),
            refreshed_at: None,
            status: GrantStatus::Active,
            dpop_bound: false,
        }
    }

    #[test]
    fn plain_ids_name_the_first_account_and_labels_name_the_others() {
        let grants = [
            grant("g1", None, &["gh"]),
            grant("g2", Some("work@corp.example"), &["gh", "slack"]),
        ];
        assert_eq!(resolve(&grants, "gh", false).unwrap().0.id, "g1");
        assert_eq!(resolve(&grants, "gh@default", false).unwrap().0.id, "g1");
        assert_eq!(
            resolve(&grants, "gh@work@corp.example", false)
                .unwrap()
                .0
                .id,
            "g2"
        );
        assert_eq!(
            resolve(&grants, "https://gh.example/mcp@work@corp.example", false)
                .unwrap()
                .1
                .id,
            "gh"
        );
        assert_eq!(resolve(&grants, "slack", false).unwrap().0.id, "g2");
        assert!(resolve(&grants, "gh@nobody", false).is_none());
        assert!(resolve(&grants, "slack@default", false).is_none());
        assert_eq!(address(&grants, &grants[0], "gh"), "gh");
        assert_eq!(address(&grants, &grants[1], "gh"), "gh@work@corp.example");
        assert_eq!(address(&grants, &grants[1], "slack"), "slack");
        assert_eq!(addresses(&grants), ["gh", "gh@work@corp.example", "slack"]);
    }

    #[test]
    fn a_blocked_server_is_found_only_when_asked() {
        let mut g = grant("g1", Some("me"), &["gh"]);
        g.blocked.push("gh".into());
        let grants = [g];
        assert!(resolve(&grants, "gh@me", false).is_none());
        assert!(resolve(&grants, "gh@me", true).is_some());
    }

    #[test]
    fn labels_come_from_email_then_sub_and_bad_ones_are_refused() {
        let jwt = |claims: &str| format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims));
        assert_eq!(
            label_from_token(&jwt(r#"{"sub":"u1","email":"ann@ex.org"}"#)).as_deref(),
            Some("ann@ex.org")
        );
        assert_eq!(
            label_from_token(&jwt(r#"{"sub":"alice\n<b>"}"#)).as_deref(),
            Some("aliceb")
        );
        assert_eq!(label_from_token(&jwt(r#"{"sub":"!!"}"#)), None);
        assert_eq!(label_from_token("opaque-token"), None);
        assert!(check_label("work").is_ok());
        assert!(check_label("").is_err());
        assert!(check_label("a b").is_err());
        assert!(check_label(&"x".repeat(65)).is_err());
    }

    #[test]
    fn an_unlabelled_grant_is_replaced_only_by_an_unchosen_or_default_label() {
        let legacy = grant("g1", None, &["gh"]);
        assert!(same_account(&legacy, "demo", false));
        assert!(same_account(&legacy, "default", true));
        assert!(!same_account(&legacy, "work", true));
        let work = grant("g2", Some("work"), &["gh"]);
        assert!(same_account(&work, "work", true));
        assert!(!same_account(&work, "demo", false));
    }
}
