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
