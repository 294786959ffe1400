//! Step-up on an enterprise grant: when a server refused its token with 403
//! `insufficient_scope` (recorded by `record_insufficient_scope`), the wider
//! access is asked of the organization, not of a person: a new ID-JAG with
//! the union of the scope held and the one asked for, then a new JWT bearer
//! grant at the server's AS. No browser sign-in at the IdP. On success the
//! server keeps the wider scope for its renewals; when the IdP or the AS
//! refuses, the old scope stays and the step-up counts the attempt (the
//! same retry limit as any step-up).

use crate::engine::Engine;
use crate::error::EngineError;
use crate::scope;
use crate::step_up;

impl Engine {
    /// Whether `server` (id or URL) belongs to an enterprise grant.
    pub fn is_enterprise_server(&self, server: &str) -> bool {
        self.grant_for(server)
            .is_some_and(|g| self.enterprise_grant(&g.id).is_some())
    }

    /// Gets `server`'s open step-up from the organization. `Ok(true)` when a
    /// token with the wider scope was got (the next call uses it);
    /// `Ok(false)` when the server is not of an enterprise grant or has no
    /// open step-up. A refusal by the IdP or the AS is the error.
    pub async fn enterprise_step_up(&self, server: &str) -> Result<bool, EngineError> {
        let Some(grant) = self.grant_for(server) else {
            return Ok(false);
        };
        let Some(mut entry) = self.enterprise_grant(&grant.id) else {
            return Ok(false);
        };
        let Some(granted) = grant.server(server).cloned() else {
            return Ok(false);
        };
        let Some(up) = granted.step_up.clone().filter(step_up::StepUp::open) else {
            return Ok(false);
        };
        let Some(target) = entry.servers.iter_mut().find(|t| t.server == granted.id) else {
            return Ok(false);
        };
        let held = target.scope.clone();
        let wider = scope::union([held.as_deref(), Some(up.scope.join(" ").as_str())]);
        target.scope.clone_from(&wider);
        tracing::info!(server = %granted.id, scope = %up.missing_text(), "asking the organization for more access");
        let asked = self
            .enterprise_refresh(&grant, &entry, &granted.id, granted.resource.as_deref())
            .await;
        let now_held = if asked.is_ok() { &wider } else { &held };
        let now_plain = now_held
            .as_deref()
            .map(|s| scope::split(s).0)
            .unwrap_or_default();
        let settled = step_up::after_sign_in(&up, &now_plain);
        if asked.is_ok() {
            self.update(|s| {
                if let Some(t) = s
                    .enterprise
                    .iter_mut()
                    .filter(|e| e.grant_id == grant.id)
                    .flat_map(|e| e.servers.iter_mut())
                    .find(|t| t.server == granted.id)
                {
                    t.scope.clone_from(&wider);
                }
            })?;
        }
        self.update_grant(&grant.id, |g| {
            if let Some(s) = g.servers.iter_mut().find(|s| s.id == granted.id) {
                s.step_up = Some(settled);
            }
        })?;
        asked.map(|_| true)
    }
}
