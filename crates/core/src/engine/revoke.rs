//! Removing access: one server at a time (a narrowing refresh, then RFC
//! 7009 revocation of the tokens it held), or a whole sign-in.

use super::Engine;
use crate::error::EngineError;
use crate::model::{GrantStatus, Mode};
use crate::scope;
use crate::store::StoreKey;
use crate::token::TokenEndpoint;

/// What revoking one server did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// The AS narrowed the grant: the server is out of it for good.
    Narrowed,
    /// It was the grant's last server: the whole grant was signed out.
    SignedOut,
    /// The AS kept the server in the grant; it is blocked here only.
    BlockedLocally {
        /// Why, in plain words.
        reason: String,
    },
}

impl Engine {
    /// Revokes one server: narrows the grant without it, revokes the access
    /// tokens it held, and removes it locally at once.
    ///
    /// A server already blocked here (an earlier revoke that could not reach
    /// the AS, or was cut short) can be revoked again to finish the job.
    pub async fn revoke_server(&self, server: &str) -> Result<RevokeOutcome, EngineError> {
        let (grant, entry) = self
            .resolve(server, true)
            .ok_or_else(|| EngineError::NotGranted(server.to_string()))?;
        let id = entry.id;
        let remaining: Vec<String> = grant
            .active_servers()
            .filter(|s| s.id != id)
            .map(|s| s.id.clone())
            .collect();
        if remaining.is_empty() {
            self.sign_out_grant(&grant.id).await?;
            return Ok(RevokeOutcome::SignedOut);
        }
        if let Some(enterprise) = self.enterprise_grant(&grant.id) {
            self.revoke_enterprise_server(&grant, &enterprise, &id)
                .await?;
            return Ok(RevokeOutcome::Narrowed);
        }
        let flight = self.tokens.flight(&grant.id);
        let _guard = flight.lock().await;
        let old_tokens = self.tokens.take(&grant.id, Some(&id));
        // Block first: whatever happens at the AS, this machine stops serving the server now.
        self.update_grant(&grant.id, |g| {
            if !g.is_blocked(&id) {
                g.blocked.push(id.clone());
            }
        })?;
        let outcome = if grant.mode == Mode::MultiServer
            && !matches!(grant.status, GrantStatus::SignInNeeded { .. })
        {
            let narrow = scope::join(&grant.scope, &remaining);
            match self.refresh_once(&grant, None, Some(&narrow)).await {
                Ok(tokens) => {
                    let still = tokens
                        .scope
                        .as_deref()
                        .map(scope::split)
                        .and_then(|(_, s)| s)
                        .is_none_or(|ids| ids.contains(&id));
                    let now = self.clock.now();
                    let expires_at = now
                        + chrono::Duration::from_std(
                            tokens
                                .expires_in
                                .unwrap_or(std::time::Duration::from_secs(300)),
                        )
                        .unwrap_or(chrono::Duration::minutes(5));
                    self.tokens
                        .put_shared(&grant.id, tokens.access_token, now, expires_at);
                    if still {
                        RevokeOutcome::BlockedLocally { reason: "the authorization server did not remove it from the grant; MCP Passport will not hand out its token".into() }
                    } else {
                        RevokeOutcome::Narrowed
                    }
                }
                Err(e) => RevokeOutcome::BlockedLocally {
                    reason: format!(
                        "the authorization server could not be asked to remove it ({e}); it stays blocked here"
                    ),
                },
            }
        } else {
            RevokeOutcome::BlockedLocally { reason: "this authorization server cannot narrow a grant; the server is blocked here and its tokens revoked".into() }
        };
        crate::fault::point("narrow-before-revocation");
        self.revoke_access_tokens(&grant, &old_tokens).await;
        crate::fault::point("narrow-before-state-write");
        if outcome == RevokeOutcome::Narrowed {
            self.update_grant(&grant.id, |g| {
                g.servers.retain(|s| s.id != id);
                g.blocked.retain(|b| b != &id);
            })?;
        }
        Ok(outcome)
    }

    async fn revoke_access_tokens(
        &self,
        grant: &crate::model::Grant,
        tokens: &[crate::secret::AccessToken],
    ) {
        let issuer = &grant.issuer;
        let (Ok(metadata), Some((client, secret))) =
            (self.metadata_for(issuer).await, self.client_of(grant))
        else {
            return;
        };
        let Ok(endpoint) = TokenEndpoint::new(&self.http, &metadata, &client, secret.as_ref())
        else {
            return;
        };
        for token in tokens {
            if let Err(e) = endpoint.revoke_access(token).await {
                tracing::warn!(%issuer, error = %e, "could not revoke an access token");
            }
        }
    }

    /// Signs out of `issuer`: revokes each grant's refresh token at the AS,
    /// deletes it from the store, and forgets the grant. Returns how many.
    pub async fn sign_out(&self, issuer: &str) -> Result<usize, EngineError> {
        let ids: Vec<String> = self
            .grants()
            .into_iter()
            .filter(|g| g.issuer == issuer)
            .map(|g| g.id)
            .collect();
        for id in &ids {
            self.sign_out_grant(id).await?;
        }
        Ok(ids.len())
    }

    pub(super) async fn sign_out_grant(&self, id: &str) -> Result<(), EngineError> {
        let Some(grant) = self.grants().into_iter().find(|g| g.id == id) else {
            return Ok(());
        };
        self.forget_grant(&grant).await;
        if self
            .store
            .get(&StoreKey::RefreshToken {
                grant_id: grant.id.clone(),
            })?
            .is_some()
        {
            return Err(EngineError::Store(crate::store::StoreError::Failed(
                "the refresh token could not be deleted".into(),
            )));
        }
        self.update(|s| s.grants.retain(|g| g.id != id))?;
        Ok(())
    }
}
