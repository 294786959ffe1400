//! The multi-resource grant (RFC 8707) after its code exchange.
//!
//! Why: one authorization request names every server, but one `resource`
//! per token request is what every RFC 8707 AS accepts (a stock
//! oidc-provider refuses a code exchange that names several, and one that
//! names none once several were granted; the MCP specification requires
//! `resource` in token requests). So the code exchange names the first
//! server and each other server's own token comes by refresh with its
//! `resource=`, here, before the sign-in reports success. A server whose
//! resource the AS still refuses leaves the grant and gets a sign-in of
//! its own.

use super::Engine;
use super::plan::Plan;
use crate::error::EngineError;
use crate::model::{Grant, Mode};
use crate::token::TokenError;

/// Whether the AS refused a `resource` indicator (`invalid_target`).
pub(super) fn refused_resource(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Token(TokenError::Refused {
            what: "resource",
            ..
        })
    ) || matches!(e, EngineError::Denied { error, description }
        if crate::providers::refuses_resource(error, description))
}

impl Engine {
    /// Fetches every server's own token after a multi-resource sign-in
    /// (the first one came with the code). Returns the grant as stored and
    /// the positions in `plan` of the servers the AS refused, which have
    /// left the grant. Other failures are logged and left to the next
    /// request for that server, as for any refresh.
    pub(super) async fn complete_multi_resource(
        &self,
        plan: &Plan,
        grant: Grant,
    ) -> Result<(Grant, Vec<usize>), EngineError> {
        let mut refused = Vec::new();
        for server in grant.servers.iter().skip(1) {
            match self.token(&server.id).await {
                Ok(_) => {}
                Err(e) if refused_resource(&e) => {
                    tracing::info!(issuer = %grant.issuer, "the authorization server refused a server's resource on refresh; signing in to it alone");
                    let id = server.id.clone();
                    self.update_grant(&grant.id, |g| g.servers.retain(|s| s.id != id))?;
                    if let Some(index) = plan.urls.iter().position(|u| *u == id) {
                        refused.push(index);
                    }
                }
                Err(e) => {
                    tracing::warn!(issuer = %grant.issuer, error = %e, "a server's token could not be fetched after sign-in; it will be asked for again on use");
                }
            }
        }
        let stored = self
            .grants()
            .into_iter()
            .find(|g| g.id == grant.id)
            .unwrap_or(grant);
        Ok((stored, refused))
    }
}

/// The per-server plan for the server at `index` of a multi-resource plan.
pub(super) fn per_server(plan: &Plan, index: usize) -> Option<Plan> {
    Some(Plan {
        mode: Mode::PerServer,
        resources: vec![plan.resources.get(index)?.clone()],
        urls: vec![plan.urls.get(index)?.clone()],
        names: vec![plan.names.get(index)?.clone()],
        ..plan.clone()
    })
}
