//! Step-up in the app: a server that asked for more access (403
//! `insufficient_scope` through the hosted broker's proxy) gets an Approve
//! button that starts the re-authorization the engine plans for it (the
//! union of scopes; at a Multi-Server AS every server of the grant kept
//! checked), and one notification per episode.

use super::Passport;
use crate::error::UiError;
use passport_core::model::Grant;
use passport_core::step_up::StepUpState;
use std::collections::HashMap;
use std::sync::Arc;

impl Passport {
    /// Starts the sign-in that grants `server` the access it asked for.
    /// Returns at once; the outcome arrives as the sign-in's does.
    pub fn approve_step_up(self: &Arc<Self>, server: &str) -> Result<(), UiError> {
        let started = match self.engine.step_up_target(server) {
            Some((target, servers)) => self.begin(target, servers),
            None => Err(UiError::new(
                "no_step_up",
                format!("{server} is not waiting for more access; there is nothing to approve."),
            )),
        };
        self.refused(started)
    }
}

/// The notifications to raise for servers that newly need more access:
/// one per episode (a server and the scope it asked for), kept in `told`
/// until the step-up is approved or refused.
pub(super) fn notices(
    grants: &[Grant],
    told: &mut HashMap<String, &'static str>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open = Vec::new();
    for grant in grants {
        for server in grant.active_servers() {
            let Some(up) = server
                .step_up
                .as_ref()
                .filter(|u| u.state == StepUpState::Needed)
            else {
                continue;
            };
            let key = format!(
                "step-up {} {} {}",
                grant.id,
                server.id,
                up.since.timestamp()
            );
            if !told.contains_key(&key) {
                out.push((
                    "More access needed".to_string(),
                    passport_core::step_up::message(&server.name, up),
                ));
                told.insert(key.clone(), "step-up");
            }
            open.push(key);
        }
    }
    told.retain(|k, v| *v != "step-up" || open.contains(k));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use passport_core::model::{GrantStatus, GrantedServer, Mode, TokenKind};

    fn grant(step_up: Option<passport_core::step_up::StepUp>) -> Grant {
        Grant {
            id: "g".into(),
            issuer: "http://127.0.0.1:9400".into(),
            mode: Mode::MultiServer,
            client_id: "c".into(),
            scope: vec!["mcp:tools".into()],
            servers: vec![GrantedServer {
                id: "github-mcp".into(),
                name: "GitHub".into(),
                resource: None,
                resource_indicator: None,
                token_kind: TokenKind::Shared,
                expires_at: None,
                step_up,
            }],
            blocked: vec![],
            created_at: Utc::now(),
            refreshed_at: None,
            status: GrantStatus::Active,
            account: None,
            dpop_bound: false,
        }
    }

    #[test]
    fn one_notification_per_episode() {
        let mut told = HashMap::new();
        let first = passport_core::step_up::on_refusal(None, &[], "mcp:write", Utc::now());
        let g = grant(first.clone());
        let raised = notices(std::slice::from_ref(&g), &mut told);
        assert_eq!(raised.len(), 1);
        assert_eq!(
            raised[0].1,
            "MCP Passport: GitHub needs more access (mcp:write). Approve it in MCP Passport."
        );
        // The same episode on the next tick, and a wider scope in it: quiet.
        assert!(notices(std::slice::from_ref(&g), &mut told).is_empty());
        let wider = first.as_ref().and_then(|f| {
            passport_core::step_up::on_refusal(Some(f), &[], "mcp:admin", Utc::now())
        });
        assert!(notices(&[grant(wider)], &mut told).is_empty());
        // Approved, then a new episode: told again.
        let approved = first
            .as_ref()
            .map(|f| passport_core::step_up::after_sign_in(f, &["mcp:write".into()]));
        assert!(notices(&[grant(approved)], &mut told).is_empty());
        assert!(told.is_empty());
        let later = Utc::now() + chrono::Duration::seconds(5);
        let again = passport_core::step_up::on_refusal(None, &[], "mcp:write", later);
        assert_eq!(notices(&[grant(again)], &mut told).len(), 1);
    }
}
