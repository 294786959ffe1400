//! What the dashboard and the tray show, computed from the engine's grants:
//! plain data with no secret in it (the webview never sees a token), and the
//! tray's look and one-line summaries. Pure functions of the grants and the
//! time, so they are tested without a window.

use chrono::{DateTime, Utc};
use passport_core::model::{Grant, GrantStatus, Mode, TokenKind};
use serde::Serialize;
use std::collections::HashSet;

/// One granted server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerView {
    /// Its address: catalog id (or resource URL), with `@<account>` for a
    /// second account's copy (what revoking and clients name it by).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The MCP URL, when known.
    pub url: Option<String>,
    /// `active`, `refreshing`, `expired`, `sign-in-needed`, `unreachable`,
    /// `revoking` (asked of the AS, not finished) or `revoked` (blocked on
    /// this computer; the AS still lists it).
    pub status: &'static str,
    /// When its current access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it gets its own audience-restricted token: `own`, `shared` or `unknown`.
    pub token: &'static str,
    /// The scope it asked for and has not been granted (step-up), shown
    /// with `needs-more-access` or `scope-refused`.
    pub needs_scope: Option<String>,
    /// Its tokens are DPoP-bound: "bound to this computer", usable only
    /// through MCP Passport's proxy.
    pub bound: bool,
}

/// One sign-in at one authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    /// The issuer URL.
    pub issuer: String,
    /// The account's label.
    pub account: String,
    /// How it signs in, in plain words.
    pub mode: &'static str,
    /// `active`, `sign-in-needed` or `unreachable`.
    pub status: &'static str,
    /// The status in one sentence.
    pub status_text: String,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// When the last refresh succeeded.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Whether Add servers can re-open the AS's server picker.
    pub can_add_servers: bool,
    /// Its servers.
    pub servers: Vec<ServerView>,
}

/// How the tray icon looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrayLook {
    /// Everything works (or nothing is set up yet).
    Ok,
    /// Something needs the user: a sign-in.
    Attention,
    /// Something is failing: an AS cannot be reached.
    Error,
}

fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::MultiServer => "one sign-in for all its servers",
        Mode::MultiResource => "one sign-in naming each server",
        Mode::PerServer => "one sign-in per server",
        Mode::Enterprise => "one sign-in with your organization",
    }
}

fn account_status(grant: &Grant) -> (&'static str, String) {
    match &grant.status {
        GrantStatus::Active => ("active", "Signed in; tokens are kept fresh.".to_string()),
        GrantStatus::SignInNeeded { reason } => {
            ("sign-in-needed", format!("Sign-in needed: {reason}."))
        }
        GrantStatus::Unreachable {
            reason, attempts, ..
        } => (
            "unreachable",
            format!(
                "Cannot reach the authorization server ({reason}); {attempts} attempt(s) failed. Unexpired tokens still work; it retries by itself."
            ),
        ),
    }
}

/// What the app is doing to the grants right now.
#[derive(Debug, Clone, Copy)]
pub struct Busy<'a> {
    /// Grants (by id) being refreshed.
    pub refreshing: &'a HashSet<String>,
    /// Servers (by id) being revoked.
    pub revoking: &'a [String],
}

/// The accounts, grouped by grant, in a stable order (issuer, then sign-in time).
pub fn accounts(grants: &[Grant], now: DateTime<Utc>, busy: &Busy<'_>) -> Vec<AccountView> {
    let mut views: Vec<AccountView> = grants
        .iter()
        .map(|grant| {
            let (status, status_text) = account_status(grant);
            let servers = grant
                .servers
                .iter()
                .map(|s| {
                    let address = passport_core::account::address(grants, grant, &s.id);
                    let status = if busy.revoking.contains(&address) {
                        "revoking"
                    } else if grant.is_blocked(&s.id) {
                        "revoked"
                    } else if busy.refreshing.contains(&grant.id) {
                        "refreshing"
                    } else if status != "active" {
                        status
                    } else if s.expires_at.is_some_and(|at| at <= now) {
                        "expired"
                    } else {
                        "active"
                    };
                    let (status, needs_scope) = step_up::status(status, s);
                    ServerView {
                        id: address,
                        name: s.name.clone(),
                        url: s.resource.clone(),
                        status,
                        // No countdown for a token that is no longer handed out.
                        expires_at: s.expires_at.filter(|_| {
                            !matches!(status, "revoking" | "revoked" | "sign-in-needed")
                        }),
                        token: match s.token_kind {
                            TokenKind::Own => "own",
                            TokenKind::Shared => "shared",
                            TokenKind::Unknown => "unknown",
                        },
                        needs_scope,
                        bound: grant.dpop_bound,
                    }
                })
                .collect();
            AccountView {
                issuer: grant.issuer.clone(),
                account: grant.account_label().to_string(),
                mode: mode_text(grant.mode),
                status,
                status_text,
                created_at: grant.created_at,
                refreshed_at: grant.refreshed_at,
                can_add_servers: grant.mode == Mode::MultiServer,
                servers,
            }
        })
        .collect();
    views.sort_by(|a, b| (&a.issuer, a.created_at).cmp(&(&b.issuer, b.created_at)));
    views
}

/// The tray's look: error beats attention beats ok.
pub fn tray_look(accounts: &[AccountView]) -> TrayLook {
    if accounts.iter().any(|a| a.status == "unreachable") {
        TrayLook::Error
    } else if accounts
        .iter()
        .any(|a| a.status == "sign-in-needed" || step_up_open(a))
    {
        TrayLook::Attention
    } else {
        TrayLook::Ok
    }
}

/// Whether a server of `account` asked for more access than it has.
fn step_up_open(account: &AccountView) -> bool {
    account
        .servers
        .iter()
        .any(|s| s.status == "needs-more-access")
}

/// One line per account for the tray menu, e.g. "127.0.0.1:9400: 3 servers, all good"
/// ("127.0.0.1:9400 (work): ..." where several accounts share the issuer).
pub fn tray_lines(accounts: &[AccountView]) -> Vec<String> {
    if accounts.is_empty() {
        return vec!["Not signed in yet".to_string()];
    }
    accounts
        .iter()
        .map(|a| {
            let host = url::Url::parse(&a.issuer)
                .ok()
                .and_then(|u| {
                    u.host_str().map(|h| match u.port() {
                        Some(p) => format!("{h}:{p}"),
                        None => h.to_string(),
                    })
                })
                .unwrap_or_else(|| a.issuer.clone());
            let shared = accounts.iter().filter(|b| b.issuer == a.issuer).count() > 1;
            let host = if shared {
                format!("{host} ({})", a.account)
            } else {
                host
            };
            let live = a.servers.iter().filter(|s| s.status != "revoked").count();
            let state = match a.status {
                "active" if step_up_open(a) => "needs attention (more access)",
                "active" => "all good",
                "sign-in-needed" => "sign-in needed",
                _ => "cannot reach the server",
            };
            format!(
                "{host}: {live} server{}, {state}",
                if live == 1 { "" } else { "s" }
            )
        })
        .collect()
}

mod step_up;
#[cfg(test)]
mod tests;
