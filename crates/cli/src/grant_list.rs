//! The grants as `status` prints them: per grant its issuer, account, mode
//! and status, per server its address, resource, token and expiry.

use passport_core::model::{Grant, GrantStatus, Mode, TokenKind};

pub(crate) fn print_grants(
    json: bool,
    grants: &[Grant],
    all: &[Grant],
    now: chrono::DateTime<chrono::Utc>,
    labels: &dyn Fn(&Grant) -> Vec<&'static str>,
) {
    if json {
        println!("{}", serde_json::json!({"grants": grants}));
        return;
    }
    if grants.is_empty() {
        println!("Not signed in anywhere. Run: mcp-passport login <issuer-or-mcp-server-url>");
        return;
    }
    for g in grants {
        let mode = match g.mode {
            Mode::MultiServer => "multi-server",
            Mode::MultiResource => "multi-resource",
            Mode::PerServer => "per-server",
            Mode::Enterprise => "enterprise (organization sign-in)",
        };
        let status = match &g.status {
            GrantStatus::Active => "active".to_string(),
            GrantStatus::SignInNeeded { reason } => format!("SIGN-IN NEEDED: {reason}"),
            GrantStatus::Unreachable { reason, .. } => format!("unreachable: {reason}"),
        };
        let labels = labels(g);
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("  ({})", labels.join(", "))
        };
        println!(
            "{}  account {}  {mode}  {status}{labels}",
            g.issuer,
            g.account_label()
        );
        for s in g.servers.iter() {
            let kind = match s.token_kind {
                TokenKind::Own => "own token",
                TokenKind::Shared => "shared token",
                TokenKind::Unknown => "token not requested yet",
            };
            let expiry = s.expires_at.map_or_else(String::new, |t| {
                let left = (t - now).num_seconds();
                if left > 0 {
                    format!(", expires in {}m{:02}s", left / 60, left % 60)
                } else {
                    ", expired".into()
                }
            });
            let blocked = if g.is_blocked(&s.id) {
                " [revoked here]"
            } else {
                ""
            };
            println!(
                "  {:<14} {:<22} {}{expiry}{blocked}",
                passport_core::account::address(all, g, &s.id),
                s.resource.as_deref().unwrap_or("-"),
                kind
            );
            if let Some(line) = crate::step_up::status_line(g, s) {
                println!("{line}");
            }
        }
    }
}
