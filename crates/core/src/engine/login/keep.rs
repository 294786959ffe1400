//! Keeping what a sign-in returned: the refresh token to the store first,
//! then the grant to the state file in the place of the grants it
//! supersedes, then the access token to memory; and forgetting a grant
//! that was superseded or signed out.

use super::LoginRequest;
use crate::engine::Engine;
use crate::engine::plan::Plan;
use crate::error::EngineError;
use crate::model::{Grant, GrantStatus, GrantedServer, Mode, TokenKind};
use crate::secret::RefreshToken;
use crate::store::StoreKey;
use crate::token::TokenEndpoint;
use crate::{pkce, scope};

impl Engine {
    /// Keeps what a sign-in's token request returned, whichever grant it
    /// came by: the refresh token to the store first, then the grant.
    pub(in crate::engine) async fn keep(
        &self,
        plan: &Plan,
        request: &LoginRequest,
        client: &crate::model::ClientRecord,
        tokens: crate::token::Tokens,
    ) -> Result<Grant, EngineError> {
        if tokens.refresh_token.is_none() {
            tracing::warn!(issuer = %plan.issuer, "no refresh token issued; the grant lasts until its access token expires");
        }
        self.keep_renewable(plan, request, client, tokens).await
    }

    /// [`Self::keep`] without the warning about a missing refresh token:
    /// for a grant renewed by asking again (a machine grant), none is due.
    pub(in crate::engine) async fn keep_renewable(
        &self,
        plan: &Plan,
        request: &LoginRequest,
        client: &crate::model::ClientRecord,
        tokens: crate::token::Tokens,
    ) -> Result<Grant, EngineError> {
        crate::fault::point("login-after-code-exchange");
        let refresh = tokens.refresh_token.clone();
        let now = self.clock.now();
        let (plain, granted_ids) = tokens
            .scope
            .as_deref()
            .map(scope::split)
            .unwrap_or_default();
        let servers = self.granted_servers(plan, granted_ids);
        let grant = Grant {
            id: pkce::new_state(),
            issuer: plan.issuer.clone(),
            account: Some(crate::engine::accounts::label_for(request, &tokens)),
            mode: plan.mode,
            client_id: client.client_id.clone(),
            scope: if plain.is_empty() {
                plan.scope
                    .as_deref()
                    .map(|s| scope::split(s).0)
                    .unwrap_or_default()
            } else {
                plain
            },
            servers,
            blocked: Vec::new(),
            created_at: now,
            refreshed_at: Some(now),
            status: GrantStatus::Active,
            dpop_bound: tokens.dpop_bound,
        };
        if let Some(refresh) = &refresh {
            self.store.put(
                &StoreKey::RefreshToken {
                    grant_id: grant.id.clone(),
                },
                refresh.expose(),
            )?;
        }
        let expires_at = now
            + chrono::Duration::from_std(
                tokens
                    .expires_in
                    .unwrap_or(std::time::Duration::from_secs(300)),
            )
            .unwrap_or(chrono::Duration::minutes(5));
        let mut grant = grant;
        match plan.mode {
            Mode::MultiServer => {
                self.tokens
                    .put_shared(&grant.id, tokens.access_token, now, expires_at)
            }
            // The code's token is the first server's own (the one named).
            Mode::PerServer | Mode::MultiResource | Mode::Enterprise => {
                if let Some(s) = grant.servers.first_mut() {
                    s.token_kind = TokenKind::Own;
                    s.expires_at = Some(expires_at);
                    self.tokens
                        .put(&grant.id, &s.id, tokens.access_token, now, expires_at);
                }
            }
        }
        if plan.mode == Mode::MultiServer {
            for s in grant.servers.iter_mut() {
                s.expires_at = Some(expires_at);
            }
        }
        self.carry_step_ups(&mut grant);
        let replaced = self.replace_grants(&grant, request.account.is_some())?;
        for old in replaced {
            self.forget_grant(&old).await;
        }
        Ok(grant)
    }

    fn granted_servers(&self, plan: &Plan, granted: Option<Vec<String>>) -> Vec<GrantedServer> {
        let entry = |id: String, name: String, resource: Option<String>| GrantedServer {
            id,
            name,
            resource,
            resource_indicator: None,
            token_kind: TokenKind::Unknown,
            expires_at: None,
            step_up: None,
        };
        match plan.mode {
            Mode::MultiServer => granted
                .unwrap_or_else(|| plan.hint.clone())
                .into_iter()
                .map(|id| match plan.catalog.iter().find(|c| c.id == id) {
                    Some(c) => entry(id, c.name.clone(), Some(c.resource.clone())),
                    None => entry(id.clone(), id, None),
                })
                .collect(),
            _ => plan
                .urls
                .iter()
                .zip(&plan.resources)
                .zip(&plan.names)
                .map(|((url, indicator), name)| GrantedServer {
                    resource_indicator: (indicator != url).then(|| indicator.clone()),
                    ..entry(url.clone(), name.clone(), Some(url.clone()))
                })
                .collect(),
        }
    }

    /// Stores `grant`, removing the grants of the same account it
    /// supersedes (in the first one's place); returns those.
    fn replace_grants(&self, grant: &Grant, chosen: bool) -> Result<Vec<Grant>, EngineError> {
        let urls: Vec<&str> = grant
            .servers
            .iter()
            .filter_map(|s| s.resource.as_deref())
            .collect();
        let supersedes = |g: &Grant| {
            g.issuer == grant.issuer
                && crate::account::same_account(g, grant.account_label(), chosen)
                && (grant.mode == Mode::MultiServer && g.mode == Mode::MultiServer
                    || g.servers
                        .iter()
                        .any(|x| x.resource.as_deref().is_some_and(|r| urls.contains(&r))))
        };
        self.update(|s| {
            let at = s.grants.iter().position(supersedes);
            let (old, keep): (Vec<Grant>, Vec<Grant>) = s.grants.drain(..).partition(supersedes);
            s.grants = keep;
            let at = at.unwrap_or(s.grants.len()).min(s.grants.len());
            s.grants.insert(at, grant.clone());
            // Registrations no grant uses any more go, except the one just used.
            let grants = &s.grants;
            s.clients.retain(|c| {
                c.issuer != grant.issuer
                    || c.client_id == grant.client_id
                    || grants
                        .iter()
                        .any(|g| g.issuer == c.issuer && g.client_id == c.client_id)
            });
            old
        })
    }

    /// Revokes a superseded or signed-out grant's refresh token at the AS
    /// (best effort) and deletes it from the store and the caches.
    pub(in crate::engine) async fn forget_grant(&self, grant: &Grant) {
        let key = StoreKey::RefreshToken {
            grant_id: grant.id.clone(),
        };
        let stored = self.store.get(&key).ok().flatten();
        if let (Some(rt), Ok(metadata), Some((client, secret))) = (
            stored,
            self.metadata_for(&grant.issuer).await,
            self.client_of(grant),
        ) && let Ok(endpoint) =
            TokenEndpoint::new(&self.http, &metadata, &client, secret.as_ref())
            && let Err(e) = endpoint.revoke_refresh(&RefreshToken::new(rt)).await
        {
            tracing::warn!(issuer = %grant.issuer, error = %e, "could not revoke a refresh token at the authorization server");
        }
        if let Err(e) = self.store.delete(&key) {
            tracing::warn!(error = %e, "could not delete a refresh token from the keyring");
        }
        self.forget_enterprise(grant).await;
        self.tokens.take(&grant.id, None);
        self.forget_machine(&grant.id);
    }
}
