//! Step-up on the engine's state: a 403 `insufficient_scope` seen by the
//! broker's proxy or by `check` is recorded on the server it came from; a
//! sign-in at that server's issuer asks for the union of scopes (and, at a
//! Multi-Server AS, keeps every server of the grant checked); the new grant
//! carries the outcome over (approved, or refused at the retry limit). The
//! rules themselves are in [`crate::step_up`].

use super::Engine;
use super::login::LoginTarget;
use super::plan::Plan;
use crate::error::EngineError;
use crate::model::{Grant, Mode};
use crate::scope;
use crate::step_up::{self, StepUp};

/// What was recorded for a refused call, for the one who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpNotice {
    /// The server's id.
    pub server: String,
    /// Its display name.
    pub name: String,
    /// The step-up as now recorded.
    pub step_up: StepUp,
    /// The sentence to show: what is missing and what to do.
    pub message: String,
}

impl Engine {
    /// Records that `server` (id or URL) refused its token with 403
    /// `insufficient_scope` asking for `asked`. `None` when the server is
    /// not granted or the challenge names no scope.
    pub fn record_insufficient_scope(
        &self,
        server: &str,
        asked: &str,
    ) -> Result<Option<StepUpNotice>, EngineError> {
        let Some(grant) = self.grant_for(server) else {
            return Ok(None);
        };
        let Some(entry) = grant.server(server).cloned() else {
            return Ok(None);
        };
        let now = self.clock.now();
        let Some(next) = step_up::on_refusal(entry.step_up.as_ref(), &grant.scope, asked, now)
        else {
            return Ok(None);
        };
        if entry.step_up.as_ref() != Some(&next) {
            let recorded = next.clone();
            self.update_grant(&grant.id, |g| {
                if let Some(s) = g.servers.iter_mut().find(|s| s.id == entry.id) {
                    s.step_up = Some(recorded);
                }
            })?;
            tracing::info!(server = %entry.id, scope = %next.missing_text(), state = ?next.state, "the server asked for more access");
        }
        Ok(Some(StepUpNotice {
            message: step_up::message(&entry.name, &next),
            server: entry.id,
            name: entry.name,
            step_up: next,
        }))
    }

    /// The sign-in that approves `server`'s step-up: its issuer at a
    /// Multi-Server AS (every server of the grant kept), else its URL.
    /// `None` when the server has no open step-up.
    pub fn step_up_target(&self, server: &str) -> Option<(LoginTarget, Vec<String>)> {
        let grant = self.grant_for(server)?;
        let entry = grant.server(server)?;
        entry.step_up.as_ref().filter(|s| s.open())?;
        Some(match grant.mode {
            Mode::MultiServer => (
                LoginTarget::Issuer(grant.issuer.clone()),
                grant.active_servers().map(|s| s.id.clone()).collect(),
            ),
            _ => (LoginTarget::Servers(vec![entry.resource.clone()?]), vec![]),
        })
    }

    /// Widens each plan by the open step-ups of the servers it signs in
    /// to: the union of scopes, and at a Multi-Server AS every server of
    /// the current grant kept in the picker.
    pub(super) fn widen_for_step_ups(&self, plans: &mut [Plan]) {
        let grants = self.grants();
        for plan in plans.iter_mut() {
            let multi = plan.mode == Mode::MultiServer;
            let covered = |g: &Grant, url: Option<&str>| {
                g.issuer == plan.issuer
                    && (multi || url.is_some_and(|u| plan.urls.iter().any(|p| p == u)))
            };
            let mut wanted: Vec<String> = Vec::new();
            let mut keep: Vec<String> = Vec::new();
            for g in &grants {
                for s in g.active_servers() {
                    if !covered(g, s.resource.as_deref()) {
                        continue;
                    }
                    if let Some(up) = s.step_up.as_ref().filter(|u| u.open()) {
                        wanted.extend(up.scope.iter().cloned());
                        if multi {
                            keep.extend(g.active_servers().map(|x| x.id.clone()));
                        }
                    }
                }
            }
            if wanted.is_empty() {
                continue;
            }
            let (mut plain, _) = plan.scope.as_deref().map(scope::split).unwrap_or_default();
            for s in wanted {
                if !plain.contains(&s) {
                    plain.push(s);
                }
            }
            for id in keep {
                if !plan.hint.contains(&id) {
                    plan.hint.push(id);
                }
            }
            plan.scope = Some(if multi {
                scope::join(&plain, &plan.hint)
            } else {
                plain.join(" ")
            });
            tracing::info!(issuer = %plan.issuer, "signing in with the scope servers asked for");
        }
    }

    /// Carries the step-ups of the servers `grant` replaces over to it,
    /// settled against what it was granted.
    pub(super) fn carry_step_ups(&self, grant: &mut Grant) {
        let current = self.grants();
        for server in grant.servers.iter_mut() {
            let old = current
                .iter()
                .filter(|g| g.issuer == grant.issuer)
                .flat_map(|g| g.servers.iter())
                .find(|s| {
                    s.id == server.id || (s.resource.is_some() && s.resource == server.resource)
                })
                .and_then(|s| s.step_up.as_ref());
            server.step_up = old.map(|up| step_up::after_sign_in(up, &grant.scope));
        }
    }
}
