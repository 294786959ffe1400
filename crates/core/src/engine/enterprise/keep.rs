//! Keeping a new enterprise grant: its secrets in the store, the grant and
//! its entry in the state file, the ID token and access tokens in memory.

use super::server_token::lifetime;
use super::{EnterpriseGrant, EnterpriseLogin, EnterpriseServer};
use crate::discovery::ServerDiscovery;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::id_jag::{IdToken, IdpMetadata};
use crate::model::{Grant, GrantStatus, GrantedServer, Mode, TokenKind};
use crate::pkce;
use crate::secret::RefreshToken;
use crate::store::StoreKey;
use crate::token::Tokens;

impl Engine {
    /// Keeps the new grant: the IdP refresh token and the AS client secret
    /// to the store first, then the grant and its entry to the state file
    /// (replacing this account's earlier grant at the same IdP), then the
    /// ID token and the access tokens to memory.
    pub(super) async fn keep_enterprise(
        &self,
        login: &EnterpriseLogin,
        idp: &IdpMetadata,
        id_token: &IdToken,
        idp_refresh: Option<RefreshToken>,
        got: Vec<(&ServerDiscovery, Option<String>, String, Tokens)>,
    ) -> Result<Grant, EngineError> {
        let now = self.clock.now();
        let id = pkce::new_state();
        let chosen = login.account.is_some();
        let label = login
            .account
            .clone()
            .or_else(|| crate::account::label_from_token(id_token.expose()));
        if let Some(rt) = &idp_refresh {
            self.store.put(
                &StoreKey::IdpRefreshToken {
                    grant_id: id.clone(),
                },
                rt.expose(),
            )?;
        }
        if let Some(secret) = &login.secret {
            self.store.put(
                &StoreKey::EnterpriseSecret {
                    grant_id: id.clone(),
                },
                secret.expose(),
            )?;
        }
        let mut servers = Vec::new();
        let mut targets = Vec::new();
        let mut cached = Vec::new();
        let mut bound = false;
        for (d, scope, client_id, tokens) in got {
            let expires_at = now + lifetime(&tokens);
            bound |= tokens.dpop_bound;
            servers.push(GrantedServer {
                id: d.server_url.clone(),
                name: display_name(d),
                resource: Some(d.server_url.clone()),
                resource_indicator: (d.resource.resource != d.server_url)
                    .then(|| d.resource.resource.clone()),
                token_kind: TokenKind::Own,
                expires_at: Some(expires_at),
                step_up: None,
            });
            targets.push(EnterpriseServer {
                server: d.server_url.clone(),
                issuer: d.issuer.clone(),
                client_id,
                scope,
            });
            cached.push((d.server_url.clone(), tokens.access_token, expires_at));
        }
        let grant = Grant {
            id: id.clone(),
            issuer: idp.issuer.clone(),
            account: label,
            mode: Mode::Enterprise,
            client_id: login.idp_client_id.clone(),
            scope: Vec::new(),
            servers,
            blocked: Vec::new(),
            created_at: now,
            refreshed_at: Some(now),
            status: GrantStatus::Active,
            dpop_bound: bound,
        };
        let entry = EnterpriseGrant {
            grant_id: id.clone(),
            idp: idp.issuer.clone(),
            idp_client_id: login.idp_client_id.clone(),
            id_token_file: login
                .id_token_file
                .as_ref()
                .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone())),
            servers: targets,
        };
        let supersedes = |g: &Grant| {
            g.mode == Mode::Enterprise
                && g.issuer == grant.issuer
                && crate::account::same_account(g, grant.account_label(), chosen)
        };
        let replaced = self.update(|s| {
            let old: Vec<Grant> = s.grants.iter().filter(|g| supersedes(g)).cloned().collect();
            s.grants.retain(|g| !supersedes(g));
            s.grants.push(grant.clone());
            s.enterprise.push(entry);
            old
        })?;
        for old in replaced {
            self.forget_grant(&old).await;
        }
        self.remember_id_token(&id, id_token);
        for (server, token, expires_at) in cached {
            self.tokens.put(&id, &server, token, now, expires_at);
        }
        Ok(grant)
    }
}

fn display_name(d: &ServerDiscovery) -> String {
    d.resource.resource_name.clone().unwrap_or_else(|| {
        url::Url::parse(&d.server_url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}{}", u.path())))
            .unwrap_or_else(|| d.server_url.clone())
    })
}
